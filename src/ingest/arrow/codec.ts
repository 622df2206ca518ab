/**
 * avpscope canonical events as Arrow IPC (stream or file format): the bulk twin of the JSON Lines
 * format, for producers that already speak Arrow. One row per event; the columns are the common
 * fields, and `fields` holds the kind's own fields as JSON text (kinds differ too much for fixed
 * columns). The schema metadata carries what the JSON Lines header carries.
 *
 * | column | Arrow type | |
 * |---|---|---|
 * | ts | Int64 | ns since `origin_ns` |
 * | kind, vm, dev, view, file | Utf8, dictionary-encoded | dev, view, file may be null |
 * | line, cpu | Int32 | source line; CPU that logged it (both may be null) |
 * | inferred | Utf8, dictionary-encoded | comma-separated names of inferred fields, or null |
 * | raw | Utf8 | the original line, or null |
 * | fields | Utf8 | JSON object of the kind's fields |
 *
 * Metadata keys: `avpscope` = "events/1", `origin_ns`, `view`, `vm`, `producer`.
 */
import {
  Dictionary, Int32, Int64, RecordBatchReader, RecordBatchStreamWriter, Schema, Field, Utf8, vectorFromArray, makeData,
  RecordBatch, Struct, type Vector,
} from 'apache-arrow';
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { z } from 'zod';
import { COMMON_FIELDS, Event, SourceHeader } from '../../model/events.ts';
import type { SourceInfo } from '../adapter.ts';
import { InputError } from '../errors.ts';
import { byteStream, STDIN } from '../lines.ts';
import type { Stats } from '../stats.ts';
import { checkedIpc } from './framing.ts';

const FORMAT_TAG = 'events/1';
const ROWS_PER_BATCH = 16384;

const dict = () => new Dictionary(new Utf8(), new Int32());
const SCHEMA_FIELDS = [
  new Field('ts', new Int64(), false),
  new Field('kind', dict(), false),
  new Field('vm', dict(), true),
  new Field('dev', dict(), true),
  new Field('view', dict(), true),
  new Field('file', dict(), true),
  new Field('line', new Int32(), true),
  new Field('cpu', new Int32(), true),
  new Field('inferred', dict(), true),
  new Field('raw', new Utf8(), true),
  new Field('fields', new Utf8(), false),
];

export async function* readArrow(info: SourceInfo, stats: Stats): AsyncGenerator<Event[]> {
  let reader;
  try {
    // the framing is checked before apache-arrow decodes it (see framing.ts); a regular file's size bounds every length
    const size = info.file === STDIN ? undefined : await stat(info.file).then((s) => (s.isFile() ? s.size : undefined), () => undefined);
    reader = await RecordBatchReader.from(checkedIpc(await byteStream(info.file), info.file, size));
    await reader.open();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not a readable Arrow IPC file (${(e as Error).message})`, info.file);
  }
  // an empty or cut stream opens without a schema
  if (!reader.schema) throw new InputError('not a readable Arrow IPC file (no schema: empty or cut)', info.file);
  const meta = reader.schema.metadata;
  if (meta.get('avpscope') !== FORMAT_TAG) throw new InputError(`an Arrow file, but not avpscope events (schema metadata avpscope=${meta.get('avpscope') ?? 'absent'})`, info.file);
  const header = SourceHeader.safeParse({ format: 'avpscope-events', version: 1, origin_ns: meta.get('origin_ns'), view: meta.get('view'), vm: meta.get('vm') });
  if (!header.success) throw new InputError(`bad schema metadata: ${header.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, info.file);
  info.originNs = BigInt(header.data.origin_ns);
  info.view = header.data.view;
  if (header.data.vm !== undefined) info.vm = header.data.vm;
  for (const name of ['ts', 'kind', 'fields']) {
    if (!reader.schema.fields.some((f) => f.name === name)) throw new InputError(`an avpscope Arrow file without its '${name}' column`, info.file);
  }
  let row = 0;
  let good = 0;
  try {
    for await (const batch of reader) {
      const out: Event[] = [];
      const col = (n: string) => batch.getChild(n) as Vector | null;
      const [ts, kind, vm, dev, view, file, line, cpu, inferred, raw, fields] = ['ts', 'kind', 'vm', 'dev', 'view', 'file', 'line', 'cpu', 'inferred', 'raw', 'fields'].map(col);
      for (let i = 0; i < batch.numRows; i++) {
        row++;
        const t = ts!.get(i);
        if (t === null || t === undefined) {
          stats.add('line.malformed', info.file, row, 'ts: null (every event needs its time)');
          continue;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(fields!.get(i) as string);
        } catch {
          stats.add('line.malformed', info.file, row, 'fields: not a JSON object');
          continue;
        }
        const candidate = {
          ...(parsed as object),
          ts: Number(t),
          kind: kind!.get(i),
          vm: vm?.get(i) ?? info.vm,
          dev: dev?.get(i) ?? undefined,
          view: view?.get(i) ?? (info.view === 'guest' ? 'guest' : undefined),
          src: file?.get(i) != null && line?.get(i) != null ? { file: file.get(i), line: line.get(i) } : { file: info.file, line: row },
          cpu: cpu?.get(i) ?? undefined,
          inferred: inferred?.get(i)?.split(',') ?? undefined,
          raw: raw?.get(i) ?? undefined,
        };
        const r = Event.safeParse(candidate);
        if (!r.success) {
          stats.add('line.malformed', info.file, row, issues(r.error));
          continue;
        }
        good++;
        out.push(r.data);
      }
      info.lines = row;
      info.events += out.length;
      if (out.length > 0) yield out;
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`damaged Arrow data after row ${row} (${(e as Error).message})`, info.file, row > 0 ? row : undefined);
  }
  if (good === 0 || row - good > good) throw new InputError(`not a usable arrow trace: ${good} good rows, ${row - good} bad`, info.file);
}

function issues(err: z.ZodError): string {
  return err.issues.slice(0, 3).map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ` : '') + i.message).join('; ');
}

/** Writes events as an Arrow IPC stream, a batch at a time. */
export class ArrowEventWriter {
  private rows: Event[] = [];
  private readonly writer: RecordBatchStreamWriter<Record<string, never>>;
  private readonly schema: Schema;

  private readonly finished: Promise<void>;

  constructor(out: Writable, header: SourceHeader) {
    const meta = new Map<string, string>([['avpscope', FORMAT_TAG], ['origin_ns', header.origin_ns], ['view', header.view]]);
    if (header.vm !== undefined) meta.set('vm', header.vm);
    if (header.producer !== undefined) meta.set('producer', header.producer);
    this.schema = new Schema(SCHEMA_FIELDS, meta);
    this.writer = new RecordBatchStreamWriter();
    this.finished = new Promise((res, rej) => {
      this.writer.toNodeStream().on('error', rej).on('end', res).pipe(out, { end: false });
    });
  }

  write(batch: Event[]): void {
    for (const e of batch) this.rows.push(e);
    if (this.rows.length >= ROWS_PER_BATCH) this.flush();
  }

  private flush(): void {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    const str = (f: (e: Event) => string | undefined) => rows.map((e) => f(e) ?? null);
    const vectors = {
      ts: vectorFromArray(BigInt64Array.from(rows, (e) => BigInt(e.ts))),
      kind: vectorFromArray(str((e) => e.kind), dict()),
      vm: vectorFromArray(str((e) => e.vm), dict()),
      dev: vectorFromArray(str((e) => e.dev), dict()),
      view: vectorFromArray(str((e) => e.view), dict()),
      file: vectorFromArray(str((e) => e.src?.file), dict()),
      line: vectorFromArray(rows.map((e) => e.src?.line ?? null), new Int32()),
      cpu: vectorFromArray(rows.map((e) => e.cpu ?? null), new Int32()),
      inferred: vectorFromArray(str((e) => e.inferred?.join(',')), dict()),
      raw: vectorFromArray(str((e) => e.raw), new Utf8()),
      fields: vectorFromArray(str((e) => kindFields(e)), new Utf8()),
    };
    const data = makeData({
      type: new Struct(SCHEMA_FIELDS),
      length: rows.length,
      nullCount: 0,
      children: SCHEMA_FIELDS.map((f) => vectors[f.name as keyof typeof vectors].data[0]!),
    });
    this.writer.write(new RecordBatch(this.schema, data));
  }

  /** Writes what is left and ends the stream (the output stream itself stays open). */
  async close(): Promise<void> {
    this.flush();
    this.writer.finish();
    await this.finished;
  }
}

/** The kind's own fields as JSON (what the `fields` column holds). */
function kindFields(e: Event): string {
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (!COMMON_FIELDS.has(k)) own[k] = v;
  return JSON.stringify(own);
}
