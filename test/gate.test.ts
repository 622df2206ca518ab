/**
 * The gate on real traces, with answers known from the traces themselves: budgets that flip exactly
 * at a figure the raw lines give, a never-flushed write, metrics without data, and baseline
 * comparisons of real runs (one of them an edited copy with a delay injected into chosen
 * completions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type Ingested } from '../src/api/ingest.ts';
import { loadBudgets, parseBudgets } from '../src/gate/budgets.ts';
import { evaluateBudgets, type GateOptions, type GateResult } from '../src/gate/evaluate.ts';
import { ARM64_VIRT, lineOf, lines, MICROVM_LEGACY, MICROVM_MODERN, Q35_PCI, real, tempDir, writeTrace } from './helpers.ts';

const stores: Ingested[] = [];
async function open(file: string): Promise<Ingested> {
  const r = await ingest({ files: [file], db: ':memory:' });
  stores.push(r);
  return r;
}
afterAll(() => {
  for (const s of stores) s.store.close();
});

async function gate(run: Ingested, budgets: string, o: Partial<GateOptions> = {}): Promise<GateResult> {
  return evaluateBudgets(run.store.conn, parseBudgets(budgets, 'test.budgets'), o);
}

const verdicts = (g: GateResult) => g.budgets.map((b) => `${b.budget.text}: ${b.verdict}`);

/**
 * A copy of a QEMU log in which the backend stalls `delayUs` at every chosen write completion: that
 * line and every line after it happen that much later, so the write's latency (and the wait of every
 * earlier write for the flush) grows by exactly the delay, and the log stays in time order.
 */
function injectWriteDelay(ls: string[], delayUs: number, chosen: (writeIndex: number) => boolean): string[] {
  const opOfReq = new Map<string, string>();
  let shift = 0;
  let writes = 0;
  return ls.map((l) => {
    const h = /virtio_blk_handle_(write|read) vdev \S+ req (\S+)/.exec(l);
    if (h) opOfReq.set(h[2]!, h[1]!);
    const c = /virtio_blk_rw_complete vdev \S+ req (\S+)/.exec(l);
    if (c && opOfReq.get(c[1]!) === 'write' && chosen(writes++)) shift += delayUs;
    if (shift === 0) return l;
    const m = /^(\d+)@(\d+)\.(\d{6}):/.exec(l);
    if (!m) return l;
    const us = Number(m[2]) * 1e6 + Number(m[3]) + shift;
    return `${m[1]}@${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}:${l.slice(m[0].length)}`;
  });
}

let modern: Ingested;
beforeAll(async () => {
  modern = await open(MICROVM_MODERN);
});

describe('budgets on the bundled real traces', () => {
  it('budgets/real-traces.budgets holds on every QEMU 7.2 capture', async () => {
    const budgets = loadBudgets('budgets/real-traces.budgets');
    for (const f of [MICROVM_MODERN, MICROVM_LEGACY, ARM64_VIRT, Q35_PCI, real('qemu-7.2/q35-gpu.trace.gz')]) {
      const run = f === MICROVM_MODERN ? modern : await open(f);
      const g = await evaluateBudgets(run.store.conn, budgets);
      expect({ f, verdicts: verdicts(g) }).toEqual({ f, verdicts: budgets.map((b) => `${b.text}: PASS`) });
      expect(g.passed).toBe(true);
    }
  });

  it('budgets/sound-breaks.budgets: none-duplex breaks it (the burst and its extra underrun), wav-playback meets it', async () => {
    const budgets = loadBudgets('budgets/sound-breaks.budgets');
    const nd = await evaluateBudgets((await open(real('qemu-10.0-sound/none-duplex.trace.gz'))).store.conn, budgets);
    expect(nd.passed).toBe(false);
    expect(nd.budgets.map((b) => [b.budget.metric.name, b.verdict, b.rows.map((r) => r.value)])).toEqual([
      ['audio.bursts', 'FAIL', [1]],
      ['audio.underruns', 'FAIL', [3]],
      ['audio.overruns', 'PASS', [1]],
    ]);
    const wav = await evaluateBudgets((await open(real('qemu-10.0-sound/wav-playback.trace.gz'))).store.conn, budgets);
    expect(verdicts(wav)).toEqual(budgets.map((b) => `${b.text}: PASS`));
  });
});

describe('a budget flips exactly at the figure', () => {
  // From the raw lines of microvm-modern: the median 4 KiB write took 50 µs pop to fill; the first
  // write completed 96.099 ms before the only FLUSH did.
  it('write latency p50 = 50 µs', async () => {
    const g = await gate(modern, ['blk.latency.p50{op=write} <= 50us', 'blk.latency.p50{op=write} < 50us', 'blk.latency.p50{op=write} <= 49999ns', 'blk.latency.p50{op=write} >= 50000ns'].join('\n'));
    expect(g.budgets.map((b) => b.verdict)).toEqual(['PASS', 'FAIL', 'FAIL', 'PASS']);
    expect(g.budgets[0]!.rows[0]!.value).toBe(50_000);
  });

  it('time to durable max = 96.099 ms, with the writes beyond the window counted', async () => {
    const ls = lines(MICROVM_MODERN);
    const firstWriteDone = lineOf(ls, /virtqueue_fill .*len 1 idx/, lineOf(ls, /virtio_blk_handle_write/));
    const flushPop = lineOf(ls, /virtqueue_pop/, lineOf(ls, /virtio_blk_handle_write .*nsectors 512/));
    const flushDone = lineOf(ls, /virtqueue_fill/, flushPop);
    const us = (n: number) => Number(/@\d+\.(\d{6}):/.exec(ls[n - 1]!)![1]);
    expect((us(flushDone) - us(firstWriteDone)) * 1000).toBe(96_099_000);

    const g = await gate(modern, 'blk.time_to_durable.max <= 96.099ms\nblk.time_to_durable.max <= 96.098ms\nblk.time_to_durable.max <= 50ms');
    expect(g.budgets.map((b) => b.verdict)).toEqual(['PASS', 'FAIL', 'FAIL']);
    expect(g.budgets.map((b) => b.rows[0]!.beyond)).toEqual([
      { count: 0, of: 257, infinite: 0, noun: 'writes' },
      { count: 1, of: 257, infinite: 0, noun: 'writes' },
      { count: 183, of: 257, infinite: 0, noun: 'writes' },
    ]);
  });
});

describe('a gate never passes on what it cannot see', () => {
  it('writes no flush followed are infinitely late, not left out', async () => {
    const ls = lines(MICROVM_MODERN);
    // cut the log just before the FLUSH is popped (after the 256 KiB write of the fsync step)
    const cut = lineOf(ls, /virtqueue_pop/, lineOf(ls, /virtio_blk_handle_write .*nsectors 512/) + 1);
    const run = await open(writeTrace(tempDir(), 'no-flush.trace.gz', ls.slice(0, cut - 1)));
    const g = await gate(run, 'blk.time_to_durable.max <= 1s\nblk.time_to_durable.p50 <= 1s\nblk.never_flushed == 0');
    expect(g.budgets.map((b) => [b.verdict, b.rows[0]!.value])).toEqual([
      ['FAIL', Infinity],
      ['FAIL', Infinity],
      ['FAIL', 257],
    ]);
    expect(g.budgets[0]!.rows[0]!.beyond).toEqual({ count: 257, of: 257, infinite: 257, noun: 'writes' });
  });

  it('a metric whose view is absent, or a filter matching nothing, is NO-DATA and fails unless allowed', async () => {
    const text = 'blk.guest.latency.p99 <= 1ms\nblk.latency.p99{op=writ} <= 1ms\naudio.underruns == 0';
    const g = await gate(modern, text);
    expect(g.budgets.map((b) => b.verdict)).toEqual(['NO-DATA', 'NO-DATA', 'NO-DATA']);
    expect(g.budgets[0]!.why).toBe('no rows: nothing in this store for blk.guest.latency.p99 to measure'); // no guest trace
    expect(g.budgets[1]!.why).toBe('no row with op=writ (present op: discard_or_write_zeroes, flush, read, write)');
    expect(g.budgets[2]!.why).toBe('no rows: nothing in this store for audio.underruns to measure');
    expect(g.passed).toBe(false);
    expect((await gate(modern, text, { allowNoData: true })).passed).toBe(true);
  });
});

describe('against a baseline', () => {
  const BUDGETS = loadBudgets('budgets/real-traces.budgets');
  const compare = async (cand: Ingested, base: Ingested, o: Partial<GateOptions> = {}) =>
    evaluateBudgets(cand.store.conn, BUDGETS, { baseline: base.store.conn, ...o });
  const regressed = (g: GateResult) => g.budgets.filter((b) => b.verdict === 'REGRESSION').map((b) => b.budget.text);

  it('a run against itself: every change 0, nothing regresses', async () => {
    const again = await open(MICROVM_MODERN);
    const g = await compare(again, modern, { tolerance: 0 });
    expect(g.passed).toBe(true);
    const compared = g.budgets.flatMap((b) => b.rows.filter((r) => r.compare));
    expect(compared.length).toBe(4); // write p50, write p99, read p99, time to durable (one flush: too few to test)
    for (const r of compared) expect(r.compare!.change).toBe(0);
  });

  it('microvm-legacy against microvm-modern, the same guest workload: within 25%, but the legacy transport makes writes 14% slower', async () => {
    const legacy = await open(MICROVM_LEGACY);
    expect((await compare(legacy, modern, { tolerance: 0.25 })).passed).toBe(true);
    const tight = await compare(legacy, modern, { tolerance: 0.05 });
    expect(regressed(tight)).toEqual(['blk.latency.p50{op=write} <= 200 us']);
    const c = tight.budgets[0]!.rows[0]!.compare!;
    expect(c.change).toBeCloseTo(57 / 50 - 1, 9);
    expect(c.low).toBeGreaterThan(0.05);
    // the other way round it is an improvement, never a regression
    expect((await compare(modern, legacy, { tolerance: 0 })).budgets.filter((b) => b.verdict === 'REGRESSION')).toEqual([]);
  });

  it('30 µs injected into every write completion: the median regresses; the p99 of 257 writes cannot tell', async () => {
    const slow = await open(writeTrace(tempDir(), 'slow.trace.gz', injectWriteDelay(lines(MICROVM_MODERN), 30, () => true)));
    const g = await compare(slow, modern);
    expect(g.passed).toBe(false);
    expect(regressed(g)).toEqual(['blk.latency.p50{op=write} <= 200 us']);
    const [p50, p99] = [g.budgets[0]!.rows[0]!.compare!, g.budgets[1]!.rows[0]!.compare!];
    expect([p50.baseline, p50.candidate]).toEqual([50_000, 80_000]);
    // +24% at p99, but its interval spans no change: a p99 rests on the 3 slowest of 257
    expect(p99.change).toBeGreaterThan(0.2);
    expect(p99.low).toBeLessThan(0);
    // the budgets themselves still hold: only the comparison fails the gate
    expect(g.budgets.every((b) => b.rows.every((r) => r.verdict === 'PASS'))).toBe(true);
  });

  it('120 µs injected: the tail and the durability window regress too; one stalled write regresses nothing', async () => {
    const ls = lines(MICROVM_MODERN);
    const dir = tempDir();
    const slow = await open(writeTrace(dir, 'slower.trace.gz', injectWriteDelay(ls, 120, () => true)));
    expect(regressed(await compare(slow, modern))).toEqual(['blk.latency.p50{op=write} <= 200 us', 'blk.latency.p99{op=write} <= 5 ms', 'blk.time_to_durable.max <= 250 ms']);
    const once = await open(writeTrace(dir, 'once.trace.gz', injectWriteDelay(ls, 120, (i) => i === 100)));
    expect(regressed(await compare(once, modern))).toEqual([]);
  });
});
