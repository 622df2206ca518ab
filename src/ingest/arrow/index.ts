/**
 * The Arrow IPC input format (see codec.ts for its columns). apache-arrow is a large library that
 * only Arrow inputs and `convert --to arrow` need: it is loaded when a file is one, not at start.
 */
import type { Adapter, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { guardTime } from '../clock.ts';
import type { Stats } from '../stats.ts';
import type { Event } from '../../model/events.ts';

/** "ARROW1" (file format) or the 0xFFFFFFFF continuation of the stream format. */
function looksLikeArrow(bytes: Buffer): boolean {
  return bytes.subarray(0, 6).toString('latin1') === 'ARROW1' || (bytes.length >= 8 && bytes.readUInt32LE(0) === 0xffffffff && bytes.readUInt32LE(4) > 0);
}

async function* readArrow(info: SourceInfo, stats: Stats): AsyncGenerator<Event[]> {
  const codec = await import('./codec.ts');
  yield* codec.readArrow(info, stats);
}

export const arrowAdapter: Adapter = {
  name: 'arrow',
  description: 'avpscope canonical events, Arrow IPC (stream or file format)',
  sniff: (_text, bytes) => looksLikeArrow(bytes),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'arrow', view: 'host', vm: opts.vm, originNs: 0n, timed: true, events: 0, lines: 0 };
    return { info, batches: guardTime(info, opts.stats, readArrow(info, opts.stats)) };
  },
};
