// The `digest` skill (JavaScript, ComponentizeJS): reads the notes in the
// read-only /notes grant, writes /out/digest.md in the read-write /out
// grant, and sends one line on the `digest` channel.
import { readText, writeText, listDir, FsError } from './skill-sdk/fs.js';
import { send } from './skill-sdk/channels.js';

const NOTES = '/notes';
const DIGEST = '/out/digest.md';

function titleOf(text, file) {
  const heading = text.split('\n').find((l) => l.startsWith('# '));
  return heading ? heading.slice(2).trim() : file.replace(/\.(md|txt)$/, '');
}

export function summarize() {
  let files;
  try {
    files = listDir(NOTES).filter((f) => f.endsWith('.md') || f.endsWith('.txt'));
  } catch (e) {
    throw `cannot list ${NOTES}: ${e.message}`;
  }
  const notes = files.map((file) => {
    const text = readText(`${NOTES}/${file}`);
    const words = text.split(/\s+/).filter((w) => w.length > 0).length;
    return { file, title: titleOf(text, file), words };
  });
  const totalWords = notes.reduce((n, note) => n + note.words, 0);
  const lines = ['# Digest', '', ...notes.map((n) => `- ${n.title} (${n.file}, ${n.words} words)`), ''];
  try {
    writeText(DIGEST, lines.join('\n'));
  } catch (e) {
    throw `cannot write ${DIGEST}: ${e instanceof FsError ? e.code : e}`;
  }
  send('digest', `digest ready: ${notes.length} notes, ${totalWords} words`);
  return { notes, totalWords, writtenTo: DIGEST };
}

export function latest() {
  try {
    return readText(DIGEST);
  } catch (e) {
    if (e instanceof FsError && e.code === 'no-entry') return undefined;
    throw e;
  }
}
