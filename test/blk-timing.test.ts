/**
 * The block timing views (queries/blk_timing.sql) on spans whose answers are worked out by hand,
 * and the metric registry against real stores: every metric's SQL runs where its views exist, and
 * the figure a budget judges is the statistic of the samples a baseline test resamples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, viewDefinitions, type Ingested } from '../src/api/ingest.ts';
import { ANALYSES } from '../src/analyses/registry.ts';
import type { Span } from '../src/model/spans.ts';
import { blkPerf } from '../src/perf/blk.ts';
import { METRICS } from '../src/perf/metrics.ts';
import { statisticOf } from '../src/perf/stats.ts';
import { queryRows, StoreWriter, type StoreHandle } from '../src/perf/store.ts';
import { DEVICES, META, SCHEMA_VERSION, SPANS, TRACES, type TableDecl } from '../src/perf/tables.ts';
import { MICROVM_MODERN, real } from './helpers.ts';

const MiB = 1048576;

function span(s: Partial<Span> & Pick<Span, 'op' | 't_pop' | 't_fill'>): Span {
  return {
    vm: 'vm', dev: 'd0', queue: 0, elem: `e${s.t_pop}`, op_inferred: false, sector: null, nsectors: null, bytes: null, status: 0,
    in_num: 1, out_num: 1, used_len: 1, t_submit: null, t_backend: null, t_complete: null, t_used: null, t_notify: null,
    latency_ns: s.t_fill - s.t_pop, file: 'synthetic', pop_line: null, fill_line: null, ...s,
  };
}

/**
 * Queue 0: write A [0, 100] (1 MiB), read B [10, 50], flush C [50, 200] (popped before A completed:
 * does not cover it), flush D [300, 400] (covers A: durable after 300 ns). Queue 1: write E [500, 600]
 * (1 MiB), no flush after it.
 */
const SPANS_BY_HAND = [
  span({ op: 'write', t_pop: 0, t_fill: 100, bytes: MiB }),
  span({ op: 'read', t_pop: 10, t_fill: 50 }),
  span({ op: 'flush', t_pop: 50, t_fill: 200 }),
  span({ op: 'flush', t_pop: 300, t_fill: 400 }),
  span({ op: 'write', t_pop: 500, t_fill: 600, bytes: MiB, queue: 1 }),
];

let byHand: StoreHandle;
beforeAll(async () => {
  const w = await StoreWriter.create(':memory:');
  for (const a of ANALYSES) for (const t of a.tables as TableDecl<unknown>[]) await w.table(t);
  await w.rows(META, [{ key: 'schema_version', value: SCHEMA_VERSION }]);
  await w.rows(TRACES, [{ trace_id: 0, file: 'synthetic', format: 'jsonl', view: 'host', vm: 'vm', origin_ns: 0n, timed: true, lines: 0, events: 0 }]);
  await w.rows(DEVICES, [{
    vm: 'vm', dev: 'd0', type: 'blk', type_how: 'seen', type_why: 'test', type_basis: 'event', transport: 'mmio', mmio_version: 2, sessions: 1,
    features_accepted: null, features_offered: null, queues: 2, events: 0, inferred_events: 0, first_ts: 0, last_ts: 600,
  }]);
  await w.rows(SPANS, SPANS_BY_HAND);
  for (const v of viewDefinitions()) await w.run(v);
  byHand = await w.commit();
});
afterAll(() => byHand.close());

const q = (sql: string) => queryRows(byHand.conn, sql);

describe('block timing views on spans worked out by hand', () => {
  it('queue depth is a step function of pops and fills', async () => {
    expect(await q('SELECT queue, ts, depth, until_ts FROM blk_queue_depth')).toEqual([
      { queue: 0, ts: 0, depth: 1, until_ts: 10 },
      { queue: 0, ts: 10, depth: 2, until_ts: 100 }, // B's fill and C's pop at 50 leave it at 2
      { queue: 0, ts: 100, depth: 1, until_ts: 200 },
      { queue: 0, ts: 200, depth: 0, until_ts: 300 },
      { queue: 0, ts: 300, depth: 1, until_ts: 400 },
      { queue: 0, ts: 400, depth: 0, until_ts: null },
      { queue: 1, ts: 500, depth: 1, until_ts: 600 },
      { queue: 1, ts: 600, depth: 0, until_ts: null },
    ]);
    expect(await q('SELECT queue, max_depth, busy_ns, span_ns, mean_busy_depth FROM blk_queue_depth_summary')).toEqual([
      { queue: 0, max_depth: 2, busy_ns: 300, span_ns: 400, mean_busy_depth: (1 * 10 + 2 * 90 + 1 * 100 + 1 * 100) / 300 },
      { queue: 1, max_depth: 1, busy_ns: 100, span_ns: 100, mean_busy_depth: 1 },
    ]);
  });

  it('flushes per MiB written, and the durability window', async () => {
    expect(await q('SELECT flushes, written_bytes, flushes_per_mib FROM blk_flush_rate')).toEqual([{ flushes: 2, written_bytes: 2 * MiB, flushes_per_mib: 1 }]);
    expect(await q('SELECT write_done, wait_ns, flushed FROM blk_durable_wait ORDER BY write_done')).toEqual([
      { write_done: 100, wait_ns: 300, flushed: true },
      { write_done: 600, wait_ns: Infinity, flushed: false },
    ]);
    const win = (ns: number) => q(`SELECT writes, within, late, never_flushed, worst_ns FROM blk_durable_window(${ns})`);
    expect(await win(299)).toEqual([{ writes: 2, within: 0, late: 1, never_flushed: 1, worst_ns: Infinity }]);
    expect(await win(300)).toEqual([{ writes: 2, within: 1, late: 0, never_flushed: 1, worst_ns: Infinity }]);
  });

  it('per queue latency, and perf blk reads it all', async () => {
    expect(await q('SELECT queue, op, n, max_ns FROM blk_queue_latency')).toEqual([
      { queue: 0, op: 'flush', n: 2, max_ns: 150 },
      { queue: 0, op: 'read', n: 1, max_ns: 40 },
      { queue: 0, op: 'write', n: 1, max_ns: 100 },
      { queue: 1, op: 'write', n: 1, max_ns: 100 },
    ]);
    const p = await blkPerf(byHand.conn, { durableWindowNs: 300 });
    expect(p.durable_window).toEqual([{ vm: 'vm', dev: 'd0', window_ns: 300, writes: 2, within: 1, late: 0, never_flushed: 1, worst_ns: Infinity }]);
    expect(p.depth.map((d) => d.max_depth)).toEqual([2, 1]);
    expect(p.flush_rate[0]!.flushes_per_mib).toBe(1);
  });

  it('the metrics read the same figures', async () => {
    const value = async (name: string) => queryRows(byHand.conn, METRICS.find((m) => m.name === name)!.sql);
    expect(await value('blk.queue.depth.max')).toEqual([
      { vm: 'vm', dev: 'd0', queue: '0', value: 2 },
      { vm: 'vm', dev: 'd0', queue: '1', value: 1 },
    ]);
    expect(await value('blk.time_to_durable.max')).toEqual([{ vm: 'vm', dev: 'd0', value: Infinity }]);
    expect(await value('blk.never_flushed')).toEqual([{ vm: 'vm', dev: 'd0', value: 1 }]);
    expect(await value('blk.flushes_per_mib')).toEqual([{ vm: 'vm', dev: 'd0', value: 1 }]);
    expect(await value('blk.flush.p50')).toEqual([{ vm: 'vm', dev: 'd0', value: 125 }]);
  });
});

describe('the metric registry on real stores', () => {
  const stores: Ingested[] = [];
  beforeAll(async () => {
    for (const files of [
      [MICROVM_MODERN],
      [real('qemu-10.0-sound/none-duplex.trace.gz')],
      [real('guest-ftrace/microvm-modern.qemu.trace.gz'), real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz')],
      [real('guest-ftrace/q35-gpu.qemu.trace.gz'), real('guest-ftrace/q35-gpu.guest-ftrace.txt.gz')],
      [real('kvm/qemu-microvm-mmio.kvm.trace.gz')],
    ]) stores.push(await ingest({ files, db: ':memory:' }));
  });
  afterAll(() => {
    for (const s of stores) s.store.close();
  });

  it('names are unique and every metric has rows in one of the real stores', async () => {
    expect(new Set(METRICS.map((m) => m.name)).size).toBe(METRICS.length);
    for (const m of METRICS) {
      let rows = 0;
      for (const s of stores) rows += (await queryRows(s.store.conn, m.sql)).length;
      expect({ metric: m.name, observed: rows > 0 }).toEqual({ metric: m.name, observed: true });
    }
  });

  it("a sampled metric's value is its statistic of its samples, row by row", async () => {
    let checked = 0;
    for (const s of stores) {
      for (const m of METRICS.filter((x) => x.samples)) {
        const samples = await queryRows(s.store.conn, m.samples!.sql);
        for (const row of await queryRows(s.store.conn, m.sql)) {
          const mine = samples.filter((x) => m.labels.every((l) => String(x[l]) === String(row[l]))).map((x) => x.sample as number);
          const expected = statisticOf(mine.sort((a, b) => a - b), m.samples!.statistic);
          expect({ m: m.name, row, v: row.value }).toEqual({ m: m.name, row, v: expect.closeTo(expected, 3) });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});
