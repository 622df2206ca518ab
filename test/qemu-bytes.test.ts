/**
 * The QEMU adapter reads a log's bytes (a fast tokenizer for the lines QEMU writes) and falls back
 * to its text reader for every other line. The text reader is the reference: on every bundled
 * trace, and on real lines mutated in the ways that trip a byte tokenizer (numbers too wide for a
 * double, leading zeros, upper-case hex, CR ends, NUL, invalid UTF-8, tabs), both give the same
 * events, the same counters with the same samples, and the same errors.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLineSource, type SourceInfo } from '../src/ingest/adapter.ts';
import { compileDeclaration, matchBytes, MATCHED, parseArgs } from '../src/ingest/qemu/format.ts';
import { QEMU_EVENTS } from '../src/ingest/qemu/events.ts';
import { QemuLineParser, qemuLogAdapter } from '../src/ingest/qemu/index.ts';
import { detectFormat } from '../src/ingest/registry.ts';
import { Stats } from '../src/ingest/stats.ts';
import type { Event } from '../src/model/events.ts';
import { lines, MICROVM_MODERN, Q35_PCI, real, tempDir, TRACES } from './helpers.ts';

interface Outcome {
  events: Event[];
  info: SourceInfo;
  stats: unknown;
  error?: string;
}

/** Everything a source gives: its events, its info, its counters (with samples) and its error. */
async function outcome(file: string, reference: boolean, keepRaw = false): Promise<Outcome> {
  const stats = new Stats();
  const events: Event[] = [];
  let info: SourceInfo;
  let batches: AsyncIterable<Event[]>;
  if (reference) {
    info = { file, format: 'qemu-log', view: 'host', vm: 'vm', originNs: 0n, timed: false, events: 0, lines: 0 };
    const p = new QemuLineParser(info, stats);
    // the same parser without its byte reader: every line decoded, split and read as text
    const textOnly = { parseLine: p.parseLine.bind(p), finish: p.finish.bind(p) };
    batches = readLineSource(info, textOnly, stats, keepRaw);
  } else {
    const src = qemuLogAdapter.open({ file, vm: 'vm', stats, keepRaw });
    info = src.info;
    batches = src.batches;
  }
  let error: string | undefined;
  try {
    for await (const b of batches) events.push(...b);
  } catch (e) {
    error = String(e);
  }
  const counters = stats.list().map((s) => ({ ...s, byKey: [...s.byKey] }));
  return { events, info, stats: counters, error };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const bundled = await Promise.all(
  walk(TRACES).map(async (f) => ((await detectFormat(f).then((a) => a.name).catch(() => '')) === 'qemu-log' ? f : undefined)),
);
const QEMU_TRACES = bundled.filter((f) => f !== undefined).map((f) => f.slice(TRACES.length + 1));

describe('the byte reader and the text reader of QEMU logs', () => {
  it('finds the bundled QEMU logs (7.2 and 10.0)', () => {
    expect(QEMU_TRACES.length).toBeGreaterThanOrEqual(20);
    expect(QEMU_TRACES.some((f) => f.startsWith('qemu-10.0'))).toBe(true);
  });

  it.each(QEMU_TRACES)('give the same events, counters and info on %s', async (rel) => {
    const fast = await outcome(real(rel), false, true);
    const ref = await outcome(real(rel), true, true);
    // the traces are usable; a list of event names also sniffs as a QEMU log, and fails alike
    if (/\.trace(\.gz)?$/.test(rel)) {
      expect(fast.error).toBeUndefined();
      expect(fast.events.length).toBeGreaterThan(0);
    }
    expect(fast).toEqual(ref);
  });

  it('the byte tokenizer reads every line of real logs itself, with the arguments the text reader reads', () => {
    let read = 0;
    for (const file of [MICROVM_MODERN, Q35_PCI, real('qemu-10.0-sound/wav-playback.trace.gz'), real('gpu-multi/ivi.trace.gz')]) {
      for (const line of lines(file)) {
        const m = /^\d+@\d+\.\d+:(\w+)(?: (.*))?$/.exec(line);
        const spec = m ? QEMU_EVENTS[m[1]!] : undefined;
        if (!spec) continue;
        const { format } = compileDeclaration(spec.decl[0]!);
        const text = m![2] ?? '';
        const expected = parseArgs(format, text);
        const bytes = Buffer.from(`#${text}#`); // bytes around the line must not be read
        const got = matchBytes(format, bytes, 1, bytes.length - 1);
        // strings at the end of a line are left to the text reader
        if (format.slots.at(-1)?.conv === 'str') continue;
        expect(got, line).toBe(MATCHED);
        expect({ ...format.scratch }, line).toEqual(expected);
        read++;
      }
    }
    expect(read).toBeGreaterThan(10_000);
  });
});

/** Byte mutations of a real line that a byte tokenizer could read differently from the text. */
const EDITS: [string, (l: Buffer, at: number) => Buffer][] = [
  ['wide number', (l, at) => splice(l, at, 0, '99999999999999999999')],
  ['16 digits', (l, at) => splice(l, at, 0, '1234567890123456')],
  ['leading zeros', (l, at) => splice(l, at, 0, '000')],
  ['minus', (l, at) => splice(l, at, 0, '-')],
  ['upper-case hex', (l) => Buffer.from(l.toString('latin1').replace(/0x([0-9a-f]+)/, (_m, h: string) => '0x' + h.toUpperCase()), 'latin1')],
  ['CR end', (l) => Buffer.concat([l, Buffer.from('\r')])],
  ['trailing blanks', (l) => Buffer.concat([l, Buffer.from('  ')])],
  ['trailing tab', (l) => Buffer.concat([l, Buffer.from('\t')])],
  ['NUL', (l, at) => splice(l, at, 0, '\0')],
  ['invalid UTF-8', (l, at) => splice(l, at, 0, Buffer.from([0xc3]))],
  ['a stray continuation byte', (l, at) => splice(l, at, 0, Buffer.from([0x80, 0xff]))],
  ['UTF-8 text', (l, at) => splice(l, at, 0, 'é')],
  ['cut', (l, at) => l.subarray(0, at)],
  ['byte deleted', (l, at) => splice(l, at, 1, '')],
  ['space doubled', (l) => Buffer.from(l.toString('latin1').replace(' ', '  '), 'latin1')],
  ['no time prefix', (l) => Buffer.from(l.toString('latin1').replace(/^\d+@[\d.]+:/, ''), 'latin1')],
  ['9 fraction digits', (l) => Buffer.from(l.toString('latin1').replace(/\.(\d+):/, '.$1123:'), 'latin1')],
  ['10 fraction digits', (l) => Buffer.from(l.toString('latin1').replace(/\.(\d+):/, '.$10123:'), 'latin1')],
  ['nil pointer', (l) => Buffer.from(l.toString('latin1').replace(/0x[0-9a-f]{8,}/, '(nil)'), 'latin1')],
  ['bit flip', (l, at) => Buffer.from(l.map((c, i) => (i === at ? c ^ (1 << at % 8) : c)))],
];

function splice(l: Buffer, at: number, remove: number, insert: string | Buffer): Buffer {
  return Buffer.concat([l.subarray(0, at), Buffer.from(insert), l.subarray(at + remove)]);
}

describe('the byte reader under hostile lines', () => {
  const seed = [...lines(MICROVM_MODERN).slice(0, 400), ...lines(real('qemu-10.0-sound/wav-playback.trace.gz')).slice(0, 400)];
  const dir = tempDir();
  let n = 0;
  it('gives what the text reader gives, line for line', async () => {
    const edit = fc.record({ line: fc.nat(), edit: fc.nat(EDITS.length - 1), at: fc.nat() });
    const input = fc.record({ start: fc.nat(seed.length - 60), edits: fc.array(edit, { minLength: 1, maxLength: 12 }), crlf: fc.boolean(), finalNewline: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(input, async ({ start, edits, crlf, finalNewline }) => {
        const ls: Buffer[] = seed.slice(start, start + 60).map((l) => Buffer.from(l));
        for (const e of edits) {
          const i = e.line % ls.length;
          ls[i] = EDITS[e.edit]![1](ls[i]!, e.at % (ls[i]!.length + 1));
        }
        const file = join(dir, `t${n++}.trace`);
        const eol = Buffer.from(crlf ? '\r\n' : '\n');
        const parts = ls.flatMap((l) => [l, eol]);
        writeFileSync(file, Buffer.concat(finalNewline ? parts : parts.slice(0, -1)));
        expect(await outcome(file, false)).toEqual(await outcome(file, true));
      }),
      { numRuns: 150, seed: 12 },
    );
  });
});
