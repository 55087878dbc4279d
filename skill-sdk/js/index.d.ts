// TypeScript types for the JavaScript skill SDK (skill-sdk/js). `skill-run
// build` copies this folder next to app.js as ./skill-sdk/, so a skill
// imports `./skill-sdk/fs.js` and `./skill-sdk/channels.js`.

declare module './skill-sdk/fs.js' {
  /** An error from the filesystem; `code` is the wasi:filesystem error-code ("access", "read-only", "no-entry", ...). */
  export class FsError extends Error {
    readonly code: string;
    readonly path: string;
  }
  export function readBytes(path: string): Uint8Array;
  export function readText(path: string): string;
  export function writeText(path: string, text: string | Uint8Array): void;
  export function listDir(path: string): string[];
}

declare module './skill-sdk/channels.js' {
  /** kind: "denied" (not granted in this direction), "too-large" or "failed". */
  export class ChannelError extends Error {
    readonly kind: 'denied' | 'too-large' | 'failed';
    readonly detail: string | bigint;
  }
  export function send(channel: string, message: string): void;
  export function receive(channel: string): string | undefined;
}

declare module 'skills:runtime/channels@0.1.0' {
  /** Throws { payload: { tag: "denied" | "too-large" | "failed", val } } when refused. */
  export function send(channel: string, message: string): void;
  export function receive(channel: string): string | undefined;
}
