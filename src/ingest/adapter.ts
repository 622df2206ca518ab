/**
 * What every trace format provides: a sniffer that recognises it from the first bytes of a file,
 * and a reader that streams canonical events in batches. Line-oriented formats implement only a
 * `LineParser`; `readLineSource` does the rest (batches, gzip, bad-line accounting).
 */
import type { Event } from '../model/events.ts';
import { guardTime } from './clock.ts';
import { InputError } from './errors.ts';
import { readLines } from './lines.ts';
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
  return guardTime(info, stats, parseLines(info, parser, stats, keepRaw));
}

async function* parseLines(info: SourceInfo, parser: LineParser, stats: Stats, keepRaw: boolean): AsyncGenerator<Event[]> {
  let good = 0;
  let bad = 0;
  let firstBad: { line: number; why: string } | undefined;
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
        good++;
        if (keepRaw) for (let k = before; k < out.length; k++) out[k]!.raw ??= line;
        continue;
      }
      bad++;
      firstBad ??= { line: lineNo, why };
      const shown = line.length > MAX_BAD_LINE_SHOWN ? line.slice(0, MAX_BAD_LINE_SHOWN) + '…' : line;
      if (batch.unterminated && i === last) stats.add('line.truncated', info.file, lineNo, `${why}: ${shown}`);
      else stats.add('line.malformed', info.file, lineNo, `${why}: ${shown}`);
    }
    info.lines = first + last;
    info.events += out.length;
    if (out.length > 0) yield out;
  }
  parser.finish?.();
  if (good === 0 || bad > good) {
    const detail = firstBad ? `; first bad line ${firstBad.line}: ${firstBad.why}` : '';
    throw new InputError(`not a usable ${info.format} trace: ${good} good lines, ${bad} bad${detail}`, info.file, firstBad?.line);
  }
}
