/** Cross-layer block latency and the clock alignment it rests on, read from the store's views (queries/xlayer.sql). */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { AlignmentRow, DeviceMapRow } from '../analyses/alignment.ts';
import type { XlayerRequestRow } from '../analyses/xlayer/tables.ts';
import { InputError } from '../ingest/errors.ts';
import { queryRows } from './store.ts';

export interface XlayerLatencyRow {
  vm: string;
  op: string;
  n: number;
  both_sides: number;
  p50_ns: number;
  p99_ns: number;
  max_ns: number;
}

export interface XlayerLayerRow {
  vm: string;
  op: string;
  layer: string;
  ord: number;
  n: number;
  p50_ns: number;
  p99_ns: number;
  max_ns: number;
  share: number | null;
}

/** A request only one side saw: the columns of its row in xlayer_requests that identify it. */
export type XlayerOneSidedRow = Pick<
  XlayerRequestRow,
  'vm' | 'guest_dev' | 'host_dev' | 'disk' | 'op' | 'rwbs' | 'sector' | 'nsectors' | 'outcome' | 'guest_file' | 'issue_line' | 'host_file' | 'pop_line'
>;

/** A cross-layer finding as the checks judged it, with both sides' lines. */
export interface XlayerFinding {
  rule: string;
  vm: string;
  dev: string | null;
  message: string;
  evidence: { file: string | null; line: number | null; ts: number; raw: string | null }[];
}

export interface XlayerPerf {
  alignments: AlignmentRow[];
  deviceMap: DeviceMapRow[];
  latency: XlayerLatencyRow[];
  layers: XlayerLayerRow[];
  oneSided: XlayerOneSidedRow[];
  findings: XlayerFinding[];
}

/** Fails (exit 2) on a store written before an analysis existed, instead of a SQL error. */
export async function requireViews(conn: DuckDBConnection, view: string, what: string, where: string): Promise<void> {
  const v = await queryRows(conn, 'SELECT count(*) AS n FROM duckdb_views() WHERE view_name = $view', { view });
  if (v[0]?.n === 0) throw new InputError(`the store has no ${what} tables: it was written before that analysis existed; ingest the traces again`, where);
}

export async function xlayerPerf(conn: DuckDBConnection, where = 'the store'): Promise<XlayerPerf> {
  await requireViews(conn, 'xlayer_latency', 'cross-layer', where);
  const rows = async <T>(sql: string) => (await queryRows(conn, sql)) as unknown as T[];
  const findings = (await queryRows(conn, "SELECT rule, vm, dev, message, evidence FROM findings WHERE rule LIKE 'xlayer.%' AND verdict = 'FAIL'")).map((f) => ({
    ...(f as unknown as XlayerFinding),
    evidence: JSON.parse(f.evidence as string) as XlayerFinding['evidence'],
  }));
  return {
    alignments: await rows<AlignmentRow>('SELECT * FROM clock_alignment ORDER BY vm, guest_file'),
    deviceMap: await rows<DeviceMapRow>('SELECT * FROM guest_device_map ORDER BY vm, guest_dev'),
    latency: await rows<XlayerLatencyRow>('SELECT * FROM xlayer_latency'),
    layers: await rows<XlayerLayerRow>('SELECT * FROM xlayer_layer_latency'),
    oneSided: await rows<XlayerOneSidedRow>(
      'SELECT vm, guest_dev, host_dev, disk, op, rwbs, sector, nsectors, outcome, guest_file, issue_line, host_file, pop_line FROM xlayer_one_sided',
    ),
    findings,
  };
}
