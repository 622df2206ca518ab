/**
 * What the explorer and the HTML report read from a store: findings, the trace lines around a
 * finding's evidence, single events, windows of the events table and latency distributions. Every
 * value a user chooses (device, kind, time range, search text) reaches DuckDB as a bound parameter;
 * the SQL text of a query is fixed, so it can be shown as it ran.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { readLines } from '../ingest/lines.ts';
import { queryRows, type Row } from '../perf/store.ts';
import type { EventRow } from '../perf/tables.ts';

/** A query as it runs: fixed text, bound values. */
export interface BoundQuery {
  sql: string;
  params: Record<string, string | number>;
}

export async function run(conn: DuckDBConnection, q: BoundQuery): Promise<Row[]> {
  return queryRows(conn, q.sql, q.params);
}

/** The query with its values written in, for a person to read or paste into duckdb (never run). */
export function showQuery(q: BoundQuery): string {
  const lit = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);
  // longest names first: $dev must not eat the start of $dev2
  const names = Object.keys(q.params).sort((a, b) => b.length - a.length);
  let sql = q.sql;
  for (const n of names) sql = sql.replaceAll(`$${n}`, lit(q.params[n]!));
  return sql;
}

// ---------------------------------------------------------------------------------------------
// Verdicts: known ones get a place and a colour; any other string (a verdict added later) is kept
// and counted as it is.

const VERDICT_ORDER = ['FAIL', 'NOT-OBSERVED', 'DECLARED', 'NOT-APPLICABLE', 'PASS'] as const;

export function verdictRank(v: string): number {
  const i = (VERDICT_ORDER as readonly string[]).indexOf(v);
  return i < 0 ? VERDICT_ORDER.length : i;
}

/** Verdict counts per target (device, driver, platform, or the device type when no target is stored). */
export async function verdictCounts(conn: DuckDBConnection): Promise<{ target: string; verdict: string; n: number }[]> {
  const cols = new Set((await queryRows(conn, "SELECT column_name FROM information_schema.columns WHERE table_name = 'findings'")).map((r) => r.column_name as string));
  const target = cols.has('target') ? "coalesce(target, 'device')" : "CASE WHEN dev IS NULL THEN 'vm' ELSE 'device' END";
  const rows = await queryRows(conn, `SELECT ${target} AS target, verdict, count(*) AS n FROM findings GROUP BY ALL ORDER BY 1, 2`);
  return rows.map((r) => ({ target: r.target as string, verdict: r.verdict as string, n: r.n as number }));
}

// ---------------------------------------------------------------------------------------------
// Evidence in context

export interface ContextLine {
  line: number;
  text: string;
  /** the finding cites this line */
  cited: boolean;
}

export interface EvidenceContext {
  file: string;
  /** where the text came from: the trace file, or the store when the file is gone */
  from: 'trace' | 'store';
  lines: ContextLine[];
}

/**
 * The lines around the cited ones (`radius` each side), read from the trace file in one streamed
 * pass; if the file cannot be read any more, the store's events of those lines stand in for them.
 */
export async function evidenceContext(conn: DuckDBConnection, file: string, cited: number[], radius = 3): Promise<EvidenceContext> {
  const want = new Set<number>();
  for (const c of cited) for (let l = Math.max(1, c - radius); l <= c + radius; l++) want.add(l);
  const last = Math.max(...want);
  const citedSet = new Set(cited);
  const lines: ContextLine[] = [];
  try {
    for await (const b of readLines(file)) {
      for (let i = 0; i < b.lines.length; i++) {
        const n = b.first + i;
        if (want.has(n)) lines.push({ line: n, text: b.lines[i]!, cited: citedSet.has(n) });
      }
      if (b.first + b.lines.length > last) break;
    }
    return { file, from: 'trace', lines };
  } catch {
    const rows = await run(conn, eventsAtLinesQuery(file, Math.max(1, Math.min(...cited) - radius), last));
    return {
      file,
      from: 'store',
      lines: rows.map((r) => ({ line: r.line as number, text: `${r.kind} ${r.dev ?? ''} ${r.fields}`.replace(/ +/g, ' '), cited: citedSet.has(r.line as number) })),
    };
  }
}

const EVENT_COLUMNS = 'seq, ts, vm, dev, dev_inferred, kind, file, line, fields';

/** A row of the events table, its kind's own fields parsed. */
export type StoredEvent = Omit<EventRow, 'fields'> & { fields: Record<string, unknown> };

function toEvent(r: Row): StoredEvent {
  let fields: Record<string, unknown> = {};
  try {
    fields = JSON.parse(r.fields as string) as Record<string, unknown>;
  } catch {
    fields = { fields: r.fields };
  }
  return {
    seq: r.seq as number, ts: r.ts as number, vm: r.vm as string, dev: (r.dev as string | null) ?? null,
    dev_inferred: r.dev_inferred === true, kind: r.kind as string, file: (r.file as string | null) ?? null, line: (r.line as number | null) ?? null, fields,
  };
}

function eventsAtLinesQuery(file: string, from: number, to: number): BoundQuery {
  return { sql: `SELECT ${EVENT_COLUMNS} FROM events WHERE file = $file AND line BETWEEN $from AND $to ORDER BY seq`, params: { file, from, to } };
}

/** The canonical events a trace line became (none for a line the adapter skipped, several for some). */
export async function eventsAtLine(conn: DuckDBConnection, file: string, line: number): Promise<StoredEvent[]> {
  return (await run(conn, eventsAtLinesQuery(file, line, line))).map(toEvent);
}

// ---------------------------------------------------------------------------------------------
// The event browser: keyset windows over events (seq), each read within a range of seq that grows
// until it holds enough rows. DuckDB skips the row groups outside the range (events are stored in
// seq order), so a window costs the same at the end of ten million rows as at the start, instead
// of a top-N over every row after the position.

export interface EventFilter {
  dev?: string;
  kind?: string;
  /** ns on the run clock, inclusive */
  fromNs?: number;
  toNs?: number;
}

function where(f: EventFilter): { clause: string; params: Record<string, string | number> } {
  const parts: string[] = [];
  const params: Record<string, string | number> = {};
  if (f.dev !== undefined) {
    parts.push('dev = $dev');
    params.dev = f.dev;
  }
  if (f.kind !== undefined) {
    parts.push('kind = $kind');
    params.kind = f.kind;
  }
  if (f.fromNs !== undefined) {
    parts.push('ts >= $from_ns');
    params.from_ns = f.fromNs;
  }
  if (f.toNs !== undefined) {
    parts.push('ts <= $to_ns');
    params.to_ns = f.toNs;
  }
  return { clause: parts.length > 0 ? parts.join(' AND ') : 'true', params };
}

export type WindowAt = { after: number } | { before: number } | { from: number } | 'start' | 'end';

/** The first range tried holds this many seqs per row wanted; each retry 16 times more. */
const FIRST_SPAN = 4;
const GROWTH = 16;

/** Forwards from a seq (exclusive) or backwards to one (exclusive), within `span` seqs of it. */
export type Scan = { dir: 'next' | 'prev'; seq: number };

function scanOf(at: WindowAt, maxSeq: number): Scan {
  if (at === 'start') return { dir: 'next', seq: -1 };
  if (at === 'end') return { dir: 'prev', seq: maxSeq + 1 };
  if ('before' in at) return { dir: 'prev', seq: at.before };
  if ('after' in at) return { dir: 'next', seq: at.after };
  return { dir: 'next', seq: at.from - 1 };
}

function rangeClause(s: Scan): string {
  return s.dir === 'next' ? 'seq > $seq AND seq <= $seq + $span' : 'seq < $seq AND seq >= $seq - $span';
}

/** `limit` events of the filter from a position, looking `span` seqs away from it. */
export function eventWindowQuery(f: EventFilter, s: Scan, limit: number, span: number): BoundQuery {
  const w = where(f);
  const params = { ...w.params, seq: s.seq, span, limit };
  const body = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${w.clause} AND ${rangeClause(s)}`;
  return s.dir === 'next'
    ? { sql: `${body} ORDER BY seq LIMIT $limit`, params }
    : { sql: `SELECT * FROM (${body} ORDER BY seq DESC LIMIT $limit) ORDER BY seq`, params };
}

const maxSeqs = new WeakMap<DuckDBConnection, number>();

async function maxSeq(conn: DuckDBConnection): Promise<number> {
  let m = maxSeqs.get(conn);
  if (m === undefined) {
    m = ((await queryRows(conn, 'SELECT coalesce(max(seq), -1) AS m FROM events'))[0]!.m as number) ?? -1;
    maxSeqs.set(conn, m);
  }
  return m;
}

/** Runs `query(span)` with growing spans until `enough` says so or the range covers every seq. */
async function widening(conn: DuckDBConnection, s: Scan, first: number, query: (span: number) => BoundQuery, enough: (rows: Row[]) => boolean, last: (q: BoundQuery) => void): Promise<Row[]> {
  const top = await maxSeq(conn);
  for (let span = Math.max(64, first); ; span *= GROWTH) {
    const q = query(span);
    const rows = await run(conn, q);
    const covered = s.dir === 'next' ? s.seq + span >= top : s.seq - span <= 0;
    if (enough(rows) || covered) {
      last(q);
      return rows;
    }
  }
}

export interface EventWindow {
  events: StoredEvent[];
  /** the query that read them, as it last ran */
  query: BoundQuery;
}

export async function eventWindow(conn: DuckDBConnection, f: EventFilter, at: WindowAt, limit: number): Promise<EventWindow> {
  const s = scanOf(at, await maxSeq(conn));
  let query!: BoundQuery;
  const rows = await widening(conn, s, limit * FIRST_SPAN, (span) => eventWindowQuery(f, s, limit, span), (r) => r.length >= limit, (q) => (query = q));
  return { events: rows.map(toEvent), query };
}

/** The next (or previous) event of the filter whose kind, device or fields contain `text`, case-insensitive. */
export function searchQuery(f: EventFilter, text: string, s: Scan, span: number): BoundQuery {
  const w = where(f);
  return {
    sql: `SELECT ${EVENT_COLUMNS} FROM events WHERE ${w.clause} AND ${rangeClause(s)}
  AND (contains(lower(kind), $text) OR contains(lower(coalesce(dev, '')), $text) OR contains(lower(fields), $text))
ORDER BY seq ${s.dir === 'next' ? 'ASC' : 'DESC'} LIMIT 1`,
    params: { ...w.params, seq: s.seq, span, text: text.toLowerCase() },
  };
}

export async function searchEvent(conn: DuckDBConnection, f: EventFilter, text: string, fromSeq: number, dir: 'next' | 'prev'): Promise<{ event: StoredEvent | null; query: BoundQuery }> {
  const s: Scan = { dir, seq: fromSeq };
  let query!: BoundQuery;
  const rows = await widening(conn, s, 4096, (span) => searchQuery(f, text, s, span), (r) => r.length > 0, (q) => (query = q));
  return { event: rows.length > 0 ? toEvent(rows[0]!) : null, query };
}

export async function countEvents(conn: DuckDBConnection, f: EventFilter): Promise<number> {
  const w = where(f);
  return (await queryRows(conn, `SELECT count(*) AS n FROM events WHERE ${w.clause}`, w.params))[0]!.n as number;
}

/** The choices the filters cycle through: devices and kinds present, the run's time span. */
export async function eventFacets(conn: DuckDBConnection): Promise<{ devs: string[]; kinds: string[]; minTs: number; maxTs: number }> {
  const devs = (await queryRows(conn, 'SELECT dev FROM devices ORDER BY vm, first_ts')).map((r) => r.dev as string);
  const kinds = (await queryRows(conn, 'SELECT DISTINCT kind FROM events ORDER BY kind')).map((r) => r.kind as string);
  const span = (await queryRows(conn, 'SELECT coalesce(min(ts), 0) AS lo, coalesce(max(ts), 0) AS hi FROM events'))[0]!;
  return { devs, kinds, minTs: span.lo as number, maxTs: span.hi as number };
}

// ---------------------------------------------------------------------------------------------
// Latency per device and op, for each domain: one SELECT of (vm, dev, op, ts, ns) over the store's
// views, and the same distribution queries over each.

export type LatencyDomain = 'block' | 'gpu' | 'audio';

export const LATENCY_SOURCES: Record<LatencyDomain, { title: string; what: string; sql: string }> = {
  block: {
    title: 'block',
    what: 'virtio-blk request latency, device side: pop → used element written (blk_requests)',
    sql: 'SELECT vm, dev, op, t_pop AS ts, latency_ns AS ns FROM blk_requests WHERE latency_ns IS NOT NULL',
  },
  gpu: {
    title: 'GPU',
    what: "virtio-gpu command latency, submitted → completed, per side: QEMU's log (host) and the guest's ftrace (guest) (gpu_cmd_sides)",
    sql: "SELECT vm, side AS dev, type_name AS op, submit_ns AS ts, latency_ns AS ns FROM gpu_cmd_sides WHERE latency_ns IS NOT NULL",
  },
  audio: {
    title: 'audio',
    what: 'virtio-sound period returns: the interval between device ticks of each PCM stream (pcm_ticks); underruns and overruns marked',
    sql: "SELECT vm, dev, 'stream ' || stream AS op, ts, interval_ns AS ns FROM pcm_ticks WHERE interval_ns IS NOT NULL",
  },
};

export interface LatencyGroup {
  vm: string;
  dev: string;
  op: string;
  n: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  max_ns: number;
  t0: number;
  t1: number;
}

export function latencyGroupsQuery(d: LatencyDomain): BoundQuery {
  return {
    sql: `WITH s AS (${LATENCY_SOURCES[d].sql})
SELECT vm, dev, op, count(*) AS n,
       CAST(quantile_cont(ns, 0.5) AS BIGINT) AS p50_ns, CAST(quantile_cont(ns, 0.9) AS BIGINT) AS p90_ns,
       CAST(quantile_cont(ns, 0.99) AS BIGINT) AS p99_ns, max(ns) AS max_ns, min(ts) AS t0, max(ts) AS t1
FROM s GROUP BY vm, dev, op ORDER BY vm, dev, op`,
    params: {},
  };
}

export async function latencyGroups(conn: DuckDBConnection, d: LatencyDomain): Promise<LatencyGroup[]> {
  return (await run(conn, latencyGroupsQuery(d))) as unknown as LatencyGroup[];
}

export type GroupKey = Pick<LatencyGroup, 'vm' | 'dev' | 'op'>;

/** Counts in `bins` log-spaced bins between the group's smallest and largest latency. */
export function latencyHistogramQuery(d: LatencyDomain, g: GroupKey, bins: number): BoundQuery {
  return {
    sql: `WITH s AS (SELECT ns FROM (${LATENCY_SOURCES[d].sql}) WHERE vm = $vm AND dev = $dev AND op = $op AND ns > 0),
r AS (SELECT ln(min(ns)) AS lo, greatest(ln(max(ns)) - ln(min(ns)), 1e-9) AS w FROM s)
SELECT least(CAST(floor((ln(ns) - lo) / w * $bins) AS INTEGER), $bins - 1) AS bin, count(*) AS n,
       CAST(exp(any_value(lo) + least(CAST(floor((ln(ns) - lo) / w * $bins) AS INTEGER), $bins - 1) * any_value(w) / $bins) AS BIGINT) AS lo_ns
FROM s, r GROUP BY bin ORDER BY bin`,
    params: { vm: g.vm, dev: g.dev, op: g.op, bins },
  };
}

export async function latencyHistogram(conn: DuckDBConnection, d: LatencyDomain, g: GroupKey, bins: number): Promise<{ bin: number; n: number; lo_ns: number }[]> {
  return (await run(conn, latencyHistogramQuery(d, g, bins))) as unknown as { bin: number; n: number; lo_ns: number }[];
}

/** The largest latency in each of `buckets` equal slices of the group's time span (null: none in it). */
export function latencyOverTimeQuery(d: LatencyDomain, g: GroupKey, buckets: number): BoundQuery {
  return {
    sql: `WITH s AS (SELECT ts, ns FROM (${LATENCY_SOURCES[d].sql}) WHERE vm = $vm AND dev = $dev AND op = $op),
r AS (SELECT min(ts) AS lo, greatest(max(ts) - min(ts), 1) AS w FROM s)
SELECT least(CAST(floor((ts - lo) / w * $buckets) AS INTEGER), $buckets - 1) AS bucket, max(ns) AS max_ns, count(*) AS n
FROM s, r GROUP BY bucket ORDER BY bucket`,
    params: { vm: g.vm, dev: g.dev, op: g.op, buckets },
  };
}

export async function latencyOverTime(conn: DuckDBConnection, d: LatencyDomain, g: GroupKey, buckets: number): Promise<(number | null)[]> {
  const out: (number | null)[] = new Array(buckets).fill(null);
  for (const r of await run(conn, latencyOverTimeQuery(d, g, buckets))) out[r.bucket as number] = r.max_ns as number;
  return out;
}

export interface XrunMark {
  kind: string;
  stream: number;
  t_start: number;
  duration_ns: number;
}

/** Underruns and overruns of a sound device (audio view's marks on the time axis). */
export async function xruns(conn: DuckDBConnection, vm: string, dev: string): Promise<XrunMark[]> {
  return (await queryRows(conn, 'SELECT kind, stream, t_start, duration_ns FROM pcm_xruns WHERE vm = $vm AND dev = $dev ORDER BY t_start', { vm, dev })) as unknown as XrunMark[];
}
