/**
 * The guest kernel's own trace: Linux ftrace text (tracefs `trace` with or without its `# tracer`
 * header, or `trace-cmd report`), plain or gzip. Every event is the guest's view (`view: 'guest'`):
 * the host device model skips them and the cross-layer analyses pair them with the host's.
 *
 * Time: the timestamp column is seconds on the guest's trace clock (`tai` in the bundled captures:
 * Unix seconds, like QEMU's); `ts` counts ns from the whole second of the first event.
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { SourceClock, TIMESTAMP_TOO_LARGE } from '../clock.ts';
import type { Stats } from '../stats.ts';
import { FTRACE_EVENTS, type LineAt } from './parse.ts';
import { looksLikeFtrace, notRecord, RecordScan, scanRecord } from './tokenize.ts';

export { shiftTimestamp, tokenize } from './tokenize.ts';

export const ftraceAdapter: Adapter = {
  name: 'ftrace',
  description: "Linux ftrace text (tracefs 'trace' file or 'trace-cmd report'), the guest kernel's view, plain or gzip",
  sniff: looksLikeFtrace,
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = {
      file: opts.file, format: 'ftrace', view: 'guest', vm: opts.vm,
      originNs: 0n, timed: true, events: 0, lines: 0,
    };
    return { info, batches: readLineSource(info, new FtraceLineParser(info, opts.stats), opts.stats, opts.keepRaw) };
  },
};

export class FtraceLineParser implements LineParser {
  private readonly clock: SourceClock;
  /** driver tokens in flight: a vq_get_buf names only its token, the add that gave it names the queue */
  private readonly tokens = new Map<string, { dev: string; queue: number }>();
  private readonly scan = new RecordScan();
  private readonly at: LineAt;

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {
    this.clock = new SourceClock(info);
    this.at = { ts: 0, vm: '', cpu: 0, file: info.file, line: 0 };
  }

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    const r = this.scan;
    if (line.charCodeAt(0) === 35 /* # */ || !scanRecord(line, r)) {
      const t = notRecord(line);
      if (t.kind === 'bad') return t.why;
      if (t.kind === 'lost') this.stats.add('events.lost', this.info.file, lineNo, `CPU ${t.cpu}: ${t.count ?? 'some'} events lost by the tracer`);
      return undefined;
    }
    if (!Number.isSafeInteger(r.sec)) return 'bad timestamp';
    const ts = this.clock.stamp(r.sec, r.ns);
    if (ts === undefined) return TIMESTAMP_TOO_LARGE;

    const event = line.slice(r.eventStart, r.eventEnd);
    const mapper = FTRACE_EVENTS.get(event);
    if (mapper === undefined) {
      this.stats.add('event.unknown', this.info.file, lineNo, event, event);
      return undefined;
    }
    const at = this.at;
    at.ts = ts;
    at.vm = this.info.vm;
    at.cpu = r.cpu;
    at.line = lineNo;
    const e = mapper === null ? null : mapper(line.slice(r.argsStart), at);
    if (typeof e === 'string') return `${event}: ${e}`;
    if (e === null) {
      this.stats.add('event.ignored', this.info.file, lineNo, event, event);
      return undefined;
    }
    if (e.kind === 'vq.add') this.tokens.set(e.token, { dev: e.dev!, queue: e.queue });
    else if (e.kind === 'vq.get_buf') {
      const q = this.tokens.get(e.token);
      if (q) {
        this.tokens.delete(e.token);
        e.dev = q.dev;
        e.queue = q.queue;
        e.inferred = ['dev', 'queue'];
      }
    }
    out.push(e);
    return undefined;
  }
}
