/**
 * avpscope's canonical format: JSON Lines, one event an object (schema: src/model/events.ts),
 * optionally preceded by a header object that sets the clock origin, the view and the VM.
 */
import { z } from 'zod';
import { Event, SourceHeader } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { InputError } from '../errors.ts';

export const jsonlAdapter: Adapter = {
  name: 'jsonl',
  description: 'avpscope canonical events, JSON Lines (see README: canonical format)',
  sniff(head) {
    const first = head.trimStart();
    return first.startsWith('{"') && (first.includes('"avpscope-events"') || /^\{"(kind|ts)"/.test(first));
  },
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = {
      file: opts.file, format: 'jsonl', view: 'host', vm: opts.vm,
      originNs: 0n, timed: true, events: 0, lines: 0,
    };
    return { info, batches: withEvents(info, readLineSource(info, new JsonlLineParser(info), opts.stats, opts.keepRaw)) };
  },
};

/** A header alone is a file without a trace in it. */
async function* withEvents(info: SourceInfo, batches: AsyncIterable<Event[]>): AsyncGenerator<Event[]> {
  yield* batches;
  if (info.events === 0) throw new InputError('a JSON Lines header and no event: no trace in it', info.file);
}

class JsonlLineParser implements LineParser {
  constructor(private readonly info: SourceInfo) {}

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return 'not a JSON object';
    }
    if (lineNo === 1 && typeof obj === 'object' && obj !== null && 'format' in obj) {
      const h = SourceHeader.safeParse(obj);
      if (!h.success) return 'bad header: ' + issues(h.error);
      this.info.originNs = BigInt(h.data.origin_ns);
      this.info.view = h.data.view;
      if (h.data.vm !== undefined) this.info.vm = h.data.vm;
      return undefined;
    }
    const r = Event.safeParse(obj);
    if (!r.success) return issues(r.error);
    const e = r.data;
    e.vm ??= this.info.vm;
    if (this.info.view === 'guest') e.view ??= 'guest';
    e.src ??= { file: this.info.file, line: lineNo };
    out.push(e);
    return undefined;
  }
}

/** "len: expected number; kind: invalid discriminator" from zod's issues. */
function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ` : '') + i.message)
    .join('; ');
}

/** One canonical line: ts, vm, dev and kind first, then the kind's fields; absent ones are omitted. */
export function eventToJson(e: Event): string {
  const { ts, vm, dev, view, kind, ...rest } = e;
  return JSON.stringify({ ts, vm, dev, view, kind, ...rest });
}

export function headerToJson(h: SourceHeader): string {
  return JSON.stringify(h);
}
