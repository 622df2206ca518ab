/**
 * What every trace format provides: a sniffer that recognises it from the first bytes of a file,
 * and a reader that streams canonical events in batches. Line-oriented formats implement only a
 * `LineParser`; `readLineSource` does the rest (batches, gzip, bad-line accounting).
 */
import type { Event } from '../model/events.ts';
import { guardTime } from './clock.ts';
import { InputError } from './errors.ts';
import { readByteLines, readLines } from './lines.ts';
import type { Stats } from './stats.ts';

export type View = 'host' | 'guest';

/** One input file, as the rest of avpscope sees it. Filled in while the file is read. */
export interface SourceInfo {
  file: string;
  format: string;
  view: View;
  vm: string;
  /** origin of the events' `ts`, in ns on the source's clock */
  originNs: bigint;
  /** false when the format carries no timestamps (every ts is 0: no latency can be measured) */
  timed: boolean;
  events: number;
  lines: number;
}

export interface OpenOptions {
  file: string;
  vm: string;
  stats: Stats;
  /** keep each event's source line in `raw` (for conversions that carry it) */
  keepRaw?: boolean;
  /** virtio-mmio windows the user names (a device tree's virtio,mmio nodes, a JSON map), for host
   *  traces that begin after the driver's probe */
  deviceMap?: { base: number; size: number; type?: number; name?: string }[];
}

export interface OpenedSource {
  info: SourceInfo;
  batches: AsyncIterable<Event[]>;
}

export interface Adapter {
  name: string;
  description: string;
  /** true when the head of a file (decompressed, at most a few KiB; as text and as bytes) is in this format */
  sniff(head: string, bytes: Buffer): boolean;
  open(opts: OpenOptions): OpenedSource;
}

/** Turns lines into events. Returns undefined for a good line, or why the line is not one. */
export interface LineParser {
  parseLine(line: string, lineNo: number, out: Event[]): string | undefined;
  /**
   * The same from the line's bytes (`bytes[start, end)`, not empty, its CR end removed), without a
   * string per line: a parser that has it is driven by it. Must give what `parseLine` gives for the
   * line's UTF-8 text, which is its reference.
   */
  parseBytes?(bytes: Buffer, start: number, end: number, lineNo: number, out: Event[]): string | undefined;
  /** End of the file: a last judgement on the whole (may throw an InputError naming the file). */
  finish?(): void;
}

const MAX_BAD_LINE_SHOWN = 120;

/**
 * Streams a line-oriented file through a parser, and its events through the time policy
 * (clock.ts). A file none of whose lines parse, or with more bad lines than good ones, is not a
 * usable trace: that is an InputError, raised when the file ends.
 */
export function readLineSource(info: SourceInfo, parser: LineParser, stats: Stats, keepRaw = false): AsyncGenerator<Event[]> {
  const lines = parser.parseBytes ? parseByteLines(info, parser, stats, keepRaw) : parseLines(info, parser, stats, keepRaw);
  return guardTime(info, stats, lines);
}

/** Good and bad lines of a file, and the verdict on the whole at its end. */
class Tally {
  good = 0;
  bad = 0;
  private firstBad: { line: number; why: string } | undefined;

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {}

  badLine(line: string, lineNo: number, why: string, cut: boolean): void {
    this.bad++;
    this.firstBad ??= { line: lineNo, why };
    const shown = line.length > MAX_BAD_LINE_SHOWN ? line.slice(0, MAX_BAD_LINE_SHOWN) + '…' : line;
    this.stats.add(cut ? 'line.truncated' : 'line.malformed', this.info.file, lineNo, `${why}: ${shown}`);
  }

  end(parser: LineParser): void {
    parser.finish?.();
    const { good, bad, firstBad, info } = this;
    if (good === 0 || bad > good) {
      const detail = firstBad ? `; first bad line ${firstBad.line}: ${firstBad.why}` : '';
      throw new InputError(`not a usable ${info.format} trace: ${good} good lines, ${bad} bad${detail}`, info.file, firstBad?.line);
    }
  }
}

async function* parseLines(info: SourceInfo, parser: LineParser, stats: Stats, keepRaw: boolean): AsyncGenerator<Event[]> {
  const tally = new Tally(info, stats);
  for await (const batch of readLines(info.file)) {
    const out: Event[] = [];
    const { lines, first } = batch;
    const last = lines.length - 1;
    for (let i = 0; i <= last; i++) {
      const line = lines[i]!;
      if (line.length === 0) continue;
      const lineNo = first + i;
      const before = out.length;
      const why = parser.parseLine(line, lineNo, out);
      if (why === undefined) {
        tally.good++;
        if (keepRaw) for (let k = before; k < out.length; k++) out[k]!.raw ??= line;
      } else tally.badLine(line, lineNo, why, batch.unterminated && i === last);
    }
    info.lines = first + last;
    info.events += out.length;
    if (out.length > 0) yield out;
  }
  tally.end(parser);
}

/** The same as parseLines through the parser's parseBytes: a line's text is decoded only when it is kept or bad. */
async function* parseByteLines(info: SourceInfo, parser: LineParser, stats: Stats, keepRaw: boolean): AsyncGenerator<Event[]> {
  const tally = new Tally(info, stats);
  for await (const batch of readByteLines(info.file)) {
    const out: Event[] = [];
    const { bytes, ends, count, first } = batch;
    let start = 0;
    for (let i = 0; i < count; i++) {
      const newline = ends[i]!;
      let end = newline;
      if (end > start && bytes[end - 1] === 13) end--; // a CR before the newline is not the line's
      if (end > start) {
        const lineNo = first + i;
        const before = out.length;
        const why = parser.parseBytes!(bytes, start, end, lineNo, out);
        if (why === undefined) {
          tally.good++;
          if (keepRaw) {
            const line = bytes.toString('utf8', start, end);
            for (let k = before; k < out.length; k++) out[k]!.raw ??= line;
          }
        } else tally.badLine(bytes.toString('utf8', start, end), lineNo, why, batch.unterminated && i === count - 1);
      }
      start = newline + 1;
    }
    info.lines = first + count - 1;
    info.events += out.length;
    if (out.length > 0) yield out;
  }
  tally.end(parser);
}
