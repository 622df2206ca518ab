/**
 * When a stream's starvation is an xrun. Two witnesses, because neither is enough alone:
 *
 * - the device: RUNNING with nothing queued (playback: no period to play; capture: no buffer to
 *   fill). QEMU takes periods on its audio timer's ticks, so a queue that is empty between two
 *   ticks is harmless; an empty queue is an xrun once it lasts longer than one period (a tick came
 *   and found nothing) — or when the guest's recovery says so.
 * - the guest: its recovery from an xrun is STOP, possibly RELEASE, then PREPARE *without*
 *   SET_PARAMS, then START. A normal end of stream is STOP, RELEASE and then nothing or a new
 *   SET_PARAMS; a pause is STOP then START. A capture overrun happens in the guest's ring, which
 *   the device never sees (the driver gives every rx buffer back at once), so for capture the
 *   recovery is the only witness; its start is the STOP, the moment ALSA found the ring full.
 */
import type { Ref } from '../../model/observations.ts';

export type Direction = 'output' | 'input';

/** The device ran out while RUNNING: since when, and the tick that emptied it. */
export interface Dry {
  since: number;
  ref: Ref;
  tick: number | null;
}

/** A run that ended with STOP, waiting for the guest's next request on the stream. */
export interface Stopped {
  run: number;
  stop: Ref;
  /** the device was dry when the STOP came */
  dry?: Dry;
  release?: number;
  prepare?: number;
}

export interface Xrun {
  run: number;
  kind: 'underrun' | 'overrun';
  start: number;
  end: number;
  recovery: 'prepare' | 'refill' | 'resume' | 'none';
  dryRunningNs: number | null;
  stopped?: Stopped;
  restart?: number;
  tick: number | null;
  ref: Ref;
}

const kindOf = (d: Direction): Xrun['kind'] => (d === 'output' ? 'underrun' : 'overrun');

/** A buffer arrived while the device was dry and RUNNING. */
export function judgeRefill(dir: Direction, run: number, dry: Dry, at: number, periodNs: number): Xrun | undefined {
  if (at - dry.since <= periodNs) return undefined;
  return { run, kind: kindOf(dir), start: dry.since, end: at, recovery: 'refill', dryRunningNs: at - dry.since, tick: dry.tick, ref: dry.ref };
}

/**
 * What followed a STOP: START after PREPARE (`restart`), START without it (`resume`), or no START
 * before a new SET_PARAMS or the end of the trace (`end`).
 */
export function judgeStop(dir: Direction, s: Stopped, next: 'restart' | 'resume' | 'end', at: number | undefined, periodNs: number): Xrun | undefined {
  const dry = s.dry;
  const dryRunningNs = dry ? s.stop.ts - dry.since : null;
  const base = { run: s.run, kind: kindOf(dir), dryRunningNs, stopped: s, tick: dry?.tick ?? null };
  if (next === 'restart' && at !== undefined) {
    // playback recovered with periods still queued is the application's own drop and restart
    if (dir === 'output' && !dry) return undefined;
    const start = dry?.since ?? s.stop.ts;
    return { ...base, start, end: at, recovery: 'prepare', restart: at, ref: dry?.ref ?? s.stop };
  }
  if (!dry || s.stop.ts - dry.since <= periodNs) return undefined;
  return { ...base, start: dry.since, end: s.stop.ts, recovery: next === 'resume' ? 'resume' : 'none', ...(next === 'resume' ? { restart: at } : {}), ref: dry.ref };
}
