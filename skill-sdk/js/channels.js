// Named message channels to and from the host. Only channels declared in
// skill.toml under [capabilities].channels work, in their declared
// direction; anything else throws ChannelError (kind "denied") and is
// audited. The skill's world must import skills:runtime/channels@0.1.0.
import { send as rawSend, receive as rawReceive } from 'skills:runtime/channels@0.1.0';

/** A refused or failed channel call: kind is "denied", "too-large" or "failed". */
export class ChannelError extends Error {
  constructor(payload) {
    const kind = payload && payload.tag ? payload.tag : 'failed';
    const detail = payload && 'val' in payload ? payload.val : payload;
    super(`channel ${kind}: ${detail}`);
    this.name = 'ChannelError';
    this.kind = kind;
    this.detail = detail;
  }
}

function call(f) {
  try {
    return f();
  } catch (e) {
    throw new ChannelError(e && e.payload !== undefined ? e.payload : String(e));
  }
}

/** Sends `message` on `channel` (declared with direction "send" or "both"). */
export function send(channel, message) {
  call(() => rawSend(channel, message));
}

/** The next message waiting on `channel`, or undefined when none is waiting. */
export function receive(channel) {
  return call(() => rawReceive(channel));
}
