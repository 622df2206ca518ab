/**
 * Ingest: trace files -> replay -> checks -> a DuckDB store (file or memory). Every front end
 * (check, perf, the explorer, notebooks) reads its answers from the store this writes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attachRawLines } from '../checks/evidence.ts';
import { ANALYSES } from '../analyses/registry.ts';
import { runChecks } from '../checks/runner.ts';
import { InputError } from '../ingest/errors.ts';
import { STAT_DECLARATIONS } from '../ingest/stats.ts';
import { COMMON_FIELDS, Event } from '../model/events.ts';
import type { AssumedDriver } from '../model/features.ts';
import { hexBits } from '../model/features.ts';
import type { Platform } from '../model/platform.ts';
import { run, type Run } from '../pipeline.ts';
import { StoreWriter, tsvCell, type StoreHandle, type TableWriter } from '../perf/store.ts';
import { DEVICES, EVENTS, FINDINGS, META, SCHEMA_VERSION, SPANS, STATS, TRACES, type DeviceRow, type TableDecl } from '../perf/tables.ts';

export const QUERIES_DIR = fileURLToPath(new URL('../../queries/', import.meta.url));
export const TOOL_VERSION = '0.1.0';

export interface IngestOptions {
  files: string[];
  vms?: (string | undefined)[];
  format?: string;
  /** database file, or ':memory:' */
  db: string;
  assumeDriver?: AssumedDriver;
  /** bad input counters of severity error/data-loss make the ingest fail */
  strict?: boolean;
  /** host KVM traces: a device tree blob or JSON map of virtio-mmio windows */
  deviceMap?: string;
}

export interface Ingested {
  store: StoreHandle;
  run: Run;
}

/** The kind-specific fields of each kind, in schema order: the `fields` JSON of the events table. */
const FIELD_KEYS = new Map(
  Event.options.map((o) => [o.shape.kind.value, Object.keys(o.shape).filter((k) => !COMMON_FIELDS.has(k)).map((k) => [k, JSON.stringify(k) + ':'] as const)]),
);

/** The same event gives the same text whatever source it came from (key order is the schema's). */
function fieldsJson(e: Event): string {
  let out = '';
  for (const [k, prefix] of FIELD_KEYS.get(e.kind)!) {
    const v = (e as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out += (out.length === 0 ? '{' : ',') + prefix + (typeof v === 'number' ? String(v) : JSON.stringify(v));
  }
  return out.length === 0 ? '{}' : out + '}';
}

/** One row of the events table, as a TSV line (columns in EVENTS' order). */
function eventLine(e: Event, seq: number): string {
  const inferred = e.inferred?.includes('dev') ?? false;
  return `${seq}\t${e.ts}\t${tsvCell(e.vm ?? '')}\t${tsvCell(e.dev)}\t${inferred}\t${e.kind}\t${tsvCell(e.src?.file)}\t${tsvCell(e.src?.line)}\t${fieldsJson(e)}`;
}

function deviceRows(platform: Platform): DeviceRow[] {
  return platform.allDevices().map((d) => {
    const t = d.type();
    const negotiated = d.status.sessions.map((s) => s.accepted()).filter((a) => a !== undefined);
    const offered = d.status.sessions.map((s) => s.offered).filter((o) => o !== undefined);
    return {
      vm: d.vm,
      dev: d.id,
      type: t?.name ?? null,
      type_how: t?.how ?? null,
      type_why: t?.why ?? null,
      transport: d.transport ?? null,
      mmio_version: d.mmio?.version ?? null,
      sessions: d.status.count,
      features_accepted: negotiated.length > 0 ? hexBits(negotiated.at(-1)!.bits) : null,
      features_offered: offered.length > 0 ? hexBits(offered.at(-1)!.bits) : null,
      queues: d.queues.size,
      events: d.events,
      inferred_events: d.inferredEvents,
      first_ts: d.first?.ts ?? null,
      last_ts: d.last?.ts ?? null,
    };
  });
}

/** The named views of queries/*.sql, created in every store. */
export function viewDefinitions(): string[] {
  return readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readFileSync(QUERIES_DIR + f, 'utf8'));
}

export async function ingest(opts: IngestOptions): Promise<Ingested> {
  const store = await StoreWriter.create(opts.db);
  try {
    const events = store.tsv(EVENTS);
    const spans = store.tsv(SPANS);
    const addSpan = spans.rowsOf(SPANS);
    const analysisTables = new Map<string, TableWriter<unknown>>();
    for (const a of ANALYSES) {
      for (const t of a.tables as TableDecl<unknown>[]) analysisTables.set(t.name, await store.table(t));
    }
    let seq = 0;
    const r = await run({
      analyses: {
        list: ANALYSES,
        sink: { add: (t, row) => analysisTables.get(t.name)!.add(row) },
      },
      files: opts.files,
      vms: opts.vms,
      format: opts.format,
      deviceMap: opts.deviceMap,
      onEvents: async (batch) => {
        for (const e of batch) events.add(eventLine(e, seq++));
        await events.flushSome();
      },
      onSpan: addSpan,
    });
    if (opts.strict) {
      const problems = r.stats.problems();
      if (problems.length > 0) {
        const p = problems[0]!;
        const s = p.samples[0];
        throw new InputError(
          `--strict: ${problems.map((x) => `${x.count} ${x.name}`).join(', ')}; first: ${s?.detail ?? ''}`,
          s?.file,
          s?.line,
        );
      }
    }
    const findings = runChecks(r.platform, { assumeDriver: opts.assumeDriver });
    await attachRawLines(findings.flatMap((f) => f.evidence));

    await store.rows(META, [
      { key: 'schema_version', value: SCHEMA_VERSION },
      { key: 'tool', value: `avpscope ${TOOL_VERSION}` },
      { key: 'created', value: new Date().toISOString() },
      { key: 'origin_ns', value: r.originNs.toString() },
      { key: 'assume_driver', value: opts.assumeDriver ?? 'linux' },
    ]);
    await store.rows(
      TRACES,
      r.sources.map((s, i) => ({
        trace_id: i, file: s.file, format: s.format, view: s.view, vm: s.vm,
        origin_ns: s.originNs, timed: s.timed, lines: s.lines, events: s.events,
      })),
    );
    await store.rows(DEVICES, deviceRows(r.platform));
    await store.rows(
      FINDINGS,
      findings.map((f) => ({
        rule: f.rule, title: f.title, level: f.level, spec: f.spec, source_ref: f.where, vm: f.vm,
        dev: f.dev, dev_type: f.dev_type, dev_type_how: f.dev_type_how, verdict: f.verdict, message: f.message,
        evidence: JSON.stringify(f.evidence.map((e) => ({ file: e.src?.file ?? null, line: e.src?.line ?? null, ts: e.ts, raw: e.raw ?? null }))),
      })),
    );
    await store.rows(
      STATS,
      r.stats.list().map((s) => ({
        name: s.name, severity: STAT_DECLARATIONS[s.name].severity, count: s.count,
        by_key: JSON.stringify(Object.fromEntries(s.byKey)), samples: JSON.stringify(s.samples),
      })),
    );
    for (const v of viewDefinitions()) await store.conn.run(v);
    return { store: await store.commit(), run: r };
  } catch (e) {
    store.abort();
    throw e;
  }
}
