/**
 * The ftrace scanners read by character codes what the grammar's regular expressions say: the same
 * record (or the same "not a record") for every line of every bundled ftrace text, the layouts the
 * other producers print, and generated lines made of the grammar's pieces and of the characters
 * that trip hand-written scanners (blanks JavaScript's \s knows, line terminators, dashes, long
 * numbers). The expressions here are the reference: the tokenizer and the key=value reader used them
 * until they were replaced for speed.
 */
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyValues } from '../src/ingest/ftrace/parse.ts';
import { notRecord, tokenize, type Token } from '../src/ingest/ftrace/tokenize.ts';
import { lines, TRACES } from './helpers.ts';

const RECORD = /^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:[^\s\d]\S{3,4}\s+)?(\d+)\.(\d{1,9}):\s+([A-Za-z_]\w*):\s*(.*)$/;

/** tokenize as it was: one regular expression per line */
function reference(line: string): Token {
  if (line.charCodeAt(0) === 35) return { kind: 'blank' };
  const m = RECORD.exec(line);
  if (!m) return notRecord(line);
  const frac = m[5]!;
  return {
    kind: 'record',
    rec: { task: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), sec: Number(m[4]), ns: Number(frac) * 10 ** (9 - frac.length), event: m[6]!, args: m[7]! },
  };
}

/** keyValues as it was: a global regular expression into a Map */
function referenceKeyValues(args: string): Map<string, string> {
  let text = args;
  if (text.startsWith('(')) {
    const end = text.indexOf(') ');
    text = end < 0 ? '' : text.slice(end + 2);
  }
  const out = new Map<string, string>();
  const re = /(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const v = m[2]!;
    out.set(m[1]!, v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v);
  }
  return out;
}

const referenceNum = (v: string | undefined) => {
  if (v === undefined || !/^(?:\d+|0x[0-9a-f]+)$/i.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
};

function sameKeyValues(args: string): void {
  const want = referenceKeyValues(args);
  const kv = new KeyValues();
  kv.read(args);
  const keys = new Set([...want.keys(), 'dev', 'vq', 'data', 'name', 'num', 'x', '']);
  for (const k of keys) {
    const [got, n, wantN] = [kv.get(k), kv.num(k), referenceNum(want.get(k))];
    // expect() only where they differ: it is slow on a hundred thousand lines
    if (got !== want.get(k) || n !== wantN) expect([got, n], `${JSON.stringify(args)} ${k}`).toEqual([want.get(k), wantN]);
  }
}

const ftraceTexts = [
  ...['guest-ftrace', 'gpu-multi', 'qemu-7.2-scenarios'].flatMap((d) =>
    readdirSync(join(TRACES, d)).filter((f) => f.endsWith('guest-ftrace.txt.gz')).map((f) => join(TRACES, d, f)),
  ),
  ...readdirSync(join(TRACES, 'kvm')).filter((f) => f.endsWith('.kvm.trace.gz')).map((f) => join(TRACES, 'kvm', f)),
];

describe('the character scanner reads what the grammar says', () => {
  it('on every line of every bundled ftrace text, and its trace-cmd and record-tgid layouts', () => {
    expect(ftraceTexts.length).toBeGreaterThanOrEqual(11);
    let records = 0;
    for (const f of ftraceTexts) {
      // the host KVM traces are a quarter of a million lines each, of a few shapes: their first 20 000
      for (const l of lines(f).slice(0, 20_000)) {
        const variants = [
          l,
          // trace-cmd report: no flags column, ns timestamps, padded event names
          l.replace(/^(\s*.+?-\d+\s+\[\d+\]) \S{5} (\d+\.\d+): (\w+): /, (_, h: string, ts: string, ev: string) => `${h} ${ts}000: ${`${ev}:`.padEnd(24)}`),
          // record-tgid
          l.replace(/^(\s*.+?-\d+)(\s+\[)/, '$1 (  123)$2'),
        ];
        for (const v of variants) {
          const want = reference(v);
          const got = tokenize(v);
          // toEqual only where they differ, for its message: it is slow on half a million lines
          if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, v).toEqual(want);
          if (want.kind === 'record') {
            records++;
            if (want.rec.args.includes('=')) sameKeyValues(want.rec.args);
          }
        }
      }
    }
    expect(records).toBeGreaterThan(150_000);
  });

  const blank = fc.constantFrom(' ', '  ', '\t', '\u00a0', '\u2003', '\ufeff', '\r', '\n', '\u2028', '');
  const digits = fc.constantFrom('0', '7', '000', '12345', '9007199254740993', '123456789012345678901234567890');
  const piece = fc.oneof(
    blank, digits,
    fc.constantFrom('-', '[', ']', '(', ')', '.', ':', '=', '"', '\\', 'x', '_', 'd.h1.', 'dNh2.', '....', '.....', '......', '1...', '---', '(-------)', '[000]', '[1]', '<idle>', 'kworker/0:1H', 'a b', 'é'),
    fc.constantFrom('vq_add_sgs', 'block_rq_issue', '9ev', 'ev-1', 'name="a b"', 'dev=0x1F', 'data=0xFFab', 'name="q\\"x"', 'k="', '(p+0x0/0x8 [m]) '),
    fc.string({ maxLength: 3 }),
  );
  const line = fc.array(piece, { maxLength: 24 }).map((ps) => ps.join(''));
  // a well-formed record with its pieces varied, so that most generated lines get deep into the grammar
  // (each piece right more often than not)
  const mostly = <T,>(good: T[], bad: T[]) => fc.oneof({ arbitrary: fc.constantFrom(...good), weight: 6 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });
  const record = fc
    .tuple(
      fc.oneof(fc.constant('  '), blank), mostly(['init', '<idle>', 'kworker/u8:2-ev', 'a b-3 c', 'x-1 [0]'], ['', '-', '\r']), mostly(['1', '98', '0'], ['', '9007199254740993', 'x']),
      mostly([' ', '   ', '\u00a0'], ['', '\n']), mostly(['', '(  42) ', '(-------) '], ['(x) ', '()', '(1)']), mostly(['000', '1'], ['', '123456789012345678901234567890']),
      mostly([' '], ['\t', '']), mostly(['d.h1. ', '.... ', '..... ', ''], ['...... ', '... ', '1.... ', 'd.h1.\u2028']), mostly(['1795579107', '0'], ['', '123456789012345678901234567890']),
      mostly(['.123456', '.1', '.123456789'], ['.1234567890', '.', '']), mostly([': '], [':', ':\t', ': \u3000']), mostly(['vq_notify', '_x'], ['9x', 'x y', '']), mostly([': ', ':', ':  '], [' :']), line,
    )
    .map(([b0, task, pid, b1, tgid, cpu, b2, flags, sec, frac, c1, ev, c2, args]) => `${b0}${task}-${pid}${b1 || ' '}${tgid}[${cpu}]${b2 || ' '}${flags}${sec}${frac}${c1}${ev}${c2}${args}`);

  it('on generated lines', () => {
    let records = 0;
    fc.assert(
      fc.property(fc.oneof(line, { arbitrary: record, weight: 2 }, fc.string({ unit: 'binary', maxLength: 60 })), (l) => {
        const want = reference(l);
        expect(tokenize(l)).toEqual(want);
        if (want.kind === 'record') records++;
      }),
      { numRuns: 20_000, seed: 12 },
    );
    // deep enough: many generated lines are records, many are not
    expect(records).toBeGreaterThan(2_000);
    expect(records).toBeLessThan(15_000);
  });

  it('reads key=value arguments as the global expression did, on generated arguments', () => {
    fc.assert(fc.property(fc.oneof(line, fc.string({ unit: 'binary', maxLength: 40 })), (a) => sameKeyValues(a)), { numRuns: 20_000, seed: 12 });
    fc.assert(fc.property(line, (a) => sameKeyValues(`(vring_interrupt+0x0/0xd0 [virtio_ring]) ${a}`)), { numRuns: 5_000, seed: 13 });
  });
});
