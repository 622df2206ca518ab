/**
 * Ingest: trace files -> replay -> checks -> a DuckDB store (file or memory). Every front end
 * (check, perf, the explorer, notebooks) reads its answers from the store this writes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attachRawLines } from '../checks/evidence.ts';
import { ANALYSES } from '../analyses/registry.ts';
import type { Profile } from '../checks/rule.ts';
import { runChecks } from '../checks/runner.ts';
import { InputError } from '../ingest/errors.ts';
import { STAT_DECLARATIONS } from '../ingest/stats.ts';
import { COMMON_FIELDS, Event } from '../model/events.ts';
import type { AssumedDriver } from '../model/features.ts';
import { hexBits } from '../model/features.ts';
import type { Platform } from '../model/platform.ts';
import { run, type Run } from '../pipeline.ts';
import { MEMORY, StoreWriter, type RowWriter, type StoreHandle, type StoreWriting } from '../perf/store.ts';
import { ThreadedStoreWriter } from '../perf/store-client.ts';
import { BatchBuilder } from '../perf/store-columns.ts';
import { DEVICES, EVENT_ROWS, EVENT_TEXTS, FINDINGS, META, SCHEMA_VERSION, SPANS, STATS, TRACES, type DeviceRow, type TableDecl } from '../perf/tables.ts';

export const QUERIES_DIR = fileURLToPath(new URL('../../queries/', import.meta.url));
export const TOOL_VERSION = '0.1.0';

export interface IngestOptions {
  files: string[];
  vms?: (string | undefined)[];
  format?: string;
  /** database file, or ':memory:' */
  db: string;
  assumeDriver?: AssumedDriver;
  /** the platform manifest (YAML or JSON) for what no trace shows */
  manifest?: string;
  profile?: Profile;
  /** bad input counters of severity error/data-loss make the ingest fail */
  strict?: boolean;
  /** host KVM traces: a device tree blob or JSON map of virtio-mmio windows */
  deviceMap?: string;
  /** who writes a store file: its worker thread (the default) or this thread (the plain reference path) */
  storeThread?: 'worker' | 'main';
  /** told the stage and the events replayed so far, after every batch */
  onProgress?: (p: IngestProgress) => void;
}

export interface IngestProgress {
  stage: 'reading traces' | 'judging' | 'writing the store';
  events: number;
}

export interface Ingested {
  store: StoreHandle;
  run: Run;
  timings: IngestTimings;
  /** temporary files of killed runs that were removed before this one */
  swept: string[];
}

/** Where an ingest's time went, in seconds of wall time on the main thread. */
export interface IngestTimings {
  total: number;
  /** reading, tokenizing, merging, attribution, replay and analyses (the pipeline) */
  pipeline: number;
  /** handing rows to the store, waiting for it, and its final write */
  store: number;
  /** the rule catalogue and the evidence lines it quotes */
  checks: number;
  /** bytes of the input files as given (compressed ones: their compressed size) */
  bytes: number;
  /** CPU seconds the store's worker thread spent (undefined: the store was written in this thread) */
  storeWorkerCpu?: number;
}

/**
 * The kind-specific fields of each kind, in schema order: the `fields` JSON of the events table;
 * each with its text before the value when it comes first (`{"key":`) and after another (`,"key":`).
 */
const FIELD_KEYS = new Map(
  Event.options.map((o) => [
    o.shape.kind.value,
    Object.keys(o.shape)
      .filter((k) => !COMMON_FIELDS.has(k))
      .map((k) => ({ key: k, first: `{${JSON.stringify(k)}:`, next: `,${JSON.stringify(k)}:` })),
  ]),
);

/** The same event gives the same text whatever source it came from (key order is the schema's). */
function fieldsJson(e: Event): string {
  let out = '';
  for (const f of FIELD_KEYS.get(e.kind)!) {
    const v = (e as Record<string, unknown>)[f.key];
    if (v === undefined) continue;
    out += (out === '' ? f.first : f.next) + (typeof v === 'number' ? String(v) : JSON.stringify(v));
  }
  return out === '' ? '{}' : out + '}';
}

/** event_rows' columns in a batch (see EVENT_ROWS). */
type EventColumnArrays = [Float64Array, Float64Array, Float64Array, Float64Array, Uint8Array, Float64Array, Float64Array, Float64Array, string[]];

/**
 * The replay's events into the store's event_rows, column by column, with no object per event:
 * vm, dev, kind and file as ids of texts kept here and written to event_texts at the end.
 */
class EventSink {
  private readonly batch = new BatchBuilder(EVENT_ROWS);
  private readonly ids = new Map<string, number>();
  /** the VM and file of the last event, which the next one nearly always shares */
  private last = { vm: '', vmId: -1, file: '', fileId: -1 };
  /** events added so far: the next one's seq */
  count = 0;

  constructor(private readonly store: StoreWriting) {}

  private id(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) this.ids.set(text, (id = this.ids.size));
    return id;
  }

  /** A time the store cannot hold exactly is bad input, not a crash. */
  add(e: Event): void {
    if (!Number.isSafeInteger(e.ts)) throw new InputError(`time ${e.ts} ns is beyond what the store holds exactly (2^53 ns)`, e.src?.file, e.src?.line);
    const r = this.batch.next();
    const c = this.batch.cols as EventColumnArrays;
    c[0][r] = this.count++;
    c[1][r] = e.ts;
    const last = this.last;
    const vm = e.vm ?? '';
    if (vm !== last.vm || last.vmId < 0) last.vmId = this.id((last.vm = vm));
    c[2][r] = last.vmId;
    c[3][r] = e.dev === undefined ? NaN : this.id(e.dev);
    c[4][r] = e.inferred?.includes('dev') ? 1 : 0;
    c[5][r] = this.id(e.kind);
    if (e.src !== undefined && (e.src.file !== last.file || last.fileId < 0)) last.fileId = this.id((last.file = e.src.file));
    c[6][r] = e.src === undefined ? NaN : last.fileId;
    c[7][r] = e.src === undefined ? NaN : e.src.line;
    const fields = fieldsJson(e);
    c[8][r] = fields;
    this.batch.textLength += fields.length;
    if (this.batch.added()) this.store.write(this.batch.take()!);
  }

  /** The last events, and the texts their ids stand for. */
  async finish(): Promise<void> {
    const last = this.batch.take();
    if (last !== undefined) this.store.write(last);
    await this.store.rows(EVENT_TEXTS, [...this.ids].map(([text, id]) => ({ id, text })));
  }
}

/** traces.origin_ns is a HUGEINT: an origin beyond it (10^38 ns) is bad input, not a crash. */
function originFits(ns: bigint, file: string): bigint {
  if (BigInt.asIntN(128, ns) !== ns) throw new InputError(`origin ${ns} ns is beyond what the store holds (2^127 ns)`, file, 1);
  return ns;
}

function deviceRows(platform: Platform): DeviceRow[] {
  return platform.allDevices().map((d) => {
    const t = d.type();
    const accepted = d.lastAccepted();
    const offered = [d.offered, ...d.status.sessions.map((s) => s.offered)].filter((o) => o !== undefined);
    return {
      vm: d.vm,
      dev: d.id,
      type: t?.name ?? null,
      type_how: t?.how ?? null,
      type_why: t?.why ?? null,
      type_basis: t?.basis ?? null,
      transport: d.transport ?? null,
      mmio_version: d.mmio?.version ?? null,
      sessions: d.status.count,
      features_accepted: accepted ? hexBits(accepted.bits) : null,
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

function fileSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0; // the adapter names the file and what is wrong with it
  }
}

export async function ingest(opts: IngestOptions): Promise<Ingested> {
  const t0 = performance.now();
  // a bad manifest is the user's error, found before any work
  // the YAML parser is loaded only for a manifest: every command pays for what it imports at start
  const manifest = opts.manifest !== undefined ? (await import('../ingest/manifest.ts')).readManifest(opts.manifest) : undefined;
  let inStore = 0;
  const bytes = opts.files.reduce((n, f) => n + fileSize(f), 0);
  // a store file is written by the worker whatever the input's size: DuckDB loads and writes on the
  // second core while this one replays (a 5 k-line `check`: 0.75 -> 0.68 s); a store in memory is this thread's
  const threaded = opts.db !== MEMORY && opts.storeThread !== 'main';
  const store: StoreWriting = threaded ? await ThreadedStoreWriter.create(opts.db, opts.files) : await StoreWriter.create(opts.db, opts.files);
  try {
    await store.table(EVENT_ROWS);
    const events = new EventSink(store);
    const spans = await store.table(SPANS);
    const analysisTables = new Map<string, RowWriter<unknown>>();
    for (const a of ANALYSES) {
      for (const t of a.tables as TableDecl<unknown>[]) analysisTables.set(t.name, await store.table(t));
    }
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
        const t = performance.now();
        for (const e of batch) events.add(e);
        await store.flushSome();
        inStore += performance.now() - t;
        opts.onProgress?.({ stage: 'reading traces', events: events.count });
      },
      onSpan: (s) => spans.add(s),
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
    await events.finish();
    // the replay is over: the events and spans are complete, and go to disk while the checks run
    await store.complete([EVENT_ROWS, EVENT_TEXTS, SPANS] as TableDecl<unknown>[]);
    const tRun = performance.now();
    opts.onProgress?.({ stage: 'judging', events: events.count });
    const findings = runChecks(r.platform, { assumeDriver: opts.assumeDriver, manifest, profile: opts.profile });
    await attachRawLines(findings.flatMap((f) => f.evidence));
    const tChecks = performance.now();

    await store.rows(META, [
      { key: 'schema_version', value: SCHEMA_VERSION },
      { key: 'tool', value: `avpscope ${TOOL_VERSION}` },
      { key: 'created', value: new Date().toISOString() },
      { key: 'origin_ns', value: r.originNs.toString() },
      { key: 'assume_driver', value: opts.assumeDriver ?? 'linux' },
      { key: 'manifest', value: opts.manifest ?? '' },
      { key: 'profile', value: opts.profile ?? 'development' },
    ]);
    await store.rows(
      TRACES,
      r.sources.map((s, i) => ({
        trace_id: i, file: s.file, format: s.format, view: s.view, vm: s.vm,
        origin_ns: originFits(s.originNs, s.file), timed: s.timed, lines: s.lines, events: s.events,
      })),
    );
    await store.rows(DEVICES, deviceRows(r.platform));
    await store.rows(
      FINDINGS,
      findings.map((f) => ({
        rule: f.rule, title: f.title, level: f.level, target: f.target, area: f.area, spec: f.spec, source_ref: f.where, vm: f.vm,
        dev: f.dev, dev_type: f.dev_type, dev_type_how: f.dev_type_how, verdict: f.verdict, message: f.message,
        evidence: JSON.stringify(f.evidence.map((e) => ({ file: e.src?.file ?? null, line: e.src?.line ?? null, ts: e.ts, raw: e.raw ?? null }))),
        assumptions: JSON.stringify(f.assumptions), inferred: JSON.stringify(f.inferred),
      })),
    );
    await store.rows(
      STATS,
      r.stats.list().map((s) => ({
        name: s.name, severity: STAT_DECLARATIONS[s.name].severity, count: s.count,
        by_key: JSON.stringify(Object.fromEntries(s.byKey)), samples: JSON.stringify(s.samples),
      })),
    );
    opts.onProgress?.({ stage: 'writing the store', events: events.count });
    for (const v of viewDefinitions()) await store.run(v);
    const handle = await store.commit();
    const t1 = performance.now();
    const pipeline = tRun - t0 - inStore;
    const timings: IngestTimings = {
      total: (t1 - t0) / 1000,
      pipeline: pipeline / 1000,
      store: (t1 - t0 - pipeline - (tChecks - tRun)) / 1000,
      checks: (tChecks - tRun) / 1000,
      bytes,
      storeWorkerCpu: store.workerCpuSeconds,
    };
    return { store: handle, run: r, timings, swept: store.swept };
  } catch (e) {
    store.abort();
    throw e;
  }
}
