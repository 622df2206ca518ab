/** virtio-gpu command latency from both sides, read from the store's views (queries/gpu.sql). */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AlignmentRow } from '../analyses/alignment.ts';
import { gpuQos, type GpuQos } from './gpu-qos.ts';
import { queryRows } from './store.ts';
import { requireViews } from './xlayer.ts';

export interface GpuLatencyRow {
  vm: string;
  queue: number | null;
  type: number;
  type_name: string;
  n: number;
  paired: number;
  guest_only: number;
  host_only: number;
  guest_p50_ns: number | null;
  guest_p99_ns: number | null;
  guest_max_ns: number | null;
  host_p50_ns: number | null;
  host_p99_ns: number | null;
  host_max_ns: number | null;
}

export interface GpuResponseRow {
  vm: string;
  type_name: string;
  resp_name: string | null;
  n: number;
}

export interface GpuPerf {
  alignments: AlignmentRow[];
  latency: GpuLatencyRow[];
  responses: GpuResponseRow[];
  /** commands the two sides name differently */
  mismatched: number;
  /** across VMs; null: the store predates the QoS views */
  qos: GpuQos | null;
}

export async function gpuPerf(conn: DuckDBConnection, where = 'the store', o: Parameters<typeof gpuQos>[1] = {}): Promise<GpuPerf> {
  await requireViews(conn, 'gpu_latency', 'GPU command', where);
  const rows = async <T>(sql: string) => (await queryRows(conn, sql)) as unknown as T[];
  const [m] = await queryRows(conn, 'SELECT count(*) AS n FROM gpu_type_mismatch');
  const [q] = await queryRows(conn, "SELECT count(*) AS n FROM duckdb_views() WHERE view_name = 'gpu_qos_latency'");
  return {
    alignments: await rows<AlignmentRow>('SELECT * FROM clock_alignment ORDER BY vm, guest_file'),
    latency: await rows<GpuLatencyRow>('SELECT * FROM gpu_latency'),
    responses: await rows<GpuResponseRow>('SELECT * FROM gpu_responses'),
    mismatched: (m?.n as number) ?? 0,
    qos: q?.n ? await gpuQos(conn, o) : null,
  };
}
