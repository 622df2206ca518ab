/** Block latency and durability, read from the store's views (queries/blk_latency.sql, queries/blk_timing.sql). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from './store.ts';

export interface BlkLatencyRow {
  vm: string;
  dev: string;
  op: string;
  inferred: boolean;
  n: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  max_ns: number;
  bytes: number | null;
}

export interface BlkDurabilityRow {
  vm: string;
  dev: string;
  writes: number;
  covered: number;
  never_flushed: number;
  p50_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
}

export interface UnflushedWrite {
  vm: string;
  dev: string;
  sector: number | null;
  nsectors: number | null;
  write_done: number;
  file: string | null;
  write_line: number | null;
}

export interface BlkQueueRow {
  vm: string;
  dev: string;
  queue: number;
  op: string;
  n: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  max_ns: number;
}

export interface BlkQueueDepthRow {
  vm: string;
  dev: string;
  queue: number;
  max_depth: number;
  busy_ns: number | null;
  span_ns: number;
  mean_busy_depth: number | null;
}

export interface BlkFlushRateRow {
  vm: string;
  dev: string;
  flushes: number;
  written_bytes: number;
  flushes_per_mib: number | null;
}

/** Writes durable within a window; worst_ns is +Infinity when a write was never flushed. */
export interface BlkDurableWindowRow {
  vm: string;
  dev: string;
  window_ns: number;
  writes: number;
  within: number;
  late: number;
  never_flushed: number;
  worst_ns: number | null;
}

export interface BlkPerf {
  timed: boolean;
  latency: BlkLatencyRow[];
  durability: BlkDurabilityRow[];
  unflushed: UnflushedWrite[];
  queues: BlkQueueRow[];
  depth: BlkQueueDepthRow[];
  flush_rate: BlkFlushRateRow[];
  durable_window: BlkDurableWindowRow[];
}

/** The durability window automotive persistence asks about when none is given: 100 ms. */
export const DEFAULT_DURABLE_WINDOW_NS = 100_000_000;

export async function blkPerf(conn: DuckDBConnection, o: { durableWindowNs?: number } = {}): Promise<BlkPerf> {
  const timed = ((await queryRows(conn, 'SELECT bool_and(timed) AS t FROM traces'))[0]?.t ?? false) as boolean;
  const latency = (await queryRows(conn, 'SELECT * FROM blk_latency')) as unknown as BlkLatencyRow[];
  const durability = (await queryRows(conn, 'SELECT * FROM blk_durability')) as unknown as BlkDurabilityRow[];
  const unflushed = (await queryRows(
    conn,
    'SELECT vm, dev, sector, nsectors, write_done, file, write_line FROM blk_time_to_durable WHERE durable_ns IS NULL ORDER BY vm, dev, write_done',
  )) as unknown as UnflushedWrite[];
  const queues = (await queryRows(conn, 'SELECT * FROM blk_queue_latency')) as unknown as BlkQueueRow[];
  const depth = (await queryRows(conn, 'SELECT * FROM blk_queue_depth_summary')) as unknown as BlkQueueDepthRow[];
  const flush_rate = (await queryRows(conn, 'SELECT * FROM blk_flush_rate')) as unknown as BlkFlushRateRow[];
  const durable_window = (await queryRows(conn, 'SELECT * FROM blk_durable_window($w)', {
    w: o.durableWindowNs ?? DEFAULT_DURABLE_WINDOW_NS,
  })) as unknown as BlkDurableWindowRow[];
  return { timed, latency, durability, unflushed, queues, depth, flush_rate, durable_window };
}
