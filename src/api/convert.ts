/**
 * Any trace to the canonical JSON Lines format: a header with the clock origin and view, then one
 * event per line, with the device attribution the replay would make (marked inferred). Streamed.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InputError } from '../ingest/errors.ts';
import { eventToJson, headerToJson } from '../ingest/jsonl/index.ts';
import { mergeSources } from '../ingest/merge.ts';
import { Stats } from '../ingest/stats.ts';
import { Attributor } from '../model/attribute.ts';
import type { Event } from '../model/events.ts';
import { openSources } from '../pipeline.ts';

export interface ConvertOptions {
  files: string[];
  vms?: (string | undefined)[];
  format?: string;
  /** keep each event's original line */
  raw: boolean;
}

export async function convertToJsonl(opts: ConvertOptions, out: Writable): Promise<Stats> {
  if (opts.files.length !== 1) throw new InputError('convert takes one trace at a time: a JSON Lines file holds one source, with one clock and one view');
  const stats = new Stats();
  const sources = await openSources({ ...opts, keepRaw: opts.raw }, stats);
  const attributor = new Attributor(stats);
  const merged = mergeSources(sources);
  let headerWritten = false;
  const write = async (batch: Event[]) => {
    const text = batch.map((e) => eventToJson(e) + '\n').join('');
    if (!out.write(text)) await once(out, 'drain');
  };
  let r = await merged.next();
  while (!r.done) {
    if (!headerWritten) {
      // the origin is known once the first batch is read
      const info = sources[0]!.info;
      out.write(headerToJson({ format: 'avpscope-events', version: 1, origin_ns: info.originNs.toString(), view: info.view, vm: info.vm, producer: `avpscope convert (${info.format})` }) + '\n');
      headerWritten = true;
    }
    await write(attributor.push(r.value));
    r = await merged.next();
  }
  await write(attributor.end());
  return stats;
}
