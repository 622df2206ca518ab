/** virtio-gpu QoS across VMs, read from the store's views (queries/gpu_qos.sql; definitions in docs/gpu-qos.md). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { InputError } from '../ingest/errors.ts';
import { queryRows } from './store.ts';

export type Side = 'host' | 'guest';

export interface GpuQosLatencyRow {
  side: Side;
  vm: string;
  queue: number | null;
  ctx: number | null;
  commands: number;
  completed: number;
  p50_ns: number | null;
  p95_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
}

export interface GpuWindowRow {
  side: Side;
  vms: number;
  start_ns: number | null;
  end_ns: number | null;
  window_ns: number | null;
}

export interface GpuShareRow {
  side: Side;
  vm: string;
  submitted: number;
  served: number;
  served_per_s: number | null;
  demand_ratio: number | null;
  busy_ns: number | null;
  share: number | null;
}

export interface GpuFairnessRow {
  side: Side;
  vms: number;
  window_ns: number | null;
  jain_served: number | null;
  jain_device_time: number | null;
  jain_demand: number | null;
}

export interface GpuStarvationRow {
  side: Side;
  vm: string;
  starved_ns: number;
  from_ns: number | null;
  to_ns: number | null;
  cmd_id: number | null;
  waits: number;
}

export interface GpuFramePacingRow {
  vm: string;
  scanout: number | null;
  frames: number;
  fps: number | null;
  target_ns: number;
  p50_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
  jitter_ns: number | null;
  missed: number;
}

export interface GpuInversionRow {
  served_vm: string;
  served_priority: number;
  waiting_vm: string;
  waiting_priority: number;
  inversions: number;
  inverted_ns: number | null;
  max_wait_ns: number | null;
  first_cmd_id: number;
}

export interface GpuQos {
  latency: GpuQosLatencyRow[];
  windows: GpuWindowRow[];
  share: GpuShareRow[];
  fairness: GpuFairnessRow[];
  starvation: GpuStarvationRow[];
  refresh_hz: number;
  pacing: GpuFramePacingRow[];
  /** VM → level, as declared; null: none declared, inversions not judged */
  priorities: Record<string, number> | null;
  inversions: GpuInversionRow[] | null;
}

export const DEFAULT_REFRESH_HZ = 60;

const LEVELS: Record<string, number> = { low: 0, normal: 1, high: 2 };

/** `cluster=high,ivi=1,rear=low` -> { cluster: 2, ivi: 1, rear: 0 }: larger is more important. */
export function parsePriorities(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(.+?)=(.+)$/.exec(part);
    const level = m ? (LEVELS[m[2]!.trim()] ?? (/^-?\d+$/.test(m[2]!.trim()) ? Number(m[2]!.trim()) : undefined)) : undefined;
    if (!m || level === undefined) throw new InputError(`--priority: '${part}' is not VM=LEVEL (LEVEL: low, normal, high or a whole number, larger = more important)`);
    out[m[1]!.trim()] = level;
  }
  if (Object.keys(out).length === 0) throw new InputError('--priority: no VM=LEVEL given');
  return out;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function gpuQos(conn: DuckDBConnection, o: { refreshHz?: number; priorities?: Record<string, number> } = {}): Promise<GpuQos> {
  const rows = async <T>(sql: string, values?: Record<string, number>) => (await queryRows(conn, sql, values)) as unknown as T[];
  const refresh = o.refreshHz ?? DEFAULT_REFRESH_HZ;
  let inversions: GpuInversionRow[] | null = null;
  if (o.priorities) {
    const vms = new Set((await queryRows(conn, 'SELECT DISTINCT vm FROM gpu_commands')).map((r) => String(r.vm)));
    const unknown = Object.keys(o.priorities).filter((v) => !vms.has(v));
    if (unknown.length > 0) throw new InputError(`--priority: no VM ${unknown.map((v) => `'${v}'`).join(', ')} with GPU commands in the run (its VMs: ${[...vms].sort().join(', ') || 'none'})`);
    const map = `MAP {${Object.entries(o.priorities).map(([vm, level]) => `${sqlString(vm)}: ${level}`).join(', ')}}`;
    inversions = await rows<GpuInversionRow>(`SELECT * FROM gpu_priority_inversions(${map})`);
  }
  return {
    latency: await rows<GpuQosLatencyRow>('SELECT * FROM gpu_qos_latency'),
    windows: await rows<GpuWindowRow>("SELECT * FROM gpu_window ORDER BY side = 'guest'"),
    share: await rows<GpuShareRow>('SELECT * FROM gpu_share'),
    fairness: await rows<GpuFairnessRow>('SELECT * FROM gpu_fairness'),
    starvation: await rows<GpuStarvationRow>('SELECT * FROM gpu_starvation'),
    refresh_hz: refresh,
    pacing: await rows<GpuFramePacingRow>('SELECT * FROM gpu_frame_pacing($hz)', { hz: refresh }),
    priorities: o.priorities ?? null,
    inversions,
  };
}
