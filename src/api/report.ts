/**
 * The conformance report, read from a store: the same report whether the store was just written
 * from traces or was written yesterday. Text for people, JSON for machines.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { CATALOGUE } from '../checks/catalogue.ts';
import type { Target, Verdict } from '../checks/rule.ts';
import { deviceTypeName } from '../model/device-types.ts';
import { TARGETS } from '../checks/rule.ts';
import { InputError } from '../ingest/errors.ts';
import { queryRows } from '../perf/store.ts';
import { SCHEMA_VERSION } from '../perf/tables.ts';
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
  target: Target;
  area: string;
  spec: string;
  source_ref: string;
  vm: string;
  dev: string | null;
  dev_type: string | null;
  dev_type_how: string | null;
  verdict: Verdict;
  message: string;
  evidence: EvidenceLine[];
  assumptions: string[];
  inferred: string[];
}

export interface ReportDevice {
  vm: string;
  dev: string;
  type: string | null;
  type_how: string | null;
  type_why: string | null;
  type_basis: string | null;
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
  summary: Summary;
}

/**
 * must_failures and should_failures count what the platform answers for: device and platform
 * (AVPS) requirements. The driver's failures are the guest's, counted apart.
 */
export interface Summary {
  pass: number;
  fail: number;
  not_observed: number;
  not_applicable: number;
  declared: number;
  must_failures: number;
  should_failures: number;
  driver_must_failures: number;
  driver_should_failures: number;
}

/** Which failures make `check` exit 1: device and platform MUSTs (default), also the driver's MUSTs, or any FAIL. */
export type FailOn = 'device+platform' | 'driver' | 'all';

export function failsCheck(s: Summary, failOn: FailOn = 'device+platform'): boolean {
  if (failOn === 'all') return s.fail > 0;
  return s.must_failures > 0 || (failOn === 'driver' && s.driver_must_failures > 0);
}

export async function loadReport(conn: DuckDBConnection): Promise<Report> {
  const version = (await queryRows(conn, "SELECT value FROM meta WHERE key = 'schema_version'"))[0]?.value;
  if (version !== SCHEMA_VERSION) {
    throw new InputError(`the store was written by another avpscope version (schema ${String(version)}, this one reads ${SCHEMA_VERSION}): ingest the traces again`);
  }
  const sources = (await queryRows(conn, 'SELECT file, format, view, vm, lines, events, timed FROM traces ORDER BY trace_id')) as unknown as Report['sources'];
  const devices = (await queryRows(
    conn,
    `SELECT vm, dev, type, type_how, type_why, type_basis, transport, mmio_version, sessions, features_accepted, events, inferred_events
     FROM devices WHERE type IS NOT NULL OR sessions > 0 OR queues > 0 ORDER BY vm, first_ts`,
  )) as unknown as ReportDevice[];
  const findings = (await queryRows(conn, 'SELECT * FROM findings')).map((f) => ({
    ...(f as unknown as ReportFinding),
    evidence: JSON.parse(f.evidence as string) as EvidenceLine[],
    assumptions: JSON.parse(f.assumptions as string) as string[],
    inferred: JSON.parse(f.inferred as string) as string[],
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
  const count = (v: Verdict, level?: string, driver = false) =>
    findings.filter((f) => f.verdict === v && (level === undefined || f.level === level) && (f.target === 'driver') === driver).length;
  const all = (v: Verdict) => findings.filter((f) => f.verdict === v).length;
  return {
    sources,
    devices,
    findings,
    stats,
    inferred_ops,
    summary: {
      pass: all('PASS'),
      fail: all('FAIL'),
      not_observed: all('NOT-OBSERVED'),
      not_applicable: all('NOT-APPLICABLE'),
      declared: all('DECLARED'),
      must_failures: count('FAIL', 'MUST'),
      should_failures: count('FAIL', 'SHOULD'),
      driver_must_failures: count('FAIL', 'MUST', true),
      driver_should_failures: count('FAIL', 'SHOULD', true),
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

const SECTIONS: Record<Target, string> = {
  device: "Device duties (VIRTIO \"the device MUST\": the hypervisor's virtual devices)",
  platform: 'Platform duties (AVPS 2.0)',
  driver: 'Driver duties (VIRTIO "the driver MUST": the guest\'s, reported apart; they change the exit code only with --fail-on driver)',
};

function deviceLine(r: Report, vm: string, dev: string): string {
  const d = r.devices.find((x) => x.vm === vm && x.dev === dev);
  const type = d?.type ? `virtio-${d.type}${d.type_how === 'inferred' ? ` (type inferred: ${d.type_why})` : ''}` : 'type unknown';
  const transport = d?.transport ? `, ${d.transport}${d.mmio_version ? ` v${d.mmio_version}${d.mmio_version === 1 ? ' (legacy)' : ''}` : ''}` : '';
  const inferred = d && d.inferred_events > 0 ? `; ${d.inferred_events} of its ${d.events} events attributed to it by inference` : '';
  return `device ${dev}: ${type}${transport}${inferred}`;
}

/** Device types some rule judges; the others are listed with what is known, and only the general rules apply. */
const JUDGED_TYPES = new Set(CATALOGUE.flatMap((x) => x.deviceTypes ?? []).map(deviceTypeName));

function deviceList(r: Report, vm: string): string[] {
  const ds = r.devices.filter((d) => d.vm === vm);
  if (ds.length === 0) return [];
  return [
    '',
    '  Devices',
    ...ds.map((d) => {
      const what = d.type ? `virtio-${d.type} (${d.type_how}: ${d.type_why})` : 'type unknown (no line names it, and its queues do not show it)';
      const modelled = d.type && !JUDGED_TYPES.has(d.type) ? '; no rule of its device chapter yet: only the general, transport and virtqueue rules judge it' : '';
      const transport = d.transport ? `, ${d.transport}${d.mmio_version ? ` v${d.mmio_version}` : ''}` : '';
      return `    ${d.dev}: ${what}${transport}, ${d.sessions} driver session(s), ${d.events} events${modelled}`;
    }),
  ];
}

export function reportText(r: Report, opts: TextOptions = {}): string {
  const out: string[] = [];
  const paint = (v: string) => {
    if (!opts.color) return v.padEnd(VERDICT_WIDTH);
    const c = v === 'PASS' ? 32 : v === 'FAIL' ? 31 : v === 'NOT-OBSERVED' ? 33 : 36;
    return `\x1b[${c}m${v.padEnd(VERDICT_WIDTH)}\x1b[0m`;
  };
  const perVerdict = opts.evidence ?? 1;
  for (const s of r.sources) {
    out.push(`trace ${s.file}: ${s.format} (${s.view} view), VM ${s.vm}, ${s.lines} lines, ${s.events} events${s.timed ? '' : ', no timestamps'}`);
  }
  const vms = [...new Set(r.findings.map((f) => f.vm))];
  for (const vm of vms) {
    out.push('', `VM ${vm}`, ...deviceList(r, vm));
    for (const target of TARGETS) {
      const inSection = r.findings.filter((x) => x.vm === vm && x.target === target);
      if (inSection.length === 0) continue;
      out.push('', `  ${SECTIONS[target]}`);
      const groups = new Map<string, ReportFinding[]>();
      for (const f of inSection) groups.set(f.dev ?? '', [...(groups.get(f.dev ?? '') ?? []), f]);
      for (const [dev, fs] of groups) {
        out.push(`    ${dev === '' ? 'the VM as a whole (or no device of the kind a requirement names)' : deviceLine(r, vm, dev)}`);
        for (const f of fs) {
          out.push(`      ${paint(f.verdict)} ${f.level.padEnd(6)} ${f.rule.padEnd(38)} ${f.title}`);
          out.push(`      ${''.padEnd(VERDICT_WIDTH)} ${''.padEnd(6)} ${f.message}`);
          const n = f.verdict === 'FAIL' ? Math.max(3, perVerdict) : perVerdict;
          for (const e of f.evidence.slice(0, n)) out.push(`      ${''.padEnd(VERDICT_WIDTH + 7)} at ${evidenceText(e)}`);
        }
      }
    }
  }
  out.push(...inferredSection(r));
  const input = r.stats.filter((s) => s.count > 0);
  if (input.length > 0) {
    out.push('', 'Input:');
    for (const s of input) {
      const keys = Object.entries(s.by_key).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k} ${n}`).join(', ');
      out.push(`  ${s.count} ${s.name} (${s.severity}): ${s.description}${keys ? ` — ${keys}` : ''}`);
      if (s.severity !== 'info' || s.name === 'attribution.unresolved') for (const x of s.samples.slice(0, 3)) out.push(`      ${x.file}:${x.line}: ${x.detail}`);
    }
  }
  out.push('', summaryLine(r.summary));
  return out.join('\n') + '\n';
}

/** What the verdicts rest on that the trace does not show: inferred types and attributions, assumed drivers. */
function inferredSection(r: Report): string[] {
  const notes: string[] = [];
  const inferredDevices = r.devices.filter((d) => d.type_how === 'inferred');
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
  // each assumption or inference once, with the verdicts that rest on it
  const resting = new Map<string, Set<string>>();
  for (const f of r.findings) {
    const who = `${f.rule}${f.dev ? ` (${f.dev})` : ''} ${f.verdict}`;
    for (const a of f.assumptions) resting.set(`assumed: ${a}`, (resting.get(`assumed: ${a}`) ?? new Set()).add(who));
    for (const i of f.inferred) resting.set(`inferred: ${i}`, (resting.get(`inferred: ${i}`) ?? new Set()).add(who));
  }
  for (const [what, who] of resting) notes.push(`${what} — for ${[...who].slice(0, 4).join(', ')}${who.size > 4 ? ` and ${who.size - 4} more` : ''}`);
  return notes.length > 0 ? ['', 'Inferred rather than seen:', ...notes.map((n) => `  - ${n}`)] : [];
}

export function summaryLine(s: Summary): string {
  const counts = [`${s.pass} PASS`, `${s.fail} FAIL`, `${s.not_observed} NOT-OBSERVED`];
  if (s.not_applicable > 0) counts.push(`${s.not_applicable} NOT-APPLICABLE`);
  if (s.declared > 0) counts.push(`${s.declared} DECLARED`);
  const verdict = s.must_failures > 0 ? `${s.must_failures} device or platform MUST requirement(s) FAIL` : 'no device or platform MUST requirement fails';
  const should = s.should_failures > 0 ? `, ${s.should_failures} SHOULD fail` : '';
  const driver = s.driver_must_failures + s.driver_should_failures;
  const drv = driver > 0 ? `; the driver fails ${s.driver_must_failures} MUST and ${s.driver_should_failures} SHOULD requirement(s)` : '';
  return `Summary: ${counts.join(', ')} — ${verdict}${should}${drv}.`;
}

export function reportJson(r: Report): string {
  return JSON.stringify({ tool: 'avpscope', report: 'check', ...r }, null, 2) + '\n';
}
