/**
 * The store's tables, declared once: the DDL, the bulk writers and the README's table reference
 * all come from these declarations. Times are BIGINT ns on the run's clock (traces.origin_ns is
 * its origin on the first trace's clock); `evidence` and `fields` columns hold JSON text.
 */
import type { Span } from '../model/spans.ts';

/** Integers are BIGINT: every count, index and id a schema admits (a safe integer) fits one. */
export type ColumnType = 'BIGINT' | 'HUGEINT' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN';

export interface Column {
  type: ColumnType;
  doc: string;
}

export interface TableDecl<Row> {
  name: string;
  doc: string;
  columns: { [K in keyof Row]-?: Column };
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

export interface TraceRow {
  trace_id: number;
  file: string;
  format: string;
  view: string;
  vm: string;
  origin_ns: bigint;
  timed: boolean;
  lines: number;
  events: number;
}

export interface DeviceRow {
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
  features_offered: string | null;
  queues: number;
  events: number;
  inferred_events: number;
  first_ts: number | null;
  last_ts: number | null;
}

export interface EventRow {
  seq: number;
  ts: number;
  vm: string;
  dev: string | null;
  dev_inferred: boolean;
  kind: string;
  file: string | null;
  line: number | null;
  fields: string;
}

/** `events` as stored: its low-cardinality text as ids into event_texts (see EVENTS_VIEW). */
export interface EventStoredRow {
  seq: number;
  ts: number;
  vm_id: number;
  dev_id: number | null;
  dev_inferred: boolean;
  kind_id: number;
  file_id: number | null;
  line: number | null;
  fields: string;
}

export interface EventTextRow {
  id: number;
  text: string;
}

export interface FindingRow {
  rule: string;
  title: string;
  level: string;
  target: string;
  area: string;
  spec: string;
  source_ref: string;
  vm: string;
  dev: string | null;
  dev_type: string | null;
  dev_type_how: string | null;
  verdict: string;
  message: string;
  evidence: string;
  assumptions: string;
  inferred: string;
}

export interface StatRow {
  name: string;
  severity: string;
  count: number;
  by_key: string;
  samples: string;
}

export interface MetaRow {
  key: string;
  value: string;
}

export const TRACES: TableDecl<TraceRow> = {
  name: 'traces',
  doc: 'One row per input file.',
  columns: {
    trace_id: { type: 'BIGINT', doc: 'position of the file on the command line, from 0' },
    file: { type: 'VARCHAR', doc: 'path as given' },
    format: { type: 'VARCHAR', doc: 'adapter that read it (qemu-log, jsonl, ...)' },
    view: { type: 'VARCHAR', doc: "'host' (hypervisor) or 'guest' (guest kernel)" },
    vm: { type: 'VARCHAR', doc: 'VM the file belongs to' },
    origin_ns: { type: 'HUGEINT', doc: "ns on the file's clock that its events' ts count from (HUGEINT: origins beyond BIGINT, up to 10^38 ns)" },
    timed: { type: 'BOOLEAN', doc: 'false when the file carries no timestamps' },
    lines: { type: 'BIGINT', doc: 'lines read' },
    events: { type: 'BIGINT', doc: 'canonical events produced' },
  },
};

export const DEVICES: TableDecl<DeviceRow> = {
  name: 'devices',
  doc: 'One row per device instance the replay met.',
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    dev: { type: 'VARCHAR', doc: "device instance id (QEMU: the vdev pointer)" },
    type: { type: 'VARCHAR', doc: 'device type (blk, net, console, rng, gpu, sound, ...)' },
    type_how: { type: 'VARCHAR', doc: "'seen' when the trace names it, 'inferred' otherwise" },
    type_why: { type: 'VARCHAR', doc: 'what the type rests on' },
    type_basis: { type: 'VARCHAR', doc: "'event', 'model-name', 'device-id' or 'queue-shapes' (a guess no type-specific verdict rests on)" },
    transport: { type: 'VARCHAR', doc: "'mmio' or 'pci' when the trace shows it" },
    mmio_version: { type: 'BIGINT', doc: 'virtio-mmio version (1 legacy, 2), inferred from the registers used' },
    sessions: { type: 'BIGINT', doc: 'driver sessions (reset to reset)' },
    features_accepted: { type: 'VARCHAR', doc: 'feature bits the last negotiating driver accepted (hex)' },
    features_offered: { type: 'VARCHAR', doc: 'feature bits the device offered, when the trace shows them (hex)' },
    queues: { type: 'BIGINT', doc: 'queues in use' },
    events: { type: 'BIGINT', doc: 'events naming the device' },
    inferred_events: { type: 'BIGINT', doc: 'of which attributed to it by inference' },
    first_ts: { type: 'BIGINT', doc: 'ns, first event' },
    last_ts: { type: 'BIGINT', doc: 'ns, last event' },
  },
};

/** The view `events` (EVENTS_VIEW): what users query; stored as EVENT_ROWS and EVENT_TEXTS. */
export const EVENTS: TableDecl<EventRow> = {
  name: 'events',
  doc: 'Every canonical event, in replay order (a view over event_rows and event_texts).',
  columns: {
    seq: { type: 'BIGINT', doc: 'position in the replay, from 0' },
    ts: { type: 'BIGINT', doc: 'ns on the run clock' },
    vm: { type: 'VARCHAR', doc: 'VM name' },
    dev: { type: 'VARCHAR', doc: 'device instance, if any' },
    dev_inferred: { type: 'BOOLEAN', doc: 'dev was attributed by inference' },
    kind: { type: 'VARCHAR', doc: 'canonical event kind (see README)' },
    file: { type: 'VARCHAR', doc: 'trace file of the line' },
    line: { type: 'BIGINT', doc: 'line in that file' },
    fields: { type: 'VARCHAR', doc: "the kind's own fields, JSON" },
  },
};

/**
 * The rows of `events` as they are stored: the four text columns whose values repeat (vm, dev, kind,
 * file) are ids into event_texts, so that a row costs DuckDB one text cell (fields) instead of five.
 */
export const EVENT_ROWS: TableDecl<EventStoredRow> = {
  name: 'event_rows',
  doc: 'The events as stored: vm, dev, kind and file as ids into event_texts (query the view `events` instead).',
  columns: {
    seq: { type: 'BIGINT', doc: 'position in the replay, from 0' },
    ts: { type: 'BIGINT', doc: 'ns on the run clock' },
    vm_id: { type: 'BIGINT', doc: 'event_texts.id of the VM name' },
    dev_id: { type: 'BIGINT', doc: 'event_texts.id of the device instance, if any' },
    dev_inferred: { type: 'BOOLEAN', doc: 'dev was attributed by inference' },
    kind_id: { type: 'BIGINT', doc: 'event_texts.id of the kind' },
    file_id: { type: 'BIGINT', doc: 'event_texts.id of the trace file of the line' },
    line: { type: 'BIGINT', doc: 'line in that file' },
    fields: { type: 'VARCHAR', doc: "the kind's own fields, JSON" },
  },
};

export const EVENT_TEXTS: TableDecl<EventTextRow> = {
  name: 'event_texts',
  doc: 'Each VM name, device instance, kind and file name of event_rows once, by id (0, 1, 2, ...).',
  columns: {
    id: { type: 'BIGINT', doc: 'id, from 0, dense' },
    text: { type: 'VARCHAR', doc: 'the text' },
  },
};

/**
 * `events` is the view users query: exactly the columns of EVENTS, in replay order. The texts are
 * looked up by position in one list built per query (a handful of entries), which keeps every
 * plan a scan of event_rows: a query that reads no text column (count, min/max, keyset windows on
 * seq) costs what it cost on a table.
 */
export const EVENTS_VIEW = `CREATE VIEW events AS
SELECT seq, ts, t.texts[vm_id + 1] AS vm, t.texts[dev_id + 1] AS dev, dev_inferred, t.texts[kind_id + 1] AS kind,
  t.texts[file_id + 1] AS file, line, fields
FROM event_rows, (SELECT list(text ORDER BY id) AS texts FROM event_texts) t`;

export const SPANS: TableDecl<Nullable<Span>> = {
  name: 'spans',
  doc: 'One row per completed descriptor chain (request), device side.',
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    dev: { type: 'VARCHAR', doc: 'device instance' },
    queue: { type: 'BIGINT', doc: 'queue index' },
    elem: { type: 'VARCHAR', doc: 'chain token (QEMU: element pointer)' },
    op: { type: 'VARCHAR', doc: 'blk: read, write, flush, discard_or_write_zeroes, get_id, ...' },
    op_inferred: { type: 'BOOLEAN', doc: 'op inferred from the chain shape rather than logged' },
    sector: { type: 'BIGINT', doc: 'first 512-byte sector (blk read/write)' },
    nsectors: { type: 'BIGINT', doc: 'sectors (blk read/write)' },
    bytes: { type: 'BIGINT', doc: 'data bytes moved' },
    status: { type: 'BIGINT', doc: 'blk: VIRTIO_BLK_S_* written' },
    in_num: { type: 'BIGINT', doc: 'device-writable segments' },
    out_num: { type: 'BIGINT', doc: 'device-readable segments' },
    used_len: { type: 'BIGINT', doc: 'bytes the device reported written' },
    t_pop: { type: 'BIGINT', doc: 'ns, device took the chain' },
    t_submit: { type: 'BIGINT', doc: 'ns, blk: request handed to the backend' },
    t_backend: { type: 'BIGINT', doc: 'ns, blk: backend I/O finished' },
    t_complete: { type: 'BIGINT', doc: 'ns, blk: status written' },
    t_fill: { type: 'BIGINT', doc: 'ns, used element written' },
    t_used: { type: 'BIGINT', doc: 'ns, used index published' },
    t_notify: { type: 'BIGINT', doc: 'ns, used-buffer notification sent (null: suppressed or not logged)' },
    latency_ns: { type: 'BIGINT', doc: 'ns from pop to fill' },
    file: { type: 'VARCHAR', doc: 'trace file' },
    pop_line: { type: 'BIGINT', doc: 'line of the pop' },
    fill_line: { type: 'BIGINT', doc: 'line of the fill' },
  },
};

export const FINDINGS: TableDecl<FindingRow> = {
  name: 'findings',
  doc: 'One verdict per requirement and device (or VM).',
  columns: {
    rule: { type: 'VARCHAR', doc: 'requirement id (AVPS-v2.0-5, virtio.init-order, ...)' },
    title: { type: 'VARCHAR', doc: 'what it requires, in short' },
    level: { type: 'VARCHAR', doc: 'MUST, SHOULD or MAY' },
    target: { type: 'VARCHAR', doc: "whose duty: 'device' (the virtual device), 'driver' (the guest) or 'platform' (AVPS)" },
    area: { type: 'VARCHAR', doc: 'spec area (general, transport-mmio, virtqueue, blk, net, ...)' },
    spec: { type: 'VARCHAR', doc: 'AVPS 2.0 or VIRTIO 1.3' },
    source_ref: { type: 'VARCHAR', doc: 'line of AVPS-2.0.txt or VIRTIO section' },
    vm: { type: 'VARCHAR', doc: 'VM name' },
    dev: { type: 'VARCHAR', doc: 'device instance (null: the VM as a whole)' },
    dev_type: { type: 'VARCHAR', doc: 'device type' },
    dev_type_how: { type: 'VARCHAR', doc: "'seen' or 'inferred'" },
    verdict: { type: 'VARCHAR', doc: 'PASS, FAIL, NOT-OBSERVED, NOT-APPLICABLE or DECLARED' },
    message: { type: 'VARCHAR', doc: 'why' },
    evidence: { type: 'VARCHAR', doc: 'JSON list of {file, line, ts, raw}' },
    assumptions: { type: 'VARCHAR', doc: 'JSON list: what the verdict assumes that the trace does not show (an assumed driver, ...)' },
    inferred: { type: 'VARCHAR', doc: 'JSON list: what the verdict rests on that was inferred rather than seen' },
  },
};

export const STATS: TableDecl<StatRow> = {
  name: 'input_stats',
  doc: 'Counters about the input (bad lines, unknown events, ...).',
  columns: {
    name: { type: 'VARCHAR', doc: 'counter (line.malformed, event.unknown, ...)' },
    severity: { type: 'VARCHAR', doc: "'info', 'error' or 'data-loss'" },
    count: { type: 'BIGINT', doc: 'occurrences' },
    by_key: { type: 'VARCHAR', doc: 'JSON object: count per event name' },
    samples: { type: 'VARCHAR', doc: 'JSON list of the first {file, line, detail}' },
  },
};

export const META: TableDecl<MetaRow> = {
  name: 'meta',
  doc: 'About the store: schema version, tool version, run origin.',
  columns: {
    key: { type: 'VARCHAR', doc: 'name' },
    value: { type: 'VARCHAR', doc: 'value' },
  },
};

/** The tables every store has, created when it is opened; the view `events` is created with them. */
export const ALL_TABLES = [META, TRACES, DEVICES, EVENT_ROWS, EVENT_TEXTS, SPANS, FINDINGS, STATS] as const;
/** The views every store has, with the columns each shows. */
export const CORE_VIEWS = [{ decl: EVENTS, sql: EVENTS_VIEW }] as const;

/** 3: events became a view over event_rows and event_texts. */
export const SCHEMA_VERSION = '3';

export function ddl(t: TableDecl<unknown>): string {
  const cols = Object.entries(t.columns as Record<string, Column>).map(([n, c]) => `  ${n} ${c.type}`);
  return `CREATE TABLE ${t.name} (\n${cols.join(',\n')}\n)`;
}
