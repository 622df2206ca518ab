/**
 * One run, two host views: the host kernel's KVM trace (register values, interrupts) and the VMM's
 * own log (QEMU: ring activity) of the same VM. Their clocks are put together by measurement, never
 * assumed: every status write the driver makes is trapped by KVM (`kvm_mmio ... val V` at the
 * Status / device_status register) and echoed by QEMU (`virtio_set_status vdev D val V`) moments
 * later, so pairs of equal values give the offset (the smallest write → echo delay: the echo never
 * comes before the write) and the device map (KVM's address-named device → QEMU's vdev).
 *
 * In the joined replay each side gives what it sees best: KVM the register accesses, status values
 * and interrupts; QEMU the rings (pops, completions, notifications) and its device names. A status
 * value QEMU echoes that no trapped register write carried is kept as a disagreement.
 */
import type { OpenedSource } from '../ingest/adapter.ts';
import type { Event } from '../model/events.ts';
import type { Ref } from '../model/observations.ts';
import type { Platform } from '../model/platform.ts';

/** disagreements kept per device as evidence (the rest counted) */
const KEPT_UNECHOED = 10;

/** Write → echo delays more than this above the typical one, or EARLY_NS below it, are not pairs. */
const PAIR_WINDOW_NS = 10e6;
const EARLY_NS = 1e6;
/** Coarse offset search: how far apart the two clocks may be, and the bucket. */
const COARSE_RANGE_NS = 2e9;
const COARSE_BUCKET_NS = 100e3;
/** Fewer pairs than this do not make a join. */
export const MIN_JOIN_PAIRS = 3;

interface StatusPoint {
  /** ns on the side's clock, from the VMM log's origin (epoch ns exceed a double's precision) */
  abs: number;
  dev: string;
  value: number;
  line: number;
}

export interface KvmJoin {
  vm: string;
  kvmFile: string;
  vmmFile: string;
  available: boolean;
  reason: string | null;
  /** VMM clock − KVM clock, ns: the smallest write → echo delay over the pairs */
  offsetNs: number | null;
  /** median write → echo delay, ns */
  medianDelayNs: number | null;
  pairs: number;
  /** KVM device (address) → VMM device (QEMU's vdev), with the pairs that say so */
  deviceMap: { kvm: string; vmm: string; pairs: number }[];
  /** VMM status events (by line) that a trapped register write of the mapped device carried */
  matchedLines: Set<number>;
}

async function collectStatus(s: OpenedSource): Promise<{ origin: bigint; points: StatusPoint[] }> {
  const points: StatusPoint[] = [];
  for await (const batch of s.batches) {
    for (const e of batch) {
      // the hypervisor's own status writes (QEMU's machine reset, VM run and stop) have no trapped partner
      if (e.kind === 'status' && e.by !== 'hypervisor' && e.dev !== undefined && e.src) points.push({ abs: e.ts, dev: e.dev, value: e.value, line: e.src.line });
    }
  }
  return { origin: s.info.originNs, points: points.sort((a, b) => a.abs - b.abs) };
}

/** The join of a KVM trace and a VMM log of one VM, from their status writes and echoes. */
export function joinStatus(kvm: StatusPoint[], vmm: StatusPoint[], base: Omit<KvmJoin, 'available' | 'reason' | 'offsetNs' | 'medianDelayNs' | 'pairs' | 'deviceMap' | 'matchedLines'>): KvmJoin {
  const none = { ...base, available: false, offsetNs: null, medianDelayNs: null, pairs: 0, deviceMap: [], matchedLines: new Set<number>() };
  // coarse: the most common delay between equal values, over every candidate pair
  const votes = new Map<number, number>();
  let k0 = 0;
  for (const q of vmm) {
    while (k0 < kvm.length && kvm[k0]!.abs < q.abs - COARSE_RANGE_NS) k0++;
    for (let i = k0; i < kvm.length && kvm[i]!.abs <= q.abs + COARSE_RANGE_NS; i++) {
      if (kvm[i]!.value !== q.value) continue;
      const b = Math.round((q.abs - kvm[i]!.abs) / COARSE_BUCKET_NS);
      votes.set(b, (votes.get(b) ?? 0) + 1);
    }
  }
  if (votes.size === 0) return { ...none, reason: 'no status value both traces show' };
  const mode = [...votes].reduce((a, b) => (b[1] > a[1] ? b : a))[0] * COARSE_BUCKET_NS;
  // fine: each echo takes the unused write of its value nearest the typical delay
  const used = new Set<number>();
  const pairs: { k: StatusPoint; q: StatusPoint; d: number }[] = [];
  k0 = 0;
  for (const q of vmm) {
    while (k0 < kvm.length && kvm[k0]!.abs < q.abs - mode - PAIR_WINDOW_NS) k0++;
    let best = -1;
    for (let i = k0; i < kvm.length && kvm[i]!.abs <= q.abs - mode + EARLY_NS; i++) {
      if (used.has(i) || kvm[i]!.value !== q.value) continue;
      if (best < 0 || Math.abs(q.abs - kvm[i]!.abs - mode) < Math.abs(q.abs - kvm[best]!.abs - mode)) best = i;
    }
    if (best >= 0) {
      used.add(best);
      pairs.push({ k: kvm[best]!, q, d: q.abs - kvm[best]!.abs });
    }
  }
  if (pairs.length < MIN_JOIN_PAIRS) return { ...none, pairs: pairs.length, reason: `only ${pairs.length} status write/echo pairs (at least ${MIN_JOIN_PAIRS} needed)` };
  const votesByKvm = new Map<string, Map<string, number>>();
  for (const p of pairs) {
    const m = votesByKvm.get(p.k.dev) ?? new Map<string, number>();
    m.set(p.q.dev, (m.get(p.q.dev) ?? 0) + 1);
    votesByKvm.set(p.k.dev, m);
  }
  const deviceMap = [...votesByKvm].map(([kdev, m]) => {
    const [vdev, n] = [...m].reduce((a, b) => (b[1] > a[1] ? b : a));
    return { kvm: kdev, vmm: vdev, pairs: n };
  });
  const mapped = new Map(deviceMap.map((x) => [x.kvm, x.vmm]));
  const good = pairs.filter((p) => mapped.get(p.k.dev) === p.q.dev);
  const delays = good.map((p) => p.d).sort((a, b) => a - b);
  return {
    ...base,
    available: true,
    reason: null,
    offsetNs: delays[0]!,
    medianDelayNs: delays[Math.floor((delays.length - 1) / 2)]!,
    pairs: good.length,
    deviceMap,
    matchedLines: new Set(good.map((p) => p.q.line)),
  };
}

/**
 * The joins of a run's files: for each VM with one host-kvm trace and one QEMU log. `sources`
 * are opened for this first pass only. Undefined when the run has no such pair.
 */
export async function planKvmJoins(sources: OpenedSource[]): Promise<KvmJoin[] | undefined> {
  // the format is known once the file is open; its VM name comes from the file name or --vm
  const kvm = sources.filter((s) => s.info.format === 'host-kvm');
  const vmm = sources.filter((s) => s.info.format === 'qemu-log');
  const joins: KvmJoin[] = [];
  for (const k of kvm) {
    const partners = vmm.filter((q) => q.info.vm === k.info.vm);
    if (partners.length !== 1) continue;
    const q = partners[0]!;
    const [ks, qs] = [await collectStatus(k), await collectStatus(q)];
    const shift = Number(ks.origin - qs.origin);
    for (const p of ks.points) p.abs += shift;
    joins.push(joinStatus(ks.points, qs.points, { vm: k.info.vm, kvmFile: k.info.file, vmmFile: q.info.file }));
  }
  return joins.length > 0 ? joins : undefined;
}

/** Kinds each side gives in a joined replay; the other side's copies are dropped. */
const VMM_DROPS = new Set<Event['kind']>(['status', 'mmio.read', 'mmio.write', 'vq.size_max', 'irq.line', 'features']);
const KVM_DROPS = new Set<Event['kind']>(['notify.avail', 'notify.used']);

/**
 * The joined replay's filter: renames KVM's devices to the VMM's, keeps each side's share of the
 * events, and collects the status values the VMM echoed that no trapped write carried.
 */
export class JoinFilter {
  private readonly unechoed = new Map<string, { refs: Ref[]; count: number }>();
  private readonly byKvmFile = new Map<string, { rename: Map<string, string> }>();
  private readonly byVmmFile = new Map<string, KvmJoin>();
  /** the status each device's driver last wrote, as KVM trapped it */
  private readonly written = new Map<string, number>();

  constructor(readonly joins: KvmJoin[]) {
    for (const j of joins.filter((x) => x.available)) {
      this.byKvmFile.set(j.kvmFile, { rename: new Map(j.deviceMap.map((m) => [m.kvm, m.vmm])) });
      this.byVmmFile.set(j.vmmFile, j);
    }
  }

  apply(batch: Event[]): Event[] {
    if (this.byKvmFile.size === 0) return batch;
    const out: Event[] = [];
    for (const e of batch) {
      const file = e.src?.file;
      const k = file !== undefined ? this.byKvmFile.get(file) : undefined;
      if (k) {
        if (KVM_DROPS.has(e.kind)) continue;
        if (e.dev !== undefined) e.dev = k.rename.get(e.dev) ?? e.dev;
        if (e.kind === 'status' && e.dev !== undefined) this.written.set(`${e.vm ?? ''}\u0000${e.dev}`, e.value);
        out.push(e);
        continue;
      }
      const j = file !== undefined ? this.byVmmFile.get(file) : undefined;
      // the hypervisor's own status writes: KVM traps none of them, so the VMM's log is their only view
      if (j && VMM_DROPS.has(e.kind) && !(e.kind === 'status' && e.by === 'hypervisor')) {
        const key = `${e.vm ?? ''}\u0000${e.dev}`;
        // an echo of a trapped write, or the status the driver last wrote (QEMU logs it again when
        // the VM stops or runs, and when it resets a device already at 0), agrees
        if (e.kind === 'status' && e.dev !== undefined && !j.matchedLines.has(e.src!.line) && e.value !== (this.written.get(key) ?? 0)) {
          const u = this.unechoed.get(key) ?? { refs: [], count: 0 };
          if (u.count++ < KEPT_UNECHOED) u.refs.push({ ts: e.ts, src: e.src, ...(e.raw !== undefined ? { raw: e.raw } : {}) });
          this.unechoed.set(key, u);
        }
        continue;
      }
      out.push(e);
    }
    return out;
  }

  /** After the replay: each joined device learns what the two views said about its status. */
  annotate(platform: Platform): void {
    for (const j of this.byVmmFile.values()) {
      for (const m of j.deviceMap) platform.device(j.vm, m.vmm).statusEchoes = { unechoed: [], count: 0 };
    }
    for (const [key, u] of this.unechoed) {
      const [vm, dev] = key.split('\u0000') as [string, string];
      platform.device(vm, dev).statusEchoes = { unechoed: u.refs, count: u.count };
    }
  }
}
