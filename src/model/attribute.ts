/**
 * Gives a device instance to events whose log line names none, and marks it inferred.
 *
 * QEMU's virtio_mmio_* lines carry no device, but the driver's register writes are echoed by events
 * that do: a Status write (0x70 = V) by `virtio_set_status vdev D val V`, a QueueNotify write
 * (0x50 = N) by `virtio_queue_notify vdev D n N`. Status echoes are anchors: accesses between two
 * anchors of the same device belong to it; between anchors of different devices the switch is put
 * where a Linux driver starts talking to the next device (its probe reads MagicValue, its status
 * update reads Status first). A kick names only its own write: drivers kick from any context,
 * also in the middle of another device's setup. Interrupt handling (InterruptStatus,
 * InterruptACK, the IRQ line) belongs to the device that raised the interrupt. Device events that name no device (console
 * control, GPU commands, sound requests) belong to the device whose queue was popped last: QEMU
 * handles a request right after taking it.
 *
 * Events are held only while a segment is unresolved (bounded); order is never changed.
 */
import type { Event } from './events.ts';
import { MMIO } from './transport/mmio.ts';
import type { Stats } from '../ingest/stats.ts';

/** Longest run of events held while waiting for an anchor. */
const MAX_HELD = 100_000;

type Transport = Extract<Event, { kind: 'mmio.read' | 'mmio.write' | 'vq.size_max' | 'irq.line' | 'pci.msix' | 'pci.notify' }>;

function isTransport(e: Event): e is Transport {
  const k = e.kind;
  return k === 'mmio.read' || k === 'mmio.write' || k === 'vq.size_max' || k === 'irq.line' || k === 'pci.msix' || k === 'pci.notify';
}

function needsPopContext(e: Event): boolean {
  const k = e.kind;
  return e.dev === undefined && (k === 'console.control' || k === 'console.data' || k === 'gpu.cmd' || k === 'snd.ctrl' || (k === 'device' && e.context === 'chain'));
}

/** A status the hypervisor set itself: it says nothing about which device the driver talks to. */
const isHypervisorStatus = (e: Event) => e.kind === 'status' && e.by === 'hypervisor';

function infer(e: Event, dev: string): void {
  e.dev = dev;
  e.inferred = e.inferred ? [...e.inferred, 'dev'] : ['dev'];
}

class VmAttribution {
  /** events held in order; the first unresolved transport event is at index `pendingFrom` */
  held: Event[] = [];
  /** device of the last anchor */
  current: string | undefined;
  /** devices that raised their interrupt and have not acknowledged it yet, oldest first */
  irqRaised: string[] = [];
  /** last device named by an event, for IRQ-line changes that follow it */
  lastNamed: string | undefined;
  vqDev = new Map<string, string>();
  lastPopVq: string | undefined;
  /** device whose status was written last: QEMU logs msix_write_config inside that driver's setup */
  lastStatusDev: string | undefined;
  /** last status each device was set to */
  status = new Map<string, number>();
}

/** Registers of the step a status bit concludes (VIRTIO §3.1.1): the driver negotiates features
 *  before FEATURES_OK and sets queues up before DRIVER_OK. */
const FEATURE_REGS = new Set<number>([MMIO.DeviceFeatures, MMIO.DeviceFeaturesSel, MMIO.DriverFeatures, MMIO.DriverFeaturesSel]);
const isQueueReg = (o: number) => o >= MMIO.QueueSel && o <= MMIO.QueueDeviceHigh && o !== MMIO.QueueNotify && o !== MMIO.InterruptStatus && o !== MMIO.InterruptACK && o !== MMIO.Status;
const FEATURES_OK = 8;
const DRIVER_OK = 4;

export class Attributor {
  private readonly vms = new Map<string, VmAttribution>();

  constructor(private readonly stats: Stats) {}

  private vm(name: string): VmAttribution {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmAttribution()));
    return v;
  }

  /** Feeds a batch; returns the events that are now resolved, in order. */
  push(batch: Event[]): Event[] {
    const out: Event[] = [];
    for (const e of batch) this.one(e, out);
    return out;
  }

  /** End of input: whatever is still held goes to the last anchor's device. */
  end(): Event[] {
    const out: Event[] = [];
    for (const v of this.vms.values()) this.release(v, v.held.length, v.current, undefined, out);
    return out;
  }

  private one(e: Event, out: Event[]): void {
    const v = this.vm(e.vm ?? '');
    // the guest's own view names guest devices (virtioN): it takes no part in host attribution, but
    // keeps its place among the host events held
    if (e.view === 'guest') {
      if (v.held.length > 0) v.held.push(e);
      else out.push(e);
      return;
    }
    // queue -> device, learnt from the events that name both
    if ((e.kind === 'notify.avail' || e.kind === 'notify.used') && e.vq !== undefined && e.dev !== undefined) v.vqDev.set(e.vq, e.dev);
    if (e.kind === 'vq.pop' && e.vq !== undefined) v.lastPopVq = e.vq;
    if (needsPopContext(e) && v.lastPopVq !== undefined) {
      const d = v.vqDev.get(v.lastPopVq);
      if (d !== undefined) infer(e, d);
    }

    // a device type named during the driver's setup of a device (QEMU's virtio_gpu_features)
    if (e.kind === 'device' && e.dev === undefined && e.context === 'setup' && v.lastStatusDev !== undefined) infer(e, v.lastStatusDev);

    if (isTransport(e) && e.dev === undefined) {
      this.resolveByContext(v, e);
      this.track(v, e);
      if (e.dev !== undefined && v.held.length === 0) out.push(e);
      else {
        v.held.push(e);
        if (v.held.length > MAX_HELD) this.release(v, v.held.length, v.current, undefined, out);
      }
      return;
    }
    if (e.kind === 'status' && e.dev !== undefined && !isHypervisorStatus(e)) v.lastStatusDev = e.dev;
    if (v.held.length > 0 && e.dev !== undefined && !isHypervisorStatus(e) && this.isAnchor(v, e)) {
      const echoIndex = this.lastWriteIndex(v);
      if (e.kind === 'status') {
        const added = e.value & ~(v.status.get(e.dev) ?? 0);
        this.release(v, v.held.length, v.current, { dev: e.dev, echoIndex, added }, out);
        v.current = e.dev;
      } else {
        // a kick is one write from whatever context the driver runs in (another device's setup may
        // be in progress): it names the device of that write only
        infer(v.held[echoIndex]!, e.dev);
        this.release(v, v.held.length, v.current, undefined, out);
      }
      this.track(v, e);
      out.push(e);
      return;
    }
    if (e.dev !== undefined && e.kind === 'status' && !isHypervisorStatus(e)) v.current = e.dev;
    this.track(v, e);
    if (v.held.length > 0) v.held.push(e);
    else out.push(e);
  }

  /** Accesses whose device the interrupt state tells: handling of an interrupt a device raised. */
  private resolveByContext(v: VmAttribution, e: Transport): void {
    const raised = v.irqRaised[0];
    if (e.kind === 'mmio.read' && e.offset === MMIO.InterruptStatus && raised !== undefined) infer(e, raised);
    else if (e.kind === 'mmio.write' && e.offset === MMIO.InterruptACK && raised !== undefined) infer(e, raised);
    else if (e.kind === 'irq.line' && v.lastNamed !== undefined) infer(e, v.lastNamed);
    else if (e.kind === 'pci.msix' && v.lastStatusDev !== undefined) infer(e, v.lastStatusDev);
  }

  /** Interrupt bookkeeping, in arrival order: who raised an interrupt, who acknowledged it. */
  private track(v: VmAttribution, e: Event): void {
    if (e.dev === undefined) return;
    if (e.kind === 'notify.used' && e.via === 'irq' && !v.irqRaised.includes(e.dev)) v.irqRaised.push(e.dev);
    if ((e.kind === 'mmio.write' && e.offset === MMIO.InterruptACK) || (e.kind === 'status' && e.value === 0)) {
      v.irqRaised = v.irqRaised.filter((d) => d !== e.dev);
    }
    if (e.kind !== 'irq.line') v.lastNamed = e.dev;
    if (e.kind === 'status') v.status.set(e.dev, e.value);
  }

  private isAnchor(v: VmAttribution, e: Event): boolean {
    const i = this.lastWriteIndex(v);
    if (i < 0) return false;
    const w = v.held[i] as Extract<Event, { kind: 'mmio.write' | 'pci.notify' }>;
    if (w.kind === 'pci.notify') return e.kind === 'notify.avail' && (w.value & 0xffff) === e.queue;
    if (e.kind === 'status') return w.offset === MMIO.Status && w.value === e.value;
    if (e.kind === 'notify.avail') return w.offset === MMIO.QueueNotify && (w.value & 0xffff) === e.queue;
    return false;
  }

  private lastWriteIndex(v: VmAttribution): number {
    for (let i = v.held.length - 1; i >= 0; i--) {
      const h = v.held[i]!;
      if ((h.kind === 'mmio.write' || h.kind === 'pci.notify') && h.dev === undefined) return i;
      if (h.view === 'guest') continue;
      if (!isTransport(h)) return -1; // a device event in between: not an echo
    }
    return -1;
  }

  /**
   * Resolves held[0..n) and emits them. With an anchor of a different device than `prev`, the
   * switch is at the last MagicValue read (a probe); else, when the anchor sets FEATURES_OK or
   * DRIVER_OK, at the first access to the registers of the step that bit concludes; else at a
   * Status read just before the echoed write; else at the echoed write itself.
   */
  private release(
    v: VmAttribution,
    n: number,
    prev: string | undefined,
    anchor: { dev: string; echoIndex: number; added: number } | undefined,
    out: Event[],
  ): void {
    const held = v.held.slice(0, n);
    v.held = v.held.slice(n);
    let split = held.length;
    if (anchor) {
      if (anchor.dev === prev || prev === undefined) split = 0;
      else {
        split = anchor.echoIndex;
        const unattributed = (h: Event, p: (offset: number) => boolean) => (h.kind === 'mmio.read' || h.kind === 'mmio.write') && h.dev === undefined && p(h.offset);
        const magic = findLastIndex(held, (h) => h.kind === 'mmio.read' && h.dev === undefined && h.offset === MMIO.MagicValue);
        const step = (anchor.added & FEATURES_OK) !== 0 ? (o: number) => FEATURE_REGS.has(o) : (anchor.added & DRIVER_OK) !== 0 ? isQueueReg : undefined;
        const stepStart = step ? held.findIndex((h) => unattributed(h, step)) : -1;
        if (magic >= 0 && magic < anchor.echoIndex) split = magic;
        else if (stepStart >= 0 && stepStart < anchor.echoIndex) split = stepStart;
        else {
          const before = held[anchor.echoIndex - 1];
          if (before?.kind === 'mmio.read' && before.dev === undefined && before.offset === MMIO.Status) split = anchor.echoIndex - 1;
        }
      }
    }
    for (let i = 0; i < held.length; i++) {
      const h = held[i]!;
      if (isTransport(h) && h.dev === undefined) {
        const d = i < split ? prev : anchor?.dev;
        if (d === undefined) this.stats.add('attribution.unresolved', h.src?.file ?? '?', h.src?.line ?? 0, `${h.kind} before any device is known`);
        else infer(h, d);
      }
      out.push(h);
    }
  }
}

function findLastIndex<T>(a: T[], p: (x: T) => boolean): number {
  for (let i = a.length - 1; i >= 0; i--) if (p(a[i]!)) return i;
  return -1;
}
