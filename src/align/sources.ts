/**
 * One run, several files: before the merged replay, a first pass over the files finds the guest
 * traces among them, the host trace of each guest's VM, and aligns their clocks. Host files share
 * the host clock and are never shifted; a run without a guest trace is not read twice (the first
 * batch of each file tells its view).
 */
import type { OpenedSource } from '../ingest/adapter.ts';
import { rwbsOp } from '../ingest/ftrace/rwbs.ts';
import type { Event } from '../model/events.ts';
import { align, type Alignment, type Side } from './index.ts';

/** How a source's ts becomes ns on the host clock: ts + offsetNs + driftPpm·1e-6·(ts − refTs). */
export interface SourceClock {
  offsetNs: number;
  driftPpm: number;
  /** ts of the source (ns from its origin) where offsetNs holds */
  refTs: number;
}

export interface GuestAlignment {
  vm: string;
  guestFile: string;
  hostFiles: string[];
  alignment: Alignment;
}

export interface ClockPlan {
  /** VM per file: a guest trace joins the VM of the only host trace when its own name matches none */
  vms: string[];
  /** per file; undefined for host files and unaligned guests */
  clocks: (SourceClock | undefined)[];
  alignments: GuestAlignment[];
}

interface Collected extends Side {
  file: string;
  view: 'host' | 'guest';
  vm: string;
}

function emptySide(s: OpenedSource): Collected {
  return { file: s.info.file, view: s.info.view, vm: s.info.vm, originNs: s.info.originNs, notifies: [], blk: [], first: Infinity, last: -Infinity };
}

function collect(side: Collected, batch: Event[]): void {
  for (const e of batch) {
    if (e.ts < side.first) side.first = e.ts;
    if (e.ts > side.last) side.last = e.ts;
    const guest = e.view === 'guest';
    if (guest !== (side.view === 'guest')) continue;
    if (e.kind === 'notify.avail' && e.dev !== undefined) side.notifies.push({ ts: e.ts, dev: e.dev, queue: e.queue });
    else if (!guest && e.kind === 'blk.submit' && (e.op === 'read' || e.op === 'write') && e.sector !== undefined && e.nsectors !== undefined) {
      side.blk.push({ ts: e.ts, write: e.op === 'write', sector: e.sector, nsectors: e.nsectors });
    } else if (guest && e.kind === 'block.rq' && e.phase === 'issue' && e.nsectors > 0) {
      const op = rwbsOp(e.rwbs);
      if (op === 'read' || op === 'write') side.blk.push({ ts: e.ts, write: op === 'write', sector: e.sector, nsectors: e.nsectors });
    }
  }
}

/** Several host files of one VM on one time base (the earliest origin). */
function joinHosts(hosts: Collected[]): Side {
  const origin = hosts.reduce((a, h) => (h.originNs < a ? h.originNs : a), hosts[0]!.originNs);
  const out: Side = { originNs: origin, notifies: [], blk: [], first: Infinity, last: -Infinity };
  for (const h of hosts) {
    const shift = Number(h.originNs - origin);
    for (const n of h.notifies) out.notifies.push({ ...n, ts: n.ts + shift });
    for (const b of h.blk) out.blk.push({ ...b, ts: b.ts + shift });
    out.first = Math.min(out.first, h.first + shift);
    out.last = Math.max(out.last, h.last + shift);
  }
  return inTimeOrder(out);
}

/** The pairing walks both sides in time order; QEMU's threads log slightly out of it. */
function inTimeOrder<S extends Side>(s: S): S {
  s.notifies.sort((a, b) => a.ts - b.ts);
  s.blk.sort((a, b) => a.ts - b.ts);
  return s;
}

function clockOf(a: Alignment, guestOrigin: bigint): SourceClock | undefined {
  if (!a.available || a.offsetNs === null || a.driftPpm === null || a.refNs === null) return undefined;
  return { offsetNs: a.offsetNs, driftPpm: a.driftPpm, refTs: Number(BigInt(a.refNs) - guestOrigin) };
}

/**
 * The clock plan of a run, or undefined when no file is a guest trace (nothing to align).
 * `sources` are opened for this first pass only (their counts are not the run's); `explicitVms`
 * are the VM names the user gave, which are kept as given.
 */
export async function planClocks(sources: OpenedSource[], explicitVms: (string | undefined)[] = []): Promise<ClockPlan | undefined> {
  if (sources.length < 2) return undefined;
  const its = sources.map((s) => s.batches[Symbol.asyncIterator]());
  const firsts = await Promise.all(its.map((it) => it.next()));
  if (!sources.some((s) => s.info.view === 'guest')) {
    await Promise.all(its.map((it) => it.return?.()));
    return undefined;
  }
  const sides: Collected[] = [];
  for (const [i, it] of its.entries()) {
    // origin, view and VM are known once the first batch is read
    const side = emptySide(sources[i]!);
    sides.push(side);
    for (let r = firsts[i]!; !r.done; r = await it.next()) collect(side, r.value);
  }
  const vms = sides.map((s) => s.vm);
  const hostVms = new Set(sides.filter((s) => s.view === 'host').map((s) => s.vm));
  const clocks: (SourceClock | undefined)[] = sides.map(() => undefined);
  const alignments: GuestAlignment[] = [];
  for (const [i, g] of sides.entries()) {
    if (g.view !== 'guest') continue;
    if (!hostVms.has(g.vm) && hostVms.size === 1 && explicitVms[i] === undefined) vms[i] = [...hostVms][0]!;
    // guest evidence without a clock (sysfs, /proc/interrupts, the boot log) joins its VM, unaligned
    if (!sources[i]!.info.timed) continue;
    const hosts = sides.filter((s) => s.view === 'host' && s.vm === vms[i]);
    if (hosts.length === 0) {
      alignments.push({ vm: vms[i]!, guestFile: g.file, hostFiles: [], alignment: unavailable(g, `no host trace of VM ${vms[i]} to align with`) });
      continue;
    }
    const a = align(joinHosts(hosts), inTimeOrder(g));
    alignments.push({ vm: vms[i]!, guestFile: g.file, hostFiles: hosts.map((h) => h.file), alignment: a });
    clocks[i] = clockOf(a, g.originNs);
  }
  return { vms, clocks, alignments };
}

function unavailable(g: Side, reason: string): Alignment {
  return {
    available: false, reason, offsetNs: null, driftPpm: null, refNs: null, pairs: { notify: 0, blk: 0 }, spread: null, deviceMap: [],
    unmatched: { guest: { notify: g.notifies.length, blk: g.blk.length }, host: { notify: 0, blk: 0, notifyOutsideGuest: 0 } },
  };
}
