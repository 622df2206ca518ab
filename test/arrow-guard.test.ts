/**
 * A damaged Arrow IPC file is refused (exit 2, the file and the message named) before apache-arrow
 * decodes what its metadata claims: a real converted trace, corrupted where the fuzz campaign found
 * heap exhaustion (vector lengths, body length, metadata length), cut short, and bit-flipped at random.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { Footer } from 'apache-arrow/fb/footer';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { ByteBuffer } from 'flatbuffers';
import { convert } from '../src/api/convert.ts';
import { arrowAdapter } from '../src/ingest/arrow/index.ts';
import { InputError } from '../src/ingest/errors.ts';
import { Stats } from '../src/ingest/stats.ts';
import type { Event } from '../src/model/events.ts';
import { MICROVM_MODERN, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');

/** The command line on `file`: exit code and what it printed. */
function ingestCli(file: string, input?: Buffer) {
  const r = spawnSync(process.execPath, [BIN, 'ingest', file, '--db', join(tempDir(), 'run.duckdb')], { encoding: 'utf8', input, cwd: tempDir() });
  return { code: r.status ?? r.signal, err: r.stderr };
}

async function events(file: string): Promise<Event[]> {
  const out: Event[] = [];
  for await (const b of arrowAdapter.open({ file, vm: 'vm0', stats: new Stats() }).batches) out.push(...b);
  return out;
}

/** One IPC message of a stream: where it starts, its metadata as a flatbuffer, its body length. */
interface Framed {
  at: number;
  meta: number; // offset of the flatbuffer
  metaLength: number;
  msg: Message;
  bb: ByteBuffer;
}

/** The messages of a stream, walked here independently of the code under test. */
function framing(bytes: Buffer): Framed[] {
  const out: Framed[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    expect(bytes.readInt32LE(at)).toBe(-1);
    const metaLength = bytes.readInt32LE(at + 4);
    if (metaLength === 0) break;
    const bb = new ByteBuffer(new Uint8Array(bytes.buffer, bytes.byteOffset + at + 8, metaLength));
    const msg = Message.getRootAsMessage(bb);
    out.push({ at, meta: at + 8, metaLength, msg, bb });
    at += 8 + metaLength + Number(msg.bodyLength());
  }
  return out;
}

/** Offset in the file of a table's field (vtable slot), or of a vector field's length word. */
function fieldAt(f: Framed, tablePos: number, slot: number): number {
  const o = f.bb.__offset(tablePos, slot);
  expect(o).toBeGreaterThan(0);
  return f.meta + tablePos + o;
}
/** Offset in a file-format file of its footer's first record-batch block. */
function footerBlock(file: Buffer): number {
  const length = file.readInt32LE(file.length - 10);
  const start = file.length - 10 - length;
  const bb = new ByteBuffer(new Uint8Array(file.buffer, file.byteOffset + start, length));
  return start + Footer.getRootAsFooter(bb).recordBatches(0)!.bb_pos;
}
const vectorLengthAt = (f: Framed, tablePos: number, slot: number) => f.meta + f.bb.__vector(tablePos + f.bb.__offset(tablePos, slot)) - 4;

describe('damaged Arrow IPC', () => {
  let clean: Buffer;
  let batch: Framed; // the first record batch
  let stream: string;
  const dir = tempDir();
  const damaged = (name: string, edit: (b: Buffer) => Buffer | void) => {
    const b = Buffer.from(clean);
    const file = join(dir, name);
    writeFileSync(file, edit(b) ?? b);
    return file;
  };

  beforeAll(async () => {
    stream = join(dir, 'clean.arrow');
    const s = createWriteStream(stream);
    await convert({ files: [MICROVM_MODERN], raw: false, to: 'arrow' }, s);
    await new Promise<void>((res) => s.end(res));
    clean = readFileSync(stream);
    batch = framing(clean).find((f) => f.msg.headerType() === MessageHeader.RecordBatch)!;
    expect(batch).toBeDefined();
  }, 120_000);

  it('a clean file reads every row, and its file-format twin the same events', async () => {
    const rows = tableFromIPC(clean).numRows;
    const a = await events(stream);
    expect(a.length).toBe(rows);
    expect(rows).toBeGreaterThan(1000);
    const twin = join(dir, 'clean-file-format.arrow');
    writeFileSync(twin, tableToIPC(tableFromIPC(clean), 'file'));
    expect(readFileSync(twin).subarray(0, 6).toString()).toBe('ARROW1');
    expect(await events(twin)).toEqual(a);
  }, 60_000);

  const rb = () => batch.msg.header(new RecordBatch()) as RecordBatch;
  const cases: [string, (b: Buffer) => Buffer | void, RegExp][] = [
    // RecordBatch table: length slot 4, nodes 6, buffers 8; Message: bodyLength slot 10
    ['huge field nodes length', (b) => void b.writeUInt32LE(0x7fffffff, vectorLengthAt(batch, rb().bb_pos, 6)), /record batch 1\b.*claims 2147483647 field nodes, but its \d+-byte metadata holds at most \d+/],
    ['huge buffers length', (b) => void b.writeUInt32LE(0x10000000, vectorLengthAt(batch, rb().bb_pos, 8)), /record batch 1\b.*claims 268435456 buffers/],
    ['huge body length', (b) => void b.writeBigInt64LE(1n << 40n, fieldAt(batch, batch.msg.bb_pos, 10)), /record batch 1\b.*body length 1099511627776 is not between 0 and/],
    ['huge row count', (b) => void b.writeBigInt64LE(1n << 40n, fieldAt(batch, rb().bb_pos, 4)), /record batch 1\b.*claims 1099511627776 rows, but its \d+-byte body holds at most/],
    ['a buffer outside the body', (b) => void b.writeBigInt64LE(1n << 30n, batch.meta + (rb().buffers(1)!.bb_pos)), /record batch 1\b.*buffer 1 \(offset 1073741824, length \d+\) lies outside the \d+-byte body/],
    ['metadata length past the end', (b) => void b.writeInt32LE(900_000, batch.at + 4), /message \d+ at byte \d+: metadata length 900000 runs past the end of the file/],
    ['metadata length negative', (b) => void b.writeInt32LE(-7, batch.at + 4), /metadata length -7 is not between 1 and/],
    ['truncated body', (b) => b.subarray(0, batch.at + 8 + batch.metaLength + 100), /record batch 1\b.*body length \d+ runs past the end of the file/],
    ['truncated metadata', (b) => b.subarray(0, batch.at + 20), /message \d+ at byte \d+: metadata length \d+ runs past the end of the file/],
  ];
  it.each(cases)('%s: exit 2 naming the file and the message, no stack trace', (name, edit, why) => {
    const file = damaged(`${name.replace(/ /g, '-')}.arrow`, edit);
    const r = ingestCli(file);
    expect(r.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(r.err).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: damaged Arrow IPC data in `));
    expect(r.err).toMatch(why);
    expect(r.code).toBe(2);
  }, 60_000);

  it('through a pipe (no file size to compare with) a cut body is still named', () => {
    const cut = clean.subarray(0, batch.at + 8 + batch.metaLength + 100);
    const r = ingestCli('-', cut);
    expect(r.err).toMatch(/damaged Arrow IPC data in message \d+ \(record batch 1\) at byte \d+: cut short: a body of \d+ bytes stated, 100 present/);
    expect(r.code).toBe(2);
  }, 60_000);

  it.each([
    ['a footer length that is not the footer', (b: Buffer) => b.writeInt32LE(5, b.length - 10), /footer length 5 does not match the \d+ bytes before it/],
    // the footer's last block: its offset (the block's first int64) moved into the middle of a body
    ['a block that is not a message', (b: Buffer) => b.writeBigInt64LE(1000n, footerBlock(b)), /its block 0 of record batches \(offset 1000, .*\) is not a message of the file/],
  ] as const)('file format, %s: refused before apache-arrow follows the footer', (name, edit, why) => {
    const whole = Buffer.from(tableToIPC(tableFromIPC(clean), 'file'));
    edit(whole);
    const file = join(dir, `${name.replace(/ /g, '-')}.arrow`);
    writeFileSync(file, whole);
    const r = ingestCli(file);
    expect(r.err).toMatch(/damaged Arrow IPC data in the footer at byte \d+: /);
    expect(r.err).toMatch(why);
    expect(r.code).toBe(2);
  }, 60_000);

  it('bit flips in the metadata (a few seconds): each file reads or is refused with an InputError naming it, never a crash', async () => {
    const regions = framing(clean).map((f) => [f.at, f.meta + f.metaLength] as const);
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const file = join(dir, 'flipped.arrow');
    const until = Date.now() + 4000;
    const seen = { refused: 0, read: 0 };
    while (Date.now() < until) {
      const b = Buffer.from(clean);
      for (let k = 1 + rand(3); k > 0; k--) {
        const [lo, hi] = regions[rand(regions.length)]!;
        const at = lo + rand(hi - lo);
        b[at] = b[at]! ^ (1 << rand(8));
      }
      writeFileSync(file, b);
      try {
        await events(file);
        seen.read++;
      } catch (e) {
        if (!(e instanceof InputError)) throw new Error(`not an InputError: ${(e as Error).stack}`);
        expect(e.file).toBe(file);
        seen.refused++;
      }
    }
    expect(seen.refused).toBeGreaterThan(10);
  }, 30_000);
});
