/**
 * Gives a device instance to events whose log line names none, and marks it inferred.
 *
 * QEMU's virtio_mmio_* lines carry no device, but the driver's register writes are echoed by events
 * that do: a Status write (0x70 = V) by `virtio_set_status vdev D val V`, a QueueNotify write
 * (0x50 = N) by `virtio_queue_notify vdev D n N`. Those echoes are anchors. Accesses between two
 * anchors of the same device belong to it; between anchors of different devices the switch is put
 * where a Linux driver starts talking to the next device (its probe reads MagicValue, its status
 * update reads Status first). Interrupt handling (InterruptStatus, InterruptACK, the IRQ line)
 * belongs to the device that raised the interrupt. Device events that name no device (console
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

type Transport = Extract<Event, { kind: 'mmio.read' | 'mmio.write' | 'vq.size_max' | 'irq.line' | 'pci.msix' }>;

function isTransport(e: Event): e is Transport {
  const k = e.kind;
  return k === 'mmio.read' || k === 'mmio.write' || k === 'vq.size_max' || k === 'irq.line' || k === 'pci.msix';
}

function needsPopContext(e: Event): boolean {
  const k = e.kind;
  return e.dev === undefined && (k === 'console.control' || k === 'console.data' || k === 'gpu.cmd' || k === 'snd.ctrl');
}

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
}

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
    // queue -> device, learnt from the events that name both
    if ((e.kind === 'notify.avail' || e.kind === 'notify.used') && e.vq !== undefined && e.dev !== undefined) v.vqDev.set(e.vq, e.dev);
    if (e.kind === 'vq.pop' && e.vq !== undefined) v.lastPopVq = e.vq;
    if (needsPopContext(e) && v.lastPopVq !== undefined) {
      const d = v.vqDev.get(v.lastPopVq);
      if (d !== undefined) infer(e, d);
    }

    if (isTransport(e) && e.dev === undefined) {
      if (this.resolveNow(v, e)) {
        this.emit(v, e, out);
      } else {
        v.held.push(e);
        if (v.held.length > MAX_HELD) this.release(v, v.held.length, v.current, undefined, out);
      }
      return;
    }
    if (e.kind === 'status' && e.dev !== undefined) v.lastStatusDev = e.dev;
    if (v.held.length > 0 && e.dev !== undefined && this.isAnchor(v, e)) {
      const echoIndex = this.lastWriteIndex(v);
      this.release(v, v.held.length, v.current, { dev: e.dev, echoIndex }, out);
      v.current = e.dev;
      this.emit(v, e, out);
      return;
    }
    if (e.dev !== undefined && (e.kind === 'status' || e.kind === 'notify.avail')) v.current = e.dev;
    if (v.held.length > 0) v.held.push(e);
    else this.emit(v, e, out);
  }

  /** Accesses whose device is clear at once: interrupt handling of a device that raised its IRQ. */
  private resolveNow(v: VmAttribution, e: Transport): boolean {
    if (v.held.length > 0) return false;
    const raised = v.irqRaised[0];
    if (e.kind === 'mmio.read' && e.offset === MMIO.InterruptStatus && raised !== undefined) {
      infer(e, raised);
      return true;
    }
    if (e.kind === 'mmio.write' && e.offset === MMIO.InterruptACK && raised !== undefined) {
      infer(e, raised);
      return true;
    }
    if (e.kind === 'irq.line' && v.lastNamed !== undefined) {
      infer(e, v.lastNamed);
      return true;
    }
    if (e.kind === 'pci.msix' && v.lastStatusDev !== undefined) {
      infer(e, v.lastStatusDev);
      return true;
    }
    return false;
  }

  private isAnchor(v: VmAttribution, e: Event): boolean {
    const i = this.lastWriteIndex(v);
    if (i < 0) return false;
    const w = v.held[i] as Extract<Event, { kind: 'mmio.write' }>;
    if (e.kind === 'status') return w.offset === MMIO.Status && w.value === e.value;
    if (e.kind === 'notify.avail') return w.offset === MMIO.QueueNotify && (w.value & 0xffff) === e.queue;
    return false;
  }

  private lastWriteIndex(v: VmAttribution): number {
    for (let i = v.held.length - 1; i >= 0; i--) {
      const h = v.held[i]!;
      if (h.kind === 'mmio.write' && h.dev === undefined) return i;
      if (h.dev !== undefined && h.kind !== 'irq.line') return -1; // a named event in between: not an echo
    }
    return -1;
  }

  /**
   * Resolves held[0..n) and emits them. With an anchor of a different device than `prev`, the
   * switch is at the last MagicValue read, else at a Status read just before the echoed write,
   * else at the echoed write itself.
   */
  private release(v: VmAttribution, n: number, prev: string | undefined, anchor: { dev: string; echoIndex: number } | undefined, out: Event[]): void {
    const held = v.held.slice(0, n);
    v.held = v.held.slice(n);
    let split = held.length;
    if (anchor) {
      if (anchor.dev === prev || prev === undefined) split = 0;
      else {
        split = anchor.echoIndex;
        const magic = findLastIndex(held, (h) => h.kind === 'mmio.read' && h.dev === undefined && h.offset === MMIO.MagicValue);
        if (magic >= 0 && magic < anchor.echoIndex) split = magic;
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
      this.emit(v, h, out);
    }
  }

  private emit(v: VmAttribution, e: Event, out: Event[]): void {
    if (e.dev !== undefined) {
      if (e.kind === 'notify.used' || (e.kind === 'irq.line' && e.level === 1)) {
        if (e.kind === 'notify.used' && e.via === 'irq' && !v.irqRaised.includes(e.dev)) v.irqRaised.push(e.dev);
      }
      if (e.kind === 'mmio.write' && e.offset === MMIO.InterruptACK) v.irqRaised = v.irqRaised.filter((d) => d !== e.dev);
      if (e.kind === 'status' && e.value === 0) v.irqRaised = v.irqRaised.filter((d) => d !== e.dev);
      if (e.kind !== 'irq.line') v.lastNamed = e.dev;
    }
    out.push(e);
  }
}

function findLastIndex<T>(a: T[], p: (x: T) => boolean): number {
  for (let i = a.length - 1; i >= 0; i--) if (p(a[i]!)) return i;
  return -1;
}
