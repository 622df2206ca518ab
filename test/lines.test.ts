/**
 * lines.ts reads a file in 1 MiB chunks and hands them on in runs of about 128 KiB of lines: lines
 * cut by a chunk's end, lines longer than a chunk or a run, empty lines at a run's edge, CR ends and a
 * last line without a newline come out whole, numbered, as text and as bytes, plain and gzip, the same
 * as a plain split of the whole file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readByteLines, readLines } from '../src/ingest/lines.ts';
import { lines, MICROVM_MODERN, tempDir } from './helpers.ts';

async function textLines(file: string): Promise<{ lines: string[]; firsts: number[]; cut: boolean[] }> {
  const out: string[] = [];
  const firsts: number[] = [];
  const cut: boolean[] = [];
  for await (const b of readLines(file)) {
    expect(b.first).toBe(out.length + 1);
    firsts.push(b.first);
    cut.push(b.unterminated);
    for (const l of b.lines) out.push(l);
  }
  return { lines: out, firsts, cut };
}

async function byteLines(file: string): Promise<{ lines: string[]; cut: boolean[] }> {
  const out: string[] = [];
  const cut: boolean[] = [];
  for await (const b of readByteLines(file)) {
    expect(b.first).toBe(out.length + 1);
    let start = 0;
    for (let i = 0; i < b.count; i++) {
      out.push(b.bytes.toString('utf8', start, b.ends[i]));
      start = b.ends[i]! + 1;
    }
    cut.push(b.unterminated);
  }
  return { lines: out, cut };
}

describe('lines of a file larger than a chunk', () => {
  const dir = tempDir();
  const real = lines(MICROVM_MODERN);
  // about 6 MiB: real lines, a 300 KiB line, a 2.5 MiB line (a chunk without a newline), CR ends, UTF-8 and invalid bytes
  const parts: Buffer[] = [];
  for (let i = 0; parts.reduce((n, p) => n + p.length, 0) < 6 << 20; i++) {
    const l = real[i % real.length]!;
    if (i === 5000) parts.push(Buffer.from('x'.repeat(300 << 10) + '\n'));
    if (i === 12000) parts.push(Buffer.from('y'.repeat(5 << 19) + '\n'));
    parts.push(Buffer.from(i % 7 === 0 ? `${l}\r\n` : i % 11 === 0 ? `${l} é\n` : `${l}\n`));
    if (i % 997 === 0) parts.push(Buffer.from([0x41, 0xc3, 0x0a, 0xff, 0x0a]));
  }
  parts.push(Buffer.from('a last line without a newline'));
  const bytes = Buffer.concat(parts);
  const expected = bytes.toString('utf8').split('\n');
  const plain = join(dir, 'big.trace');
  const gz = join(dir, 'big.trace.gz');
  writeFileSync(plain, bytes);
  writeFileSync(gz, gzipSync(bytes));

  it.each([plain, gz])('%s: as text, the lines of a plain split (one CR end removed), numbered', async (file) => {
    const got = await textLines(file);
    expect(got.lines).toEqual(expected.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)));
    expect(got.firsts.length).toBeGreaterThan(3); // several chunks
    expect(got.cut.at(-1)).toBe(true);
    expect(got.cut.slice(0, -1).every((c) => !c)).toBe(true);
  });

  it.each([plain, gz])('%s: as bytes, the same lines (CR kept for the reader)', async (file) => {
    const got = await byteLines(file);
    expect(got.lines).toEqual(expected);
    expect(got.cut.at(-1)).toBe(true);
  });
});

describe('small and empty-line files', () => {
  const dir = tempDir();
  const cases: [string, string][] = [
    ['one newline', '\n'],
    ['two newlines', '\n\n'],
    ['no newline', 'a'],
    ['one line', 'a\n'],
    ['empty lines around one', '\n\n\na\n\n'],
    // runs are cut after a line: here every line is empty, so a cut falls on an empty one
    ['300 k empty lines', '\n'.repeat(300_000)],
    ['a line longer than a run between empty ones', '\n' + 'z'.repeat(200_000) + '\n\n'],
  ];
  it.each(cases)('%s: the lines of a plain split, as text and as bytes', async (name, text) => {
    const file = join(dir, name.replace(/\W/g, '_'));
    writeFileSync(file, text);
    const expected = text.split('\n');
    // a file ending in a newline has no line after it: the split's last empty piece is not one
    if (text.endsWith('\n')) expected.pop();
    expect((await textLines(file)).lines).toEqual(expected);
    expect((await byteLines(file)).lines).toEqual(expected);
  });
});
