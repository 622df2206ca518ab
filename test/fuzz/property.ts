/**
 * The property every adapter must keep under hostile input (issue 9): real lines of each format,
 * cut to a random window and mutated (bit flips, truncations, duplicated, swapped and deleted
 * lines, extreme numbers, garbage), go through the whole in-process pipeline (adapter, time
 * policy, attribution, replay, analyses, checks) and
 *  - end as a result (exit 0 or 1) or an InputError naming the file (exit 2), never anything else
 *    (exit 3, a stack trace) and never a hang;
 *  - every counted problem names the file and a line that exists;
 *  - no event, span or evidence line comes from a line counted as dropped, and no latency is
 *    negative.
 * Used by test/fuzz.test.ts (a short campaign in CI) and scripts/fuzz.ts (a long one).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ANALYSES } from '../../src/analyses/registry.ts';
import { convert } from '../../src/api/convert.ts';
import { ArrowEventWriter } from '../../src/ingest/arrow/codec.ts';
import { runChecks } from '../../src/checks/runner.ts';
import { InputError } from '../../src/ingest/errors.ts';
import type { StatName } from '../../src/ingest/stats.ts';
import { run } from '../../src/pipeline.ts';
import { lines, MICROVM_MODERN, real } from '../helpers.ts';

export type Format = 'qemu-log' | 'ftrace' | 'jsonl' | 'arrow';
export const FORMATS: Format[] = ['qemu-log', 'ftrace', 'jsonl', 'arrow'];

/** stats whose lines are dropped: nothing may come of them */
const DROPPING: StatName[] = ['line.malformed', 'line.truncated', 'event.invalid', 'time.dropped'];

const EXTREMES = ['1e400', '18446744073709551616', '-1', '99999999999999999999999', '0', 'NaN', '-9223372036854775809', '4294967296', '1099511627776', '100000000000000', '0x', '1.5', ''];

type Mutation =
  | { k: 'flip'; line: number; pos: number; bit: number }
  | { k: 'truncate'; line: number; pos: number }
  | { k: 'dup'; line: number }
  | { k: 'swap'; line: number; other: number }
  | { k: 'delete'; line: number }
  | { k: 'number'; line: number; which: number; value: string }
  | { k: 'garbage'; line: number; text: string };

export interface Input {
  format: Format;
  start: number;
  len: number;
  mutations: Mutation[];
  finalNewline: boolean;
  gzip: boolean;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), line: fc.nat(), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('truncate' as const), line: fc.nat(), pos: fc.nat() }),
  fc.record({ k: fc.constant('dup' as const), line: fc.nat() }),
  fc.record({ k: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ k: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ k: fc.constant('number' as const), line: fc.nat(), which: fc.nat(), value: fc.constantFrom(...EXTREMES) }),
  fc.record({ k: fc.constant('garbage' as const), line: fc.nat(), text: fc.string({ maxLength: 40 }) }),
);

export const input = (formats: Format[] = FORMATS): fc.Arbitrary<Input> =>
  fc.record({
    format: fc.constantFrom(...formats),
    start: fc.nat(),
    len: fc.integer({ min: 1, max: 40 }),
    mutations: fc.array(mutation, { maxLength: 6 }),
    finalNewline: fc.boolean(),
    gzip: fc.boolean(),
  });

/** Real lines of each text format (JSON Lines without `src`, so that lines are the file's own). */
async function seedLines(): Promise<Record<Exclude<Format, 'arrow'>, string[]>> {
  const chunks: string[] = [];
  await convert({ files: [MICROVM_MODERN], raw: false, to: 'jsonl' }, new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }));
  const jsonl = chunks.join('').trim().split('\n').map((l) => l.replace(/,"src":\{[^}]*\}/, ''));
  return {
    'qemu-log': [...lines(MICROVM_MODERN), ...lines(real('qemu-10.0-sound/none-duplex.trace.gz')), ...lines(real('gpu-multi/cluster.trace.gz'))],
    ftrace: [...lines(real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz')), ...lines(real('gpu-multi/cluster.guest-ftrace.txt.gz'))],
    jsonl,
  };
}

/** An Arrow stream of real events (rows without `file`/`line`: the rows are the lines), to mutate. */
async function seedArrow(jsonl: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new ArrowEventWriter(new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) }), JSON.parse(jsonl[0]!));
  w.write(jsonl.slice(1, 400).map((l) => JSON.parse(l)));
  await w.close();
  return Buffer.concat(chunks);
}

function mutateLines(ls: string[], muts: Mutation[]): string[] {
  const out = [...ls];
  for (const m of muts) {
    if (out.length === 0) break;
    const i = m.line % out.length;
    const l = out[i]!;
    switch (m.k) {
      case 'flip': {
        const b = Buffer.from(l);
        if (b.length > 0) b[m.pos % b.length]! ^= 1 << m.bit;
        out[i] = b.toString('latin1') === l ? l : b.toString('utf8');
        break;
      }
      case 'truncate':
        out[i] = l.slice(0, m.pos % (l.length + 1));
        break;
      case 'dup':
        out.splice(i, 0, l);
        break;
      case 'swap': {
        const j = m.other % out.length;
        [out[i], out[j]] = [out[j]!, l];
        break;
      }
      case 'delete':
        out.splice(i, 1);
        break;
      case 'number': {
        const nums = [...l.matchAll(/\d+/g)];
        if (nums.length > 0) {
          const n = nums[m.which % nums.length]!;
          out[i] = l.slice(0, n.index) + m.value + l.slice(n.index! + n[0].length);
        }
        break;
      }
      case 'garbage':
        out.splice(i, 0, m.text);
        break;
    }
  }
  return out;
}

function mutateBytes(bytes: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of muts) {
    if (m.k === 'flip') b[m.pos % b.length]! ^= 1 << m.bit;
    else if (m.k === 'truncate') b = b.subarray(0, m.pos % (b.length + 1));
    // a length or offset field made huge
    else if (m.k === 'number' && b.length >= 4) b.writeUInt32LE(m.value === '-1' ? 0xffffffff : 0x7fffffff, (m.which % (b.length - 3)) & ~3);
  }
  return b;
}

export interface Fuzzer {
  /** writes the input and checks the property; returns the outcome's exit code (0, 1 or 2) */
  check(inp: Input): Promise<number>;
}

export async function fuzzer(dir: string): Promise<Fuzzer> {
  const seeds = await seedLines();
  const arrow = await seedArrow(seeds.jsonl);
  let n = 0;
  return {
    async check(inp) {
      const file = join(dir, `fuzz-${++n % 4}.${inp.format}`);
      let count: number;
      if (inp.format === 'arrow') {
        const bytes = mutateBytes(arrow, inp.mutations);
        writeFileSync(file, bytes);
        count = Number.MAX_SAFE_INTEGER;
      } else {
        const src = seeds[inp.format];
        const from = inp.start % src.length;
        const ls = mutateLines(src.slice(from, from + inp.len), inp.mutations);
        const text = ls.join('\n') + (inp.finalNewline ? '\n' : '');
        writeFileSync(file, inp.gzip ? gzipSync(text) : text);
        count = text.split('\n').length;
      }
      return judge(file, inp.format, count);
    },
  };
}

async function judge(file: string, format: Format, lineCount: number): Promise<number> {
  const eventLines = new Set<number>();
  const spanLines: number[] = [];
  let negative: string | undefined;
  let r;
  try {
    r = await run({
      files: [file],
      format,
      analyses: { list: ANALYSES, sink: { add: () => {} } },
      onEvents: (batch) => {
        for (const e of batch) if (e.src?.file === file) eventLines.add(e.src.line);
      },
      onSpan: (s) => {
        if (s.latency_ns < 0) negative = `span ${s.elem} of latency ${s.latency_ns}`;
        if (s.pop_line !== null) spanLines.push(s.pop_line);
        if (s.fill_line !== null) spanLines.push(s.fill_line);
      },
    });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.file !== undefined && e.file !== file) throw new Error(`an input error naming another file: ${e.describe()}`);
    if (e.line !== undefined && !(e.line >= 1 && e.line <= lineCount)) throw new Error(`an input error naming a line that does not exist: ${e.describe()}`);
    return 2;
  }
  if (negative) throw new Error(`negative latency: ${negative}`);
  const findings = runChecks(r.platform, {});
  const dropped = new Set<number>();
  for (const s of r.stats.list()) {
    for (const x of s.samples) {
      if (x.file !== file || !(x.line >= 1 && x.line <= lineCount)) throw new Error(`${s.name} counted at ${x.file}:${x.line}, not a line of ${file}`);
      if (DROPPING.includes(s.name)) dropped.add(x.line);
    }
  }
  for (const l of dropped) {
    if (eventLines.has(l)) throw new Error(`an event from line ${l}, which was counted as dropped`);
    if (spanLines.includes(l)) throw new Error(`a span from line ${l}, which was counted as dropped`);
  }
  for (const f of findings) {
    for (const ev of f.evidence) if (ev.src && dropped.has(ev.src.line) && ev.src.file === file) throw new Error(`${f.rule} cites line ${ev.src.line}, which was dropped`);
  }
  return findings.some((f) => f.verdict === 'FAIL' && f.level === 'MUST') ? 1 : 0;
}
