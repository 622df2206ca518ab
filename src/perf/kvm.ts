/** The host KVM view's latency and joins, read from the store (queries/kvm.sql, src/analyses/kvm). */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { KvmJoinRow } from '../analyses/kvm/tables.ts';
import { queryRows } from './store.ts';

export interface KvmLatencyRow {
  vm: string;
  dev: string;
  kind: 'access' | 'doorbell' | 'inject';
  what: string;
  n: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  max_ns: number;
}

export interface KvmPerf {
  joins: KvmJoinRow[];
  latency: KvmLatencyRow[];
}

export async function kvmPerf(conn: DuckDBConnection): Promise<KvmPerf> {
  const joins = (await queryRows(conn, 'SELECT * FROM kvm_join ORDER BY vm')) as unknown as KvmJoinRow[];
  const latency = (await queryRows(conn, 'SELECT * FROM kvm_latency')) as unknown as KvmLatencyRow[];
  return { joins, latency };
}
