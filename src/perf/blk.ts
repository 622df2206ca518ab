/** Block latency and durability, read from the store's views (queries/blk_latency.sql). */
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

export interface BlkPerf {
  timed: boolean;
  latency: BlkLatencyRow[];
  durability: BlkDurabilityRow[];
  unflushed: UnflushedWrite[];
}

export async function blkPerf(conn: DuckDBConnection): Promise<BlkPerf> {
  const timed = ((await queryRows(conn, 'SELECT bool_and(timed) AS t FROM traces'))[0]?.t ?? false) as boolean;
  const latency = (await queryRows(conn, 'SELECT * FROM blk_latency')) as unknown as BlkLatencyRow[];
  const durability = (await queryRows(conn, 'SELECT * FROM blk_durability')) as unknown as BlkDurabilityRow[];
  const unflushed = (await queryRows(
    conn,
    'SELECT vm, dev, sector, nsectors, write_done, file, write_line FROM blk_time_to_durable WHERE durable_ns IS NULL ORDER BY vm, dev, write_done',
  )) as unknown as UnflushedWrite[];
  return { timed, latency, durability, unflushed };
}
