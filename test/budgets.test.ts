import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBudgets, parseBudgets, parseLimit } from '../src/gate/budgets.ts';
import { meets } from '../src/gate/evaluate.ts';
import { InputError } from '../src/ingest/errors.ts';
import { METRICS } from '../src/perf/metrics.ts';

function error(text: string, file = 'b.budgets'): string {
  try {
    parseBudgets(text, file);
  } catch (e) {
    if (e instanceof InputError) return e.describe();
    throw e;
  }
  throw new Error('expected an error');
}

describe('limits and units', () => {
  it('converts durations to ns, percentages to fractions', () => {
    expect(parseLimit('20ms', 'ns')).toBe(20e6);
    expect(parseLimit('2 µs', 'ns')).toBe(2000);
    expect(parseLimit('1.5s', 'ns')).toBe(1.5e9);
    expect(parseLimit('250us', 'ns')).toBe(250_000);
    expect(parseLimit('0', 'ns')).toBe(0);
    expect(parseLimit('90%', 'ratio')).toBeCloseTo(0.9, 12);
    expect(parseLimit('0.9', 'ratio')).toBe(0.9);
    expect(parseLimit(3, 'count')).toBe(3);
  });

  it('refuses a unit that does not fit the metric', () => {
    expect(parseLimit('20', 'ns')).toMatch(/needs a unit/);
    expect(parseLimit('20 min', 'ns')).toMatch(/not a time unit/);
    expect(parseLimit('5ms', 'count')).toMatch(/not a unit of a count/);
    expect(parseLimit('50%', 'count')).toMatch(/only fits a ratio/);
    expect(parseLimit('0.5', 'count')).toMatch(/whole number/);
    expect(parseLimit('fast', 'ns')).toMatch(/not a number/);
  });
});

describe('the line format', () => {
  it('reads budgets, labels, comments and blank lines', () => {
    const b = parseBudgets(
      ['# persistence', '', 'blk.flush.p99 <= 20ms   # the example', '  blk.latency.p99{op=write, vm="my vm"} < 2 ms', 'blk.never_flushed == 0'].join('\n'),
      'x.budgets',
    );
    expect(b.map((x) => [x.metric.name, x.labels, x.op, x.limit, x.line])).toEqual([
      ['blk.flush.p99', {}, '<=', 20e6, 3],
      ['blk.latency.p99', { op: 'write', vm: 'my vm' }, '<', 2e6, 4],
      ['blk.never_flushed', {}, '==', 0, 5],
    ]);
    expect(b[1]!.text).toBe('blk.latency.p99{op=write,vm=my vm} < 2 ms');
  });

  it('names the file, the line and the key of every mistake', () => {
    const e = error(['blk.flush.p99 <= 20ms', 'blk.flush.p98 <= 20ms', 'blk.latency.p99{opx=write} <= 2ms', 'blk.flush.p99 =< 3ms', 'blk.flush.p99 <= 20', 'nonsense'].join('\n'));
    const lines = e.split('\n');
    expect(lines[0]).toBe("b.budgets:2: metric: unknown metric 'blk.flush.p98'; known: blk.flush.p50, blk.flush.p90, blk.flush.p99, blk.flush.max");
    expect(lines[1]).toBe("b.budgets:3: labels.opx: blk.latency.p99 has no label 'opx' (its labels: vm, dev, op)");
    expect(lines[2]).toBe('b.budgets:4: op: the comparison is one of <= < >= > ==');
    expect(lines[3]).toBe('b.budgets:5: limit: blk.flush.p99: a duration needs a unit (ns, us, µs, ms, s), e.g. 20ms');
    expect(lines[4]).toMatch(/^b\.budgets:6: expected `metric\{label=value,\.\.\.\} OP limit`/);
    expect(lines).toHaveLength(5);
  });

  it('refuses an empty file', () => {
    expect(error('# nothing\n')).toBe('b.budgets: no budgets in the file');
  });
});

describe('the JSON format', () => {
  it('reads the same budgets as the line format', () => {
    const json = JSON.stringify({ budgets: [{ metric: 'blk.flush.p99', op: '<=', limit: '20ms' }, { metric: 'blk.latency.p99', labels: { op: 'write' }, op: '<', limit: '2 ms' }] }, null, 2);
    const a = parseBudgets(json, 'b.json').map((b) => b.text);
    const b = parseBudgets('blk.flush.p99 <= 20ms\nblk.latency.p99{op=write} < 2 ms', 'b.budgets').map((x) => x.text);
    expect(a).toEqual(b);
  });

  it('names the line of the bad key', () => {
    const text = `{
  "budgets": [
    {"metric": "blk.flush.p99", "op": "<=", "limit": "20ms"},
    {"metric": "blk.latency.p99",
     "labels": {"qq": "x"},
     "op": "<", "limit": "4ms",
     "extra": 1}
  ]
}`;
    expect(error(text, 'b.json').split('\n')).toEqual([
      'b.json:7: budgets[1].extra: unknown key; a budget has metric, labels, op, limit',
      "b.json:5: budgets[1].labels.qq: blk.latency.p99 has no label 'qq' (its labels: vm, dev, op)",
    ]);
    expect(error('{"budgets": [\n  {"metric": "blk.flush.p99" "op": "<="}]}', 'b.json')).toBe("b.json:2: not valid JSON: expected ',' or '}', found '\"'");
    expect(error('{"budget": []}', 'b.json')).toMatch(/^b\.json:1: budgets: /);
  });
});

describe('a budget flips exactly at its limit', () => {
  it('for every comparison', () => {
    expect([meets(20, '<=', 20), meets(20 + 1e-9, '<=', 20)]).toEqual([true, false]);
    expect([meets(20 - 1e-9, '<', 20), meets(20, '<', 20)]).toEqual([true, false]);
    expect([meets(0.9, '>=', 0.9), meets(0.9 - 1e-9, '>=', 0.9)]).toEqual([true, false]);
    expect([meets(0.9 + 1e-9, '>', 0.9), meets(0.9, '>', 0.9)]).toEqual([true, false]);
    expect([meets(0, '==', 0), meets(1, '==', 0)]).toEqual([true, false]);
    expect(meets(Infinity, '<=', 100e6)).toBe(false);
  });
});

describe('the example budgets files', () => {
  it('parse, and name only registered metrics', () => {
    for (const f of ['budgets/real-traces.budgets', 'budgets/sound-breaks.budgets', 'budgets/real-traces.json']) {
      const b = loadBudgets(f);
      expect(b.length).toBeGreaterThan(0);
      for (const x of b) expect(METRICS).toContain(x.metric);
    }
  });

  it('the JSON example says what the line example says', () => {
    expect(loadBudgets('budgets/real-traces.json').map((b) => b.text)).toEqual(loadBudgets('budgets/real-traces.budgets').map((b) => b.text));
    expect(JSON.parse(readFileSync('budgets/real-traces.json', 'utf8')).budgets.length).toBeGreaterThan(0);
  });
});
