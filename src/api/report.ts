/**
 * The conformance report, read from a store: the same report whether the store was just written
 * from traces or was written yesterday. Text for people, JSON for machines.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from '../perf/store.ts';
import { STAT_DECLARATIONS, type StatName } from '../ingest/stats.ts';

export interface EvidenceLine {
  file: string | null;
  line: number | null;
  ts: number;
  raw: string | null;
}

export interface ReportFinding {
  rule: string;
  title: string;
  level: string;
  spec: string;
  source_ref: string;
  vm: string;
  dev: string | null;
  dev_type: string | null;
  dev_type_how: string | null;
  verdict: 'PASS' | 'FAIL' | 'NOT-OBSERVED';
  message: string;
  evidence: EvidenceLine[];
}

export interface ReportDevice {
  vm: string;
  dev: string;
  type: string | null;
  type_how: string | null;
  type_why: string | null;
  transport: string | null;
  mmio_version: number | null;
  sessions: number;
  features_accepted: string | null;
  events: number;
  inferred_events: number;
}

export interface ReportStat {
  name: string;
  severity: string;
  description: string;
  count: number;
  by_key: Record<string, number>;
  samples: { file: string; line: number; detail: string }[];
}

export interface Report {
  sources: { file: string; format: string; view: string; vm: string; lines: number; events: number; timed: boolean }[];
  devices: ReportDevice[];
  findings: ReportFinding[];
  stats: ReportStat[];
  inferred_ops: { vm: string; dev: string; op: string; n: number }[];
  summary: { pass: number; fail: number; not_observed: number; must_failures: number; should_failures: number };
}

export async function loadReport(conn: DuckDBConnection): Promise<Report> {
  const sources = (await queryRows(conn, 'SELECT file, format, view, vm, lines, events, timed FROM traces ORDER BY trace_id')) as unknown as Report['sources'];
  const devices = (await queryRows(
    conn,
    `SELECT vm, dev, type, type_how, type_why, transport, mmio_version, sessions, features_accepted, events, inferred_events
     FROM devices WHERE type IS NOT NULL OR sessions > 0 OR queues > 0 ORDER BY vm, first_ts`,
  )) as unknown as ReportDevice[];
  const findings = (await queryRows(conn, 'SELECT * FROM findings')).map((f) => ({
    ...(f as unknown as ReportFinding),
    evidence: JSON.parse(f.evidence as string) as EvidenceLine[],
  }));
  const stats = (await queryRows(conn, 'SELECT * FROM input_stats ORDER BY name')).map((s) => ({
    name: s.name as string,
    severity: s.severity as string,
    description: STAT_DECLARATIONS[s.name as StatName]?.description ?? '',
    count: s.count as number,
    by_key: JSON.parse(s.by_key as string) as Record<string, number>,
    samples: JSON.parse(s.samples as string) as ReportStat['samples'],
  }));
  const inferred_ops = (await queryRows(
    conn,
    'SELECT vm, dev, op, count(*) AS n FROM spans WHERE op_inferred GROUP BY ALL ORDER BY vm, dev, op',
  )) as unknown as Report['inferred_ops'];
  const count = (v: string, level?: string) => findings.filter((f) => f.verdict === v && (level === undefined || f.level === level)).length;
  return {
    sources,
    devices,
    findings,
    stats,
    inferred_ops,
    summary: {
      pass: count('PASS'),
      fail: count('FAIL'),
      not_observed: count('NOT-OBSERVED'),
      must_failures: count('FAIL', 'MUST'),
      should_failures: count('FAIL', 'SHOULD'),
    },
  };
}

const VERDICT_WIDTH = 12;

function evidenceText(e: EvidenceLine): string {
  const where = e.file !== null ? `${e.file}:${e.line}` : `t=${e.ts}`;
  return e.raw !== null ? `${where}: ${e.raw}` : where;
}

export interface TextOptions {
  /** evidence lines shown per verdict (FAIL shows at least 3) */
  evidence?: number;
  color?: boolean;
}

export function reportText(r: Report, opts: TextOptions = {}): string {
  const out: string[] = [];
  const paint = (v: string) => {
    if (!opts.color) return v.padEnd(VERDICT_WIDTH);
    const c = v === 'PASS' ? 32 : v === 'FAIL' ? 31 : 33;
    return `\x1b[${c}m${v.padEnd(VERDICT_WIDTH)}\x1b[0m`;
  };
  const perVerdict = opts.evidence ?? 1;
  for (const s of r.sources) {
    out.push(`trace ${s.file}: ${s.format} (${s.view} view), VM ${s.vm}, ${s.lines} lines, ${s.events} events${s.timed ? '' : ', no timestamps'}`);
  }
  const vms = [...new Set(r.findings.map((f) => f.vm))];
  for (const vm of vms) {
    out.push('', `VM ${vm}`);
    const groups = new Map<string, ReportFinding[]>();
    for (const f of r.findings.filter((x) => x.vm === vm)) {
      const k = f.dev ?? '';
      groups.set(k, [...(groups.get(k) ?? []), f]);
    }
    for (const [dev, fs] of groups) {
      const d = r.devices.find((x) => x.vm === vm && x.dev === dev);
      if (dev === '') out.push('', '  platform (no device of the kind a requirement names, or VM-wide requirements)');
      else {
        const type = d?.type ? `virtio-${d.type}${d.type_how === 'inferred' ? ` (type inferred: ${d.type_why})` : ''}` : 'type unknown';
        const transport = d?.transport ? `, ${d.transport}${d.mmio_version ? ` v${d.mmio_version}${d.mmio_version === 1 ? ' (legacy)' : ''}` : ''}` : '';
        const inferred = d && d.inferred_events > 0 ? `; ${d.inferred_events} of its ${d.events} events attributed to it by inference` : '';
        out.push('', `  device ${dev}: ${type}${transport}${inferred}`);
      }
      for (const f of fs) {
        out.push(`    ${paint(f.verdict)} ${f.level.padEnd(6)} ${f.rule.padEnd(38)} ${f.title}`);
        out.push(`    ${''.padEnd(VERDICT_WIDTH)} ${''.padEnd(6)} ${f.message}`);
        const n = f.verdict === 'FAIL' ? Math.max(3, perVerdict) : perVerdict;
        for (const e of f.evidence.slice(0, n)) out.push(`    ${''.padEnd(VERDICT_WIDTH + 7)} at ${evidenceText(e)}`);
      }
    }
  }
  const inferredDevices = r.devices.filter((d) => d.type_how === 'inferred');
  const notes: string[] = [];
  if (inferredDevices.length > 0) notes.push(`device types inferred, not seen: ${inferredDevices.map((d) => `${d.dev} (${d.type})`).join(', ')}`);
  const attributed = r.devices.filter((d) => d.inferred_events > 0);
  const n = attributed.reduce((a, d) => a + d.inferred_events, 0);
  if (attributed.length > 0 && r.sources.every((s) => s.format === 'host-kvm')) {
    // a host KVM trace names every register access's device by its address; only interrupt lines are learnt
    notes.push(`device of ${n} interrupt events inferred: a virtio-mmio interrupt line is tied to the device whose InterruptStatus read followed a raise of it`);
  } else if (attributed.length > 0) {
    notes.push(
      `device of ${n} events inferred (QEMU's virtio_mmio_*, console, GPU and sound lines name none): ` +
        'attributed through the status and notify writes QEMU echoes with the device',
    );
  }
  for (const o of r.inferred_ops) notes.push(`${o.n} request(s) of ${o.dev} inferred to be ${o.op} from the chain's shape (no event names the type)`);
  if (notes.length > 0) out.push('', 'Inferred rather than seen:', ...notes.map((n) => `  - ${n}`));
  const input = r.stats.filter((s) => s.count > 0);
  if (input.length > 0) {
    out.push('', 'Input:');
    for (const s of input) {
      const keys = Object.entries(s.by_key).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k} ${n}`).join(', ');
      out.push(`  ${s.count} ${s.name} (${s.severity}): ${s.description}${keys ? ` — ${keys}` : ''}`);
      if (s.severity !== 'info' || s.name === 'attribution.unresolved') for (const x of s.samples.slice(0, 3)) out.push(`      ${x.file}:${x.line}: ${x.detail}`);
    }
  }
  const { pass, fail, not_observed, must_failures, should_failures } = r.summary;
  const verdict = must_failures > 0 ? `${must_failures} MUST requirement(s) FAIL` : 'no MUST requirement fails';
  out.push('', `Summary: ${pass} PASS, ${fail} FAIL, ${not_observed} NOT-OBSERVED — ${verdict}${should_failures > 0 ? `, ${should_failures} SHOULD fail` : ''}.`);
  return out.join('\n') + '\n';
}

export function reportJson(r: Report): string {
  return JSON.stringify({ tool: 'avpscope', report: 'check', ...r }, null, 2) + '\n';
}
