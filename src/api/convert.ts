/**
 * Any trace to a canonical format (JSON Lines, or Arrow IPC for bulk): the clock origin and view,
 * then the events with the device attribution the replay would make (marked inferred). Streamed.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InputError } from '../ingest/errors.ts';
import { eventToJson, headerToJson } from '../ingest/jsonl/index.ts';
import { mergeSources } from '../ingest/merge.ts';
import { Stats } from '../ingest/stats.ts';
import { Attributor } from '../model/attribute.ts';
import type { Event, SourceHeader } from '../model/events.ts';
import { openSources } from '../pipeline.ts';

export interface ConvertOptions {
  files: string[];
  vms?: (string | undefined)[];
  format?: string;
  /** keep each event's original line */
  raw: boolean;
  to: 'jsonl' | 'arrow';
}

/** Where converted events go: the JSON Lines or the Arrow writer, created once the origin is known. */
interface EventSink {
  write(batch: Event[]): Promise<void>;
  close(): Promise<void>;
}

function jsonlSink(out: Writable, header: SourceHeader): EventSink {
  out.write(headerToJson(header) + '\n');
  return {
    async write(batch) {
      if (!out.write(batch.map((e) => eventToJson(e) + '\n').join(''))) await once(out, 'drain');
    },
    async close() {},
  };
}

async function arrowSink(out: Writable, header: SourceHeader): Promise<EventSink> {
  // apache-arrow loads only when Arrow is written (see src/ingest/arrow/index.ts)
  const { ArrowEventWriter } = await import('../ingest/arrow/codec.ts');
  const w = new ArrowEventWriter(out, header);
  return { write: async (batch) => w.write(batch), close: () => w.close() };
}

export async function convert(opts: ConvertOptions, out: Writable): Promise<Stats> {
  if (opts.files.length !== 1) throw new InputError(`convert takes one trace at a time: a ${opts.to === 'arrow' ? 'Arrow' : 'JSON Lines'} file holds one source, with one clock and one view`);
  const stats = new Stats();
  const sources = await openSources({ ...opts, keepRaw: opts.raw }, stats);
  const attributor = new Attributor(stats);
  const merged = mergeSources(sources);
  let sink: EventSink | undefined;
  let r = await merged.next();
  while (!r.done) {
    if (!sink) {
      // the origin is known once the first batch is read
      const info = sources[0]!.info;
      const header: SourceHeader = { format: 'avpscope-events', version: 1, origin_ns: info.originNs.toString(), view: info.view, vm: info.vm, producer: `avpscope convert (${info.format})` };
      sink = opts.to === 'arrow' ? await arrowSink(out, header) : jsonlSink(out, header);
    }
    await sink.write(attributor.push(r.value));
    r = await merged.next();
  }
  if (sink) {
    await sink.write(attributor.end());
    await sink.close();
  }
  return stats;
}
