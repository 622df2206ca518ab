/**
 * Files to lines, streamed: plain or gzip (recognised by its magic bytes, not its name), in
 * batches, as text (one string split per batch) or as bytes with where each line ends (for readers
 * that tokenize without a string per line). Memory is bounded by one chunk.
 *
 * Streams (`-` for standard input, a FIFO, `<(zcat x.gz)`) are read once, from their first bytes
 * on, never seeked: what is read is copied to a scratch file as it goes, so that a second reader
 * (the sniffer's head, the clock alignment's first pass, the evidence lines) reads the copy and
 * then goes on with the live stream where the first one stopped.
 */
import { constants as fsc, createReadStream, openSync, readSync, writeSync, type ReadStream } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';
import { scratchFile } from '../io/temp-files.ts';
import { InputError } from './errors.ts';

export interface LineBatch {
  lines: string[];
  /** 1-based number of lines[0] */
  first: number;
  /** true when the batch's last line ended the file without a newline (it may have been cut) */
  unterminated: boolean;
}

/** Bytes read at a time: a read ahead of the tokenizer, so that it seldom waits for the file. */
const CHUNK = 1 << 20;
/** Bytes of lines handed on at a time. A run's lines become one batch that travels through the whole
 *  pipeline: at 128 KiB its events die young (a batch fits V8's young generation); at 1 MiB they
 *  outlived a scavenge and were copied (~200 ms more GC on the 1 M-line bench log). */
const RUN = 1 << 17;

/** The name standard input goes by among the inputs. */
export const STDIN = '-';

/** A stream being read: the copy of what was read so far, and the live rest. */
interface Spool {
  path: string;
  fd: number;
  size: number;
  rest: AsyncIterator<Buffer>;
  ended: boolean;
}

const spools = new Map<string, Spool>();

/** True for standard input, FIFOs, sockets and character devices: inputs that cannot be seeked. */
export async function isStream(file: string): Promise<boolean> {
  if (file === STDIN || spools.has(file)) return true;
  try {
    const st = await stat(file);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false;
  }
}

function spoolOf(file: string): Spool {
  let s = spools.get(file);
  if (!s) {
    const source = file === STDIN ? process.stdin : createReadStream(file, { highWaterMark: CHUNK });
    const path = scratchFile('stream');
    s = { path, fd: openSync(path, 'w+'), size: 0, rest: (source as AsyncIterable<Buffer>)[Symbol.asyncIterator](), ended: false };
    spools.set(file, s);
  }
  return s;
}

/** The bytes of a stream from its start: the copy first, then the live stream (copied as it goes). */
async function* streamChunks(file: string): AsyncGenerator<Buffer> {
  const s = spoolOf(file);
  let pos = 0;
  for (;;) {
    if (pos < s.size) {
      const b = Buffer.allocUnsafe(Math.min(CHUNK, s.size - pos));
      const n = readSync(s.fd, b, 0, b.length, pos);
      pos += n;
      yield b.subarray(0, n);
      continue;
    }
    if (s.ended) return;
    let r;
    try {
      r = await s.rest.next();
    } catch (e) {
      s.ended = true;
      throw e;
    }
    if (r.done) {
      s.ended = true;
      return;
    }
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    writeSync(s.fd, chunk, 0, chunk.length, s.size);
    s.size += chunk.length;
    pos = s.size;
    yield chunk;
  }
}

/** The bytes of a file or a stream, from the start. */
export async function byteStream(file: string): Promise<Readable> {
  return (await isStream(file)) ? Readable.from(streamChunks(file)) : createReadStream(file, { highWaterMark: CHUNK });
}

export async function assertReadableFile(file: string): Promise<number> {
  if (file === STDIN) return -1;
  let st;
  try {
    st = await stat(file);
    await access(file, fsc.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code}): avpscope may not read it` : `cannot read (${code ?? String(e)})`;
    throw new InputError(why, file);
  }
  if (st.isDirectory()) throw new InputError('is a directory, not a trace file', file);
  if (!st.isFile()) return -1;
  if (st.size === 0) throw new InputError('empty file: no trace in it', file);
  return st.size;
}

function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

async function readRaw(file: string, bytes: number): Promise<Buffer> {
  if ((await assertReadableFile(file)) < 0) {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of streamChunks(file)) {
      parts.push(c);
      n += c.length;
      if (n >= bytes) break;
    }
    if (n === 0) throw new InputError('empty: nothing came from this stream', file);
    return Buffer.concat(parts).subarray(0, bytes);
  }
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

/**
 * Lines of a file as bytes: each batch is whole lines (a chunk up to its last newline) and where each
 * one ends, so that a reader can tokenize them without a string per line. `ends` is reused: a batch
 * is valid until the next one is asked for.
 */
export interface ByteLineBatch {
  bytes: Buffer;
  /** line i is bytes[i === 0 ? 0 : ends[i - 1] + 1, ends[i]) (its newline excluded, a CR before it kept) */
  ends: Int32Array;
  /** number of lines in the batch */
  count: number;
  /** 1-based number of the first line */
  first: number;
  /** true when the batch's last line ended the file without a newline (it may have been cut) */
  unterminated: boolean;
}

/** Text lines of a file, plain or gzip, in batches. Errors name the file and the last good line. */
export async function* readLines(file: string): AsyncGenerator<LineBatch> {
  const at = { line: 1 };
  for await (const c of lineChunks(file, at)) {
    // whole lines are whole UTF-8 characters: one decode and one split a chunk
    const lines = c.bytes.toString('utf8').split('\n');
    stripCR(lines);
    yield { lines, first: at.line, unterminated: c.unterminated };
    at.line += lines.length;
  }
}

/** Lines of a file, plain or gzip, as bytes in batches. Errors name the file and the last good line. */
export async function* readByteLines(file: string): AsyncGenerator<ByteLineBatch> {
  const at = { line: 1 };
  let ends: Int32Array = new Int32Array(1 << 14);
  for await (const { bytes, unterminated } of lineChunks(file, at)) {
    let count = 0;
    for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) {
      if (count + 1 >= ends.length) ends = grow(ends);
      ends[count++] = i;
    }
    ends[count++] = bytes.length;
    yield { bytes, ends, count, first: at.line, unterminated };
    at.line += count;
  }
}

/**
 * A file's bytes in runs of whole lines, the newline after the last one left out (`unterminated`:
 * the file's last line, which had none). The reader counts the lines (`at.line`: the first line of
 * the next run) so that an error can name the last good one.
 */
async function* lineChunks(file: string, at: { line: number }): AsyncGenerator<{ bytes: Buffer; unterminated: boolean }> {
  const head = await readRaw(file, 2);
  const fileStream = await byteStream(file);
  const stream = isGzip(head) ? fileStream.pipe(createGunzip({ chunkSize: CHUNK })) : fileStream;
  if (stream !== fileStream) fileStream.on('error', (e) => stream.destroy(e));
  let carry: Buffer | undefined;
  let seen = 0;
  try {
    for await (const raw of stream as AsyncIterable<Buffer>) {
      // a file's stream counts what it read (compressed bytes for gzip); a pipe's total is unknown anyway
      const read = (fileStream as Partial<ReadStream>).bytesRead ?? seen;
      bytesRead.n += read - seen;
      seen = read;
      let chunk = raw;
      if (carry) {
        // the line cut by the chunk's start is a run of its own: no copy of the whole chunk
        const nl = raw.indexOf(10);
        if (nl < 0) {
          carry = Buffer.concat([carry, raw]);
          continue;
        }
        const line = Buffer.concat([carry, raw.subarray(0, nl)]);
        carry = undefined;
        yield { bytes: line, unterminated: false };
        chunk = raw.subarray(nl + 1);
      }
      const end = chunk.lastIndexOf(10);
      if (end < 0) {
        if (chunk.length > 0) carry = chunk;
        continue;
      }
      carry = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
      for (let from = 0; from <= end; ) {
        // a run of about RUN bytes, cut after a line (a line longer than that: after it)
        let to = end;
        if (from + RUN < end) {
          to = chunk.lastIndexOf(10, from + RUN);
          if (to < from) to = chunk.indexOf(10, from + RUN);
        }
        yield { bytes: chunk.subarray(from, to), unterminated: false };
        from = to + 1;
      }
    }
  } catch (e) {
    const msg = (e as Error).message;
    const what = isGzip(head) ? `corrupt or truncated gzip data (${msg})` : `read error (${msg})`;
    throw new InputError(`${what} after line ${at.line - 1}`, file, at.line, { cause: e });
  }
  if (carry && carry.length > 0) yield { bytes: carry, unterminated: true };
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function stripCR(lines: string[]): void {
  if (!lines.some((l) => l.endsWith('\r'))) return;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
}
