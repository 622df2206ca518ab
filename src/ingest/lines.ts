/**
 * Files to text lines, streamed: plain or gzip (recognised by its magic bytes, not its name),
 * in batches so that the per-line cost stays a string split. Memory is bounded by one chunk.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';
import { InputError } from './errors.ts';

export interface LineBatch {
  lines: string[];
  /** 1-based number of lines[0] */
  first: number;
  /** true when the batch's last line ended the file without a newline (it may have been cut) */
  unterminated: boolean;
}

const CHUNK = 1 << 20;

export async function assertReadableFile(file: string): Promise<number> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(e)})`, file);
  }
  if (st.isDirectory()) throw new InputError('is a directory, not a trace file', file);
  if (st.size === 0) throw new InputError('empty file: no trace in it', file);
  return st.size;
}

function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

async function readRaw(file: string, bytes: number): Promise<Buffer> {
  await assertReadableFile(file);
  const fh = await open(file, 'r');
  try {
    const raw = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(raw, 0, raw.length, 0);
    return raw.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The first bytes of a file, decompressed if it is gzip: what sniffers look at. */
export async function readHead(file: string, bytes = 4096): Promise<Buffer> {
  const head = await readRaw(file, 64 * 1024);
    if (!isGzip(head)) return head.subarray(0, bytes);
  try {
    // a partial gzip member: ask zlib for what it can give without requiring the end
    return gunzipSync(head, { finishFlush: zc.Z_SYNC_FLUSH }).subarray(0, bytes);
  } catch (e) {
    throw new InputError(`corrupt gzip data at its start (${(e as Error).message})`, file);
  }
}

/** Bytes read from disk by readLines, all files together since the process started: a progress display's measure. */
export const bytesRead = { n: 0 };

/** Text lines of a file, plain or gzip, in batches. Errors name the file and the last good line. */
export async function* readLines(file: string): AsyncGenerator<LineBatch> {
  const head = await readRaw(file, 2);
  const fileStream = createReadStream(file, { highWaterMark: CHUNK });
  const stream = isGzip(head) ? fileStream.pipe(createGunzip({ chunkSize: CHUNK })) : fileStream;
  if (stream !== fileStream) fileStream.on('error', (e) => stream.destroy(e));
  // decode up to the last newline of each chunk: whole lines are whole UTF-8 characters
  let carry: Buffer | undefined;
  let next = 1;
  let seen = 0;
  try {
    for await (const raw of stream as AsyncIterable<Buffer>) {
      bytesRead.n += fileStream.bytesRead - seen;
      seen = fileStream.bytesRead;
      const chunk = carry ? Buffer.concat([carry, raw]) : raw;
      const end = chunk.lastIndexOf(10);
      if (end < 0) {
        carry = chunk;
        continue;
      }
      carry = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
      const lines = chunk.toString('utf8', 0, end).split('\n');
      stripCR(lines);
      yield { lines, first: next, unterminated: false };
      next += lines.length;
    }
  } catch (e) {
    const msg = (e as Error).message;
    const what = isGzip(head) ? `corrupt or truncated gzip data (${msg})` : `read error (${msg})`;
    throw new InputError(`${what} after line ${next - 1}`, file, next, { cause: e });
  }
  if (carry && carry.length > 0) {
    const lines = [carry.toString('utf8')];
    stripCR(lines);
    yield { lines, first: next, unterminated: true };
  }
}

function stripCR(lines: string[]): void {
  if (!lines.some((l) => l.endsWith('\r'))) return;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
}
