/**
 * Replay: feeds each canonical event to the virtual platform model and records what the
 * hypervisor did. Device-side anomalies become Observations. Each descriptor chain is one record
 * (virtqueue/chain.ts) that analyses may follow step by step (`onChain`); it leaves as a Span
 * through `onSpan` once its notification is known, so memory stays bounded by what is in flight.
 */
import type { Event } from './events.ts';
import { Device } from './device.ts';
import { statusName } from './device/status.ts';
import { DEVICE_ID } from './device-types.ts';
import { BLK_F, BLK_STATUS, BLK_STATUS_MAX, BLK_STATUS_MAX_NOT_ZONED, featuresOfOp, inferBlkOp } from './devices/blk.ts';
import { featureName, F_IN_ORDER, F_RING_PACKED } from './features.ts';
import { gpuCodeName } from './devices/gpu-codes.ts';
import { OBSERVATION_CODES, refOf, type Observation, type ObservationCode, type Ref } from './observations.ts';
import type { Span } from './spans.ts';
import { Evidence } from './evidence.ts';
import { joinGuestDevices } from './guest-join.ts';
import { MmioState } from './transport/mmio.ts';
import { PciState } from './transport/pci.ts';
import type { Chain, ChainHooks, Completed } from './virtqueue/chain.ts';
import { QueueState } from './virtqueue/queue.ts';
import type { Stats } from '../ingest/stats.ts';

/** Observations kept per device and code: evidence enough, and memory that does not grow with a
 *  trace that repeats one fault millions of times. */
const KEPT_OBSERVATIONS = 10;

/** A completion whose used length the trace can hold against the bytes written (§2.7.8.2). */
function lenChecked(d: Device, fill: Ref): void {
  d.lenChecked.n++;
  d.lenChecked.first ??= fill;
}

/** VIRTIO_CONSOLE_* control events the device sends (§5.3.6.2). */
const CONSOLE_EVENT = { DEVICE_ADD: 1, DEVICE_REMOVE: 2 } as const;
/** DEVICE_ADD messages kept as evidence */
const KEPT_CONSOLE_ADDS = 3;

export function observationKey(vm: string, dev: string, code: ObservationCode): string {
  return `${vm}\u0000${dev}\u0000${code}`;
}

/** A device of the VM that is not a virtio device (an emulated NIC), as far as its events say. */
export interface ForeignDevice {
  name: string;
  class?: string;
  first: Ref;
}

class VmModel {
  readonly devices = new Map<string, Device>();
  /** devices that are not virtio devices, by model name */
  readonly nonVirtio = new Map<string, ForeignDevice>();
  readonly queues = new Map<string, QueueState>();
  /** chains in flight on any of its queues, by element: QEMU's blk events name a request by its chain's element */
  readonly inflight = new Map<string, Chain>();
  constructor(readonly name: string) {}

  /** The chain is no longer in flight (completed, or dropped by a reset). */
  settle(c: Chain): void {
    if (this.inflight.get(c.elem) === c) this.inflight.delete(c.elem);
  }
}

export class Platform {
  readonly vms = new Map<string, VmModel>();
  readonly observations: Observation[] = [];
  /** the guest's own evidence, the device tree, and devices only a richer VMM logs (evidence.ts) */
  readonly evidence = new Evidence();
  /** VMs whose traces cannot show the rings, and why (a host KVM trace without the VMM's log) */
  readonly ringsUnseen = new Map<string, string>();
  /** events per kind, for the report */
  private readonly chainHooks: ChainHooks[] = [];

  constructor(
    private readonly stats: Stats,
    private readonly onSpan: (s: Span) => void = () => {},
  ) {}

  /** Follows every chain through the replay: each hook is called as the replay reaches that step. */
  onChain(hooks: ChainHooks): void {
    this.chainHooks.push(hooks);
  }

  private vm(name: string): VmModel {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmModel(name)));
    return v;
  }

  device(vm: string, dev: string): Device {
    const v = this.vm(vm);
    let d = v.devices.get(dev);
    if (!d) v.devices.set(dev, (d = new Device(vm, dev)));
    return d;
  }

  allDevices(): Device[] {
    return [...this.vms.values()].flatMap((v) => [...v.devices.values()]);
  }

  /** How many times each (vm, device, code) was observed; only the first few are kept. */
  readonly observationCounts = new Map<string, number>();

  private observe(code: ObservationCode, vm: string, dev: string | undefined, refs: Ref[], detail?: string): void {
    const key = observationKey(vm, dev ?? '?', code);
    const n = (this.observationCounts.get(key) ?? 0) + 1;
    this.observationCounts.set(key, n);
    if (n <= KEPT_OBSERVATIONS) this.observations.push({ code, vm, dev: dev ?? '?', refs, detail: detail ?? OBSERVATION_CODES[code] });
  }

  /** The queue a host event names (by the hypervisor's queue handle, else device and index), with
   *  its device and index once the trace has revealed them. */
  queueOf(e: Event & { vq?: string; queue?: number }): QueueState | undefined {
    return this.queue(this.vm(e.vm ?? ''), e);
  }

  private queue(v: VmModel, e: { vq?: string; dev?: string; queue?: number }): QueueState | undefined {
    const key = e.vq ?? (e.dev !== undefined && e.queue !== undefined ? `${e.dev}#${e.queue}` : undefined);
    if (key === undefined) return undefined;
    let q = v.queues.get(key);
    if (!q) v.queues.set(key, (q = new QueueState(key, v.name)));
    if (e.dev !== undefined && q.dev === undefined) q.dev = e.dev;
    if (e.queue !== undefined && q.index === undefined) {
      q.index = e.queue;
      if (q.dev !== undefined) {
        const d = this.device(v.name, q.dev);
        d.queues.set(e.queue, q);
        const mq = d.mmio?.queues.get(e.queue) ?? d.pci?.queues.get(e.queue);
        if (mq?.num !== undefined) q.size = mq.num;
      }
    }
    return q;
  }

  replay(e: Event): void {
    if (this.evidence.take(e)) {
      this.vm(e.vm ?? '');
      return;
    }
    // the device model is the hypervisor's side; the guest's view is for the analyses that pair both
    if (e.view === 'guest') return;
    const vmName = e.vm ?? '';
    const v = this.vm(vmName);
    const ref = refOf(e);
    const d = e.dev !== undefined ? this.device(vmName, e.dev) : undefined;
    if (d) {
      d.events++;
      if (e.inferred?.includes('dev')) d.inferredEvents++;
      d.first ??= ref;
      d.last = ref;
    }
    switch (e.kind) {
      case 'device':
        if (e.virtio === false) {
          if (e.name !== undefined && !v.nonVirtio.has(e.name)) v.nonVirtio.set(e.name, { name: e.name, ...(e.class !== undefined ? { class: e.class } : {}), first: ref });
          return;
        }
        if (!d) return;
        if (e.device_id !== undefined) {
          const attributed = e.inferred?.includes('dev') ?? false;
          const named = e.name !== undefined ? `the trace names it ${e.name}` : `the trace gives device ID ${e.device_id}`;
          d.claim({
            id: e.device_id,
            how: 'seen',
            basis: e.name !== undefined ? 'event' : 'device-id',
            why: attributed ? `${named} in a line that names no device, attributed to this one by ${e.context === 'setup' ? 'the driver setup it falls in' : 'the chain it just took'}` : named,
            ...(attributed ? { attributed } : {}),
            ref,
          });
        } else if (e.name !== undefined) d.claimFromModelName(e.name, ref, e.inferred?.includes('dev') ?? false);
        if (e.transport === 'mmio' || e.transport === 'pci') d.transport = e.transport;
        return;
      case 'mmio.read':
      case 'mmio.write':
      case 'vq.size_max': {
        if (!d) return;
        d.transport = 'mmio';
        const m = (d.mmio ??= this.mmioFor(d));
        if (e.kind === 'mmio.read') m.read(e.offset, e.value, ref);
        else if (e.kind === 'mmio.write') m.write(e.offset, e.value, ref);
        else m.sizeMax(e.max, ref);
        return;
      }
      case 'pci.notify':
        if (!d) return;
        d.transport = 'pci';
        d.modernNotify ??= ref;
        return;
      case 'pci.read':
      case 'pci.write': {
        if (!d) return;
        d.transport = 'pci';
        const p = (d.pci ??= this.pciFor(d));
        if (e.kind === 'pci.read') p.read(e.region, e.offset, e.value, ref);
        else {
          p.write(e.region, e.offset, e.value, ref);
          // as with QEMU's pci.notify: the modern notify capability exists only on a VIRTIO 1.x device
          if (e.region === 'notify') d.modernNotify ??= ref;
        }
        return;
      }
      case 'pci.msix':
        if (!d) return;
        d.transport = 'pci';
        if (e.name !== undefined) {
          d.msixNames.add(e.name);
          d.claimFromModelName(e.name, ref, e.inferred?.includes('dev') ?? false);
        }
        return;
      case 'status':
        if (!d) return;
        if (e.value === 0) this.resetDevice(v, d, ref);
        if (e.by === 'hypervisor') d.status.host(e.value, ref);
        else d.status.write(e.value, ref, () => d.isModern());
        return;
      case 'features':
        if (!d) return;
        {
          const bits = BigInt(e.value);
          // what the device offers does not depend on a driver: QEMU logs it at realize, before any status
          if (e.side === 'device') d.offered ??= { bits, ref };
          const s = d.status.current;
          if (!s) return;
          if (e.side === 'device') s.offered = { bits, ref };
          else {
            if (s.featuresOk) s.lateFeatureWrites.push(ref);
            s.acceptedEvent = { bits, ref };
          }
        }
        return;
      case 'notify.avail': {
        if (d && this.beforeDriverOk(d)) this.observe('notify.before-driver-ok', vmName, d.id, [ref], `queue ${e.queue} notified while the status is ${statusName(d.status.current?.value ?? 0)}`);
        const q = this.queue(v, e);
        if (q) q.kicks++;
        if (q && d) {
          if (q.size === undefined) {
            const mq = d.mmio?.queues.get(e.queue) ?? d.pci?.queues.get(e.queue);
            if (mq?.num !== undefined) q.size = mq.num;
          }
        }
        return;
      }
      case 'notify.used': {
        if (e.via === 'irqfd' && d) d.transport ??= 'pci';
        const q = this.queue(v, e);
        this.checkDriverOk(vmName, q?.dev ?? d?.id, ref, 'a used-buffer notification');
        if (q) for (const c of q.notify(ref)) this.emitSpan(v, c);
        return;
      }
      case 'vq.pop': {
        const q = this.queue(v, e);
        if (!q) return;
        this.checkDriverOk(vmName, q.dev, ref, `chain ${e.elem} taken`);
        this.checkQueueReady(vmName, q, ref);
        const again = q.inflight.get(e.elem);
        const c = q.pop(e.elem, ref, e.in_num, e.out_num);
        v.inflight.set(e.elem, c);
        if (again) {
          this.observe('vq.pop-while-in-flight', vmName, q.dev, [again.pop, ref], `chain ${e.elem} taken again while in flight since line ${again.pop.src?.line ?? '?'}: its completion is missing`);
        }
        if (q.size !== undefined && q.inflight.size > q.size) {
          this.observe('vq.in-flight-past-size', vmName, q.dev, [ref], `${q.inflight.size} chains in flight on a queue of ${q.size} entries`);
        }
        if (q.dev !== undefined && q.index !== undefined) {
          const sh = this.device(vmName, q.dev).shape(q.index);
          if (e.in_num > 0 && e.out_num > 0) {
            sh.mixed++;
            sh.firstMixed ??= ref;
          } else if (e.out_num > 0) {
            sh.readable++;
            sh.firstReadable ??= ref;
          } else {
            sh.writable++;
            sh.firstWritable ??= ref;
          }
        }
        for (const h of this.chainHooks) h.pop?.(c);
        return;
      }
      case 'vq.fill': {
        const q = this.queue(v, e);
        if (!q) return;
        if (q.size !== undefined && e.idx >= q.size) {
          this.observe('vq.index-past-size', vmName, q.dev, [ref], `used element written at offset ${e.idx} of a queue of ${q.size} entries`);
        }
        const r = q.fill(e.elem, ref, e.len);
        if (r.ok) {
          v.settle(r.req);
          const qd = q.dev !== undefined ? v.devices.get(q.dev) : undefined;
          if (qd) this.checkCompletion(qd, r.req, r.overtook);
          for (const h of this.chainHooks) h.fill?.(r.req);
        } else if (r.code === 'vq.completed-twice') {
          this.observe(r.code, vmName, q.dev, [r.first, ref], `chain ${e.elem} completed at line ${r.first.src?.line ?? '?'} and again here, without being taken again`);
        } else if (this.seenFromReset(v, q)) this.observe(r.code, vmName, q.dev, [ref], `chain ${e.elem} completed but never taken`);
        // a sound controlq (queue 0) completion answers the request handled since the last one
        if (q.index === 0 && q.dev !== undefined) v.devices.get(q.dev)?.sndAnswered(e.len, ref);
        return;
      }
      case 'vq.flush': {
        const q = this.queue(v, e);
        if (!q) return;
        const { unnotified, excess } = q.flush(e.count, ref);
        for (const c of unnotified) this.emitSpan(v, c);
        if (excess > 0 && this.seenFromReset(v, q)) {
          this.observe('vq.used-more-than-filled', vmName, q.dev, [ref], `${e.count} used elements published but only ${e.count - excess} completed since the last publication`);
        }
        return;
      }
      case 'blk.submit': {
        const c = v.inflight.get(e.req);
        if (c) {
          c.op = e.op;
          c.sector = e.sector;
          c.nsectors = e.nsectors;
          c.submit = ref;
          for (const h of this.chainHooks) h.submit?.(c);
        }
        if (d) d.claim({ id: DEVICE_ID.blk, how: 'seen', basis: 'event', why: 'virtio-blk request events name this device', ref });
        return;
      }
      case 'blk.backend': {
        const c = v.inflight.get(e.req);
        if (c) c.backend = ref;
        return;
      }
      case 'blk.complete': {
        const c = v.inflight.get(e.req);
        if (c) {
          c.complete = ref;
          c.status = e.status;
          for (const h of this.chainHooks) h.complete?.(c);
        }
        if (!d) return;
        d.claim({ id: DEVICE_ID.blk, how: 'seen', basis: 'event', why: 'virtio-blk request events name this device', ref });
        {
          // statuses 3-6 are the zoned ones (§5.2.6): a device without VIRTIO_BLK_F_ZONED answers 0-2
          const zoned = d.negotiated(BLK_F.ZONED);
          const max = zoned === false ? BLK_STATUS_MAX_NOT_ZONED : BLK_STATUS_MAX;
          if (e.status > max) this.observe('blk.bad-status', vmName, d.id, [ref], `status ${e.status} is not a VIRTIO_BLK_S_* value${zoned === false ? ' of a device without VIRTIO_BLK_F_ZONED (0-2)' : ''}`);
          else if (e.status === BLK_STATUS.IOERR) this.observe('blk.io-error', vmName, d.id, [ref]);
          // §5.2.6.2: with VIRTIO_BLK_F_RO, a write request completes with IOERR
          if (c?.op === 'write' && d.negotiated(BLK_F.RO)) {
            d.roWrites.n++;
            d.roWrites.first ??= ref;
          }
          if (c?.op === 'write' && e.status !== BLK_STATUS.IOERR && d.negotiated(BLK_F.RO)) {
            this.observe('blk.write-on-ro', vmName, d.id, [...(c.submit ? [c.submit] : []), ref], `write request answered with status ${e.status}, not IOERR, on a device with VIRTIO_BLK_F_RO negotiated`);
          }
        }
        return;
      }
      case 'rng.request':
        if (d) {
          d.rng.requests++;
          d.rng.bytesRequested += e.bytes;
        }
        return;
      case 'rng.push':
        if (d) {
          d.rng.pushes++;
          d.rng.bytesPushed += e.bytes;
          // QEMU logs the bytes it wrote right after the used element it wrote them for
          const f = d.rng.lastFill;
          d.rng.lastFill = undefined;
          if (f) {
            lenChecked(d, f.ref);
            if (f.len > e.bytes) this.observe('vq.len-past-written', vmName, d.id, [f.ref, ref], `used length ${f.len} for an entropy request answered with ${e.bytes} bytes`);
          }
        }
        return;
      case 'console.control':
        if (!d) return this.unattributed(e);
        if (e.dir === 'to_driver' && e.event === CONSOLE_EVENT.DEVICE_ADD) {
          const adds = d.console.deviceAdds;
          if (adds.n++ < KEPT_CONSOLE_ADDS) adds.first.push(ref);
        }
        if (e.dir === 'to_driver' && e.port !== undefined) this.checkConsolePort(d, e.event, e.port, ref);
        d.claim({ id: DEVICE_ID.console, how: 'seen', basis: 'event', attributed: true, why: 'virtio-serial control messages (their lines name no device) are handled right after this device takes a chain', ref });
        return;
      case 'console.data':
        if (!d) return this.unattributed(e);
        if (e.dir === 'to_host') d.console.bytesToHost += e.bytes;
        else d.console.bytesToGuest += e.bytes;
        return;
      case 'gpu.cmd':
        if (!d) return this.unattributed(e);
        d.gpuCommands.set(e.type, (d.gpuCommands.get(e.type) ?? 0) + 1);
        d.claim({
          id: DEVICE_ID.gpu, how: 'seen', basis: 'event',
          ...(e.inferred?.includes('dev') ? { attributed: true, why: `GPU command ${gpuCodeName(e.type)} (its line names no device) handled right after this device takes a chain` } : { why: `GPU command ${gpuCodeName(e.type)} names this device` }),
          ref,
        });
        return;
      case 'snd.ctrl':
        if (!d) return this.unattributed(e);
        d.sndRequests.set(e.code, (d.sndRequests.get(e.code) ?? 0) + 1);
        d.sndPending = { code: e.code, request: ref };
        d.claim({
          id: DEVICE_ID.sound, how: 'seen', basis: 'event',
          ...(e.inferred?.includes('dev') ? { attributed: true, why: 'sound control requests (their lines name no device) are handled right after this device takes a chain' } : { why: 'sound control requests name this device' }),
          ref,
        });
        return;
      case 'snd.config':
        if (d) d.sndConfig = { jacks: e.jacks, streams: e.streams, chmaps: e.chmaps };
        return;
      default:
        // irq.line, snd.xfer, audio.timer and the guest's view (vq.add, block.rq, ...) are for
        // the analyses that need them, not for the device model
        return;
    }
  }

  /** Buffer directions each device type prescribes for its queues (VIRTIO §5.2.6, §5.3.6, §5.4.6). */
  private checkShapes(d: Device): void {
    const type = d.type()?.id;
    const bad = (queue: number, kind: 'readable' | 'writable' | 'mixed', rule: string) => {
      const sh = d.shapes.get(queue);
      if (!sh || sh[kind] === 0) return;
      const ref = kind === 'readable' ? sh.firstReadable : kind === 'writable' ? sh.firstWritable : sh.firstMixed;
      const what = kind === 'mixed' ? 'chains with both readable and writable buffers' : `${kind}-only chains`;
      this.observe('vq.bad-shape', d.vm, d.id, ref ? [ref] : [], `${sh[kind]} ${what} on queue ${queue}: ${rule}`);
    };
    for (const queue of d.shapes.keys()) {
      if (type === DEVICE_ID.blk) {
        bad(queue, 'readable', 'a block request ends with a device-writable status byte (§5.2.6)');
        bad(queue, 'writable', 'a block request starts with a device-readable header (§5.2.6)');
      } else if (type === DEVICE_ID.rng) {
        bad(queue, 'readable', 'the entropy requestq takes device-writable buffers only (§5.4.6)');
        bad(queue, 'mixed', 'the entropy requestq takes device-writable buffers only (§5.4.6)');
      } else if (type === DEVICE_ID.console) {
        // receiveq(port0) 0, control receiveq 2, receiveq(portN) 4, 6, ...: writable; the others readable
        const receive = queue % 2 === 0;
        bad(queue, receive ? 'readable' : 'writable', `${receive ? 'receive' : 'transmit'} queues take ${receive ? 'writable' : 'readable'} buffers only (§5.3.6)`);
        bad(queue, 'mixed', `${receive ? 'receive' : 'transmit'} queues take ${receive ? 'writable' : 'readable'} buffers only (§5.3.6)`);
      }
    }
    if (type === DEVICE_ID.rng) {
      const q = d.queues.get(0);
      if (q && q.emptyFills > 0) {
        this.observe('rng.empty-answer', d.vm, d.id, q.firstEmptyFill ? [q.firstEmptyFill] : [], `${q.emptyFills} entropy request(s) answered with 0 bytes (the device must write at least one, §5.4.6)`);
      }
    }
  }

  /**
   * The trace shows the queue's device from a reset on: a chain it completes was taken within the
   * trace. A log that begins mid-run (an excerpt) may complete chains taken before its first line.
   */
  private seenFromReset(v: VmModel, q: QueueState): boolean {
    const d = q.dev !== undefined ? v.devices.get(q.dev) : undefined;
    return d !== undefined && d.status.sessions.some((s) => s.opened);
  }

  /** The device is not live yet: reset, and DRIVER_OK not set since (VIRTIO §3.1.1). Whether that
   *  matters (legacy drivers may start earlier, §3.1.2) is the rule's call, made once at the end. */
  private beforeDriverOk(d: Device): boolean {
    const s = d.status.current;
    return s !== undefined && s.reset !== undefined && s.driverOk === undefined && s.failed === undefined;
  }

  private checkDriverOk(vm: string, dev: string | undefined, ref: Ref, what: string): void {
    if (dev === undefined) return;
    const d = this.device(vm, dev);
    if (!this.beforeDriverOk(d)) return;
    const s = d.status.current!;
    const status = statusName(s.value);
    // §2.4.1: a device that was live and then reset uses nothing until the driver initialises it again
    const reset = s.reset ?? s.hostReset;
    this.observe('vq.used-before-driver-ok', vm, dev, [ref], `${what}${reset ? ` after the reset at line ${reset.src?.line ?? '?'},` : ''} while the status is ${status}`);
    if (reset && d.status.sessions.some((x) => x !== s && x.driverOk !== undefined)) {
      this.observe('vq.used-after-reset', vm, dev, [reset, ref], `${what} after the reset at line ${reset.src?.line ?? '?'}, before the driver set DRIVER_OK again (status ${status})`);
    }
  }

  /** VIRTIO §4.2.2.1: the device takes no chain from a virtio-mmio queue whose QueueReady is 0. */
  private checkQueueReady(vm: string, q: QueueState, ref: Ref): void {
    if (q.dev === undefined || q.index === undefined) return;
    const m = this.device(vm, q.dev).mmio;
    if (m?.version !== 2) return;
    const mq = m.queues.get(q.index);
    if (mq !== undefined && !mq.ready) this.observe('mmio.queue-not-ready', vm, q.dev, [ref], `chain taken from queue ${q.index} while its QueueReady is 0`);
  }

  /** What a used element shows of the device: its order, its length against what was written, its status. */
  private checkCompletion(d: Device, c: Completed, overtook: Chain | undefined): void {
    if (overtook && d.negotiated(F_IN_ORDER)) {
      this.observe('vq.out-of-order', d.vm, d.id, [overtook.pop, c.fill], `chain ${c.elem} completed while ${overtook.elem}, taken before it at line ${overtook.pop.src?.line ?? '?'}, was still in flight (VIRTIO_F_IN_ORDER negotiated)`);
    }
    // §2.7.8.2: len is at most what the device wrote, starting at the first device-writable buffer
    if (c.in_num === 0) lenChecked(d, c.fill);
    if (c.len > 0 && c.in_num === 0) {
      this.observe('vq.len-past-written', d.vm, d.id, [c.pop, c.fill], `used length ${c.len} for chain ${c.elem}, which has no device-writable buffer`);
    }
    const type = d.typeFromShapesOnly() ? undefined : d.type()?.id;
    if (type === DEVICE_ID.rng && c.in_num > 0) d.rng.lastFill = { len: c.len, ref: c.fill };
    if (type !== DEVICE_ID.blk) return;
    if (c.op === 'read' && c.nsectors !== undefined) lenChecked(d, c.fill);
    if (c.op === 'read' && c.nsectors !== undefined && c.len > c.nsectors * 512 + 1) {
      this.observe('vq.len-past-written', d.vm, d.id, [...(c.submit ? [c.submit] : []), c.fill], `used length ${c.len} for a read of ${c.nsectors} sectors (at most ${c.nsectors * 512 + 1} bytes with the status byte)`);
    }
    // -5, -7, -7b: a request of a type the device offers is served, not answered UNSUPP
    if (c.status === BLK_STATUS.UNSUPP) {
      const op = c.op ?? inferBlkOp(c.out_num, c.in_num, c.len)?.op;
      const bits = op !== undefined ? featuresOfOp(op) : undefined;
      if (bits !== undefined && bits.every((b) => d.negotiated(b) === true)) {
        const names = bits.map((b) => featureName(DEVICE_ID.blk, b)).join(' and ');
        const refs = d.blkUnsupp.get(op!) ?? [];
        if (refs.length < 3) d.blkUnsupp.set(op!, [...refs, ...(c.complete ? [c.complete] : []), c.fill]);
        this.observe('blk.unsupp-offered', d.vm, d.id, [...(c.complete ? [c.complete] : []), c.fill], `${op}${c.op === undefined ? ' (type inferred from the chain)' : ''} answered VIRTIO_BLK_S_UNSUPP although the device offers it${names ? ` (${names} negotiated)` : ''}`);
      }
    }
  }

  /** VIRTIO §5.3.6.2.1: DEVICE_ADD names a new port, DEVICE_REMOVE one that DEVICE_ADD created. */
  private checkConsolePort(d: Device, event: number, port: number, ref: Ref): void {
    const ports = d.console.ports;
    if (event === CONSOLE_EVENT.DEVICE_ADD) {
      if (ports.has(port)) this.observe('console.add-existing-port', d.vm, d.id, [ref], `DEVICE_ADD for port ${port}, which the device had already added`);
      ports.add(port);
    } else if (event === CONSOLE_EVENT.DEVICE_REMOVE) {
      if (!ports.has(port)) this.observe('console.remove-unknown-port', d.vm, d.id, [ref], `DEVICE_REMOVE for port ${port}, which no DEVICE_ADD created`);
      ports.delete(port);
    }
  }

  private unattributed(e: Event): void {
    this.stats.add('attribution.unresolved', e.src?.file ?? '?', e.src?.line ?? 0, `${e.kind} names no device and follows no chain of a known device`);
  }

  private pciFor(d: Device): PciState {
    return new PciState({
      driverFeatureWord: (sel, value, ref) => d.status.driverFeatureWord(sel, value, ref),
      deviceFeatureWord: (sel, value, ref) => d.status.deviceFeatureWord(sel, value, ref),
      queueSize: (queue, size) => {
        const q = d.queues.get(queue);
        if (q) q.size = size;
      },
      problem: (code, ref, detail) => this.observe(code, d.vm, d.id, [ref], detail),
    });
  }

  private mmioFor(d: Device): MmioState {
    return new MmioState({
      driverFeatureWord: (sel, value, ref) => d.status.driverFeatureWord(sel, value, ref),
      packed: () => d.negotiated(F_RING_PACKED) === true,
      deviceFeatureWord: (sel, value, ref) => d.status.deviceFeatureWord(sel, value, ref),
      queueSize: (queue, size) => {
        const q = d.queues.get(queue);
        if (q) q.size = size;
      },
      problem: (code, ref, detail) => this.observe(code, d.vm, d.id, [ref], detail),
    });
  }

  private resetDevice(v: VmModel, d: Device, _ref: Ref): void {
    d.mmio?.reset();
    d.console.ports.clear();
    d.rng.lastFill = undefined;
    d.pci?.reset();
    for (const q of d.queues.values()) {
      const { dropped, pending } = q.reset();
      for (const c of pending) this.emitSpan(v, c);
      // a reset drops what is in flight (VIRTIO §2.4): none of it is a lost request
      for (const p of dropped) v.settle(p);
      d.droppedAtReset += dropped.length;
    }
  }

  private emitSpan(v: VmModel, c: Completed): void {
    const q = c.vq;
    const dev = q.dev ?? '?';
    const d = q.dev !== undefined ? v.devices.get(q.dev) : undefined;
    let op: string | null = null;
    let inferred = false;
    let bytes: number | null = null;
    if (c.op !== undefined) {
      op = c.op;
      bytes = c.nsectors !== undefined ? c.nsectors * 512 : null;
    } else if (d?.type()?.id === DEVICE_ID.blk && !d.typeFromShapesOnly()) {
      const guess = inferBlkOp(c.out_num, c.in_num, c.len);
      if (guess) {
        op = guess.op;
        inferred = true;
      }
    }
    if (op === 'read' && bytes === null) bytes = Math.max(0, c.len - 1);
    const broken = brokenPair(this.stats, c.pop, c.fill);
    if (broken !== undefined) {
      this.stats.add('pair.broken', c.fill.src?.file ?? '?', c.fill.src?.line ?? 0, `${dev} queue ${q.index ?? '?'} element ${c.elem} (taken at line ${c.pop.src?.line ?? '?'}): ${broken}: no latency`);
      return;
    }
    this.onSpan({
      vm: v.name,
      dev,
      queue: q.index ?? null,
      elem: c.elem,
      op,
      op_inferred: inferred,
      sector: c.sector ?? null,
      nsectors: c.nsectors ?? null,
      bytes,
      status: c.status ?? null,
      in_num: c.in_num,
      out_num: c.out_num,
      used_len: c.len,
      t_pop: c.pop.ts,
      t_submit: c.submit?.ts ?? null,
      t_backend: c.backend?.ts ?? null,
      t_complete: c.complete?.ts ?? null,
      t_fill: c.fill.ts,
      t_used: c.used?.ts ?? null,
      t_notify: c.notify?.ts ?? null,
      latency_ns: c.fill.ts - c.pop.ts,
      file: c.pop.src?.file ?? null,
      pop_line: c.pop.src?.line ?? null,
      fill_line: c.fill.src?.line ?? null,
    });
  }

  /** End of the trace: publish what is held, judge what is still in flight and the chains' shapes. */
  finish(): void {
    this.evidence.finish();
    for (const v of this.vms.values()) joinGuestDevices(v.name, v.devices.values(), this.evidence.vm(v.name));
    for (const d of this.allDevices()) this.checkShapes(d);
    for (const v of this.vms.values()) {
      for (const q of v.queues.values()) {
        for (const c of q.drain()) this.emitSpan(v, c);
        // still in flight, not lost: chains may complete in any order unless VIRTIO_F_IN_ORDER (§2.7.9)
        const d = q.dev !== undefined ? v.devices.get(q.dev) : undefined;
        if (d) d.inFlightAtEnd += q.inflight.size;
      }
    }
  }
}

/**
 * Why a pairing of two events gives no honest duration: its end stamped before its start, or a
 * step of the file's clock between them (src/ingest/clock.ts). Undefined when it is sound.
 */
export function brokenPair(stats: Stats, start: { ts: number; src?: { file: string; line: number } }, end: { ts: number; src?: { file: string; line: number } }): string | undefined {
  if (end.ts < start.ts) return `ends ${((start.ts - end.ts) / 1e3).toFixed(0)} µs before it starts`;
  const a = start.src;
  const b = end.src;
  if (a && b && a.file === b.file) {
    const step = stats.stepBetween(a.file, Math.min(a.line, b.line), Math.max(a.line, b.line));
    if (step !== undefined) return `the clock steps at line ${step}, between its start and its end`;
  }
  return undefined;
}
