/**
 * Several sources, one clock: rebases each source's `ts` onto the run's origin (the earliest
 * source origin) and merges them in time order. Within a source, file order is kept even where
 * its timestamps step back (thread interleaving in QEMU's log): the merge key is the source's
 * running maximum, so no event is ever reordered against its own file.
 */
import type { Event } from '../model/events.ts';
import type { OpenedSource } from './adapter.ts';

export interface MergeOptions {
  /** a source on another clock (a guest's), as measured by src/align: ts + offsetNs + driftPpm·1e-6·(ts − refTs) */
  clock?: (index: number) => { offsetNs: number; driftPpm: number; refTs: number } | undefined;
}

interface Cursor {
  it: AsyncIterator<Event[]>;
  batch: Event[];
  pos: number;
  key: number;
  shift: number;
  /** drift of the source's clock (ns per ns) and the ts it counts from */
  drift: number;
  refTs: number;
}

/** A source's ts on the run clock. */
const onRunClock = (c: Cursor, ts: number) => (c.drift === 0 ? ts + c.shift : Math.round(ts + c.shift + c.drift * (ts - c.refTs)));

/** Moves a cursor to its source's next non-empty batch; false at the end of the source. */
async function refill(c: Cursor): Promise<boolean> {
  for (;;) {
    const r = await c.it.next();
    if (r.done) {
      c.batch = [];
      c.pos = 0;
      return false;
    }
    if (r.value.length > 0) {
      c.batch = r.value;
      c.pos = 0;
      return true;
    }
  }
}

/** The run origin is known once every source has produced its first batch. */
export async function* mergeSources(sources: OpenedSource[], opts: MergeOptions = {}): AsyncGenerator<Event[], bigint> {
  const cursors: Cursor[] = [];
  for (const s of sources) {
    const c: Cursor = { it: s.batches[Symbol.asyncIterator](), batch: [], pos: 0, key: -Infinity, shift: 0, drift: 0, refTs: 0 };
    await refill(c);
    cursors.push(c);
  }
  const origins = sources.map((s) => s.info.originNs);
  // a source without a clock (a device tree blob, the guest's boot log: ts 0) has no origin to
  // set the run's by; its events stand at the run's start
  const timed = origins.filter((_, i) => sources[i]!.info.timed);
  const runOrigin = timed.reduce((a, b) => (b < a ? b : a), timed[0] ?? 0n);
  cursors.forEach((c, i) => {
    const clock = opts.clock?.(i);
    c.shift = (sources[i]!.info.timed ? Number(origins[i]! - runOrigin) : 0) + (clock?.offsetNs ?? 0);
    c.drift = (clock?.driftPpm ?? 0) * 1e-6;
    c.refTs = clock?.refTs ?? 0;
  });

  if (cursors.length === 1) {
    const c = cursors[0]!;
    while (c.batch.length > 0) {
      if (c.shift !== 0 || c.drift !== 0) for (const e of c.batch) e.ts = onRunClock(c, e.ts);
      yield c.batch;
      await refill(c);
    }
    return runOrigin;
  }

  const live = cursors.filter((c) => c.batch.length > 0);
  const OUT = 4096;
  let out: Event[] = [];
  while (live.length > 0) {
    // pick the cursor with the smallest key (few sources: a linear scan beats a heap)
    let best = 0;
    let bestTs = Infinity;
    for (let i = 0; i < live.length; i++) {
      const c = live[i]!;
      const k = Math.max(c.key, onRunClock(c, c.batch[c.pos]!.ts));
      if (k < bestTs) {
        bestTs = k;
        best = i;
      }
    }
    const c = live[best]!;
    const e = c.batch[c.pos++]!;
    e.ts = onRunClock(c, e.ts);
    c.key = Math.max(c.key, e.ts);
    out.push(e);
    if (out.length >= OUT) {
      yield out;
      out = [];
    }
    if (c.pos >= c.batch.length && !(await refill(c))) live.splice(best, 1);
  }
  if (out.length > 0) yield out;
  return runOrigin;
}
