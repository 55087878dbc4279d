// Files in granted folders, for JavaScript skills (ComponentizeJS has no
// `fs` module). Paths are the guest paths of skill.toml's `files` grants,
// e.g. readText("/notes/todo.md"). Anything outside every grant, `..` out
// of one, or a write to a read-only grant throws FsError (code "access",
// "not-permitted", "read-only", "no-entry", ...) and is audited by the host.
// The skill's world must import wasi:filesystem/preopens@0.2.12 and
// wasi:filesystem/types@0.2.12.
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

/** An error from the filesystem; `code` is the wasi:filesystem error-code. */
export class FsError extends Error {
  constructor(code, path) {
    super(`${path}: ${code}`);
    this.name = 'FsError';
    this.code = code;
    this.path = path;
  }
}

const CHUNK = 65536n;

function wrap(path, f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof FsError) throw e;
    const code = e && e.payload !== undefined ? String(e.payload) : String(e);
    throw new FsError(code, path);
  }
}

/** The granted folder holding `path` and the path inside it. */
function locate(path) {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new FsError('invalid', String(path));
  }
  let best = null;
  for (const [dir, guest] of getDirectories()) {
    const base = guest.endsWith('/') ? guest : guest + '/';
    if ((path === guest || path.startsWith(base)) && (!best || guest.length > best[1].length)) {
      best = [dir, guest];
    }
  }
  if (!best) throw new FsError('access', path);
  const rest = path.slice(best[1].length).replace(/^\/+/, '');
  return [best[0], rest === '' ? '.' : rest];
}

/** The bytes of the file at `path`. */
export function readBytes(path) {
  return wrap(path, () => {
    const [dir, rel] = locate(path);
    const file = dir.openAt({}, rel, {}, { read: true });
    const parts = [];
    let offset = 0n;
    for (;;) {
      const [chunk, end] = file.read(CHUNK, offset);
      parts.push(chunk);
      offset += BigInt(chunk.length);
      if (end || chunk.length === 0) break;
    }
    const out = new Uint8Array(Number(offset));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  });
}

/** The file at `path` as UTF-8 text. */
export function readText(path) {
  return new TextDecoder().decode(readBytes(path));
}

/** Replaces (or creates) the file at `path` with `text` (a string or bytes). */
export function writeText(path, text) {
  wrap(path, () => {
    const [dir, rel] = locate(path);
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    const file = dir.openAt({}, rel, { create: true, truncate: true }, { write: true });
    let offset = 0n;
    while (offset < BigInt(bytes.length)) {
      const n = file.write(bytes.subarray(Number(offset)), offset);
      offset += n;
    }
  });
}

/** The names in the folder at `path`, sorted. */
export function listDir(path) {
  return wrap(path, () => {
    const [dir, rel] = locate(path);
    const folder = rel === '.' ? dir : dir.openAt({}, rel, { directory: true }, { read: true });
    const stream = folder.readDirectory();
    const names = [];
    for (;;) {
      const entry = stream.readDirectoryEntry();
      if (!entry) break;
      names.push(entry.name);
    }
    return names.sort();
  });
}
