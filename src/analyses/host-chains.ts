/**
 * The device side of each descriptor chain, as QEMU logs it, kept as one mutable record from the
 * moment the device takes the chain (pop) until the guest is told it is used (notification): the
 * cross-layer analyses hang the guest's side of a request on it and read the host's steps from it
 * when the guest completes the request. Records leave when their notification is sent (or known
 * to be suppressed), so memory is bounded by what is in flight.
 */
import type { Event } from '../model/events.ts';
import { refOf, type Ref } from '../model/observations.ts';
import type { Platform } from '../model/platform.ts';

export interface HostChain {
  vm: string;
  /** host device and queue index, once the trace has named them */
  dev: string | undefined;
  queue: number | undefined;
  elem: string;
  in_num: number;
  out_num: number;
  pop: Ref;
  submit?: Ref;
  /** blk: what the device logged of the request (read/write only, on QEMU) */
  op?: 'read' | 'write';
  sector?: number;
  nsectors?: number;
  backend?: Ref;
  complete?: Ref;
  fill?: Ref;
  len?: number;
  used?: Ref;
  irq?: Ref;
}

export interface HostChainHooks {
  pop?(c: HostChain): void;
  submit?(c: HostChain): void;
  complete?(c: HostChain): void;
  fill?(c: HostChain): void;
}

class VmChains {
  readonly inflight = new Map<string, HostChain>();
  /** per queue key: filled, awaiting publication; published, awaiting a notification */
  readonly unflushed = new Map<string, HostChain[]>();
  readonly unnotified = new Map<string, HostChain[]>();
}

export class HostChains {
  private readonly vms = new Map<string, VmChains>();

  constructor(
    private readonly platform: Platform,
    private readonly hooks: HostChainHooks = {},
  ) {}

  private vm(name: string): VmChains {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmChains()));
    return v;
  }

  /** The chain of a request pointer (QEMU's blk req is the popped element). */
  chain(vm: string, elem: string): HostChain | undefined {
    return this.vms.get(vm)?.inflight.get(elem);
  }

  /** Feeds one event; the guest's view is ignored. */
  onEvent(e: Event): void {
    if (e.view === 'guest') return;
    const vmName = e.vm ?? '';
    switch (e.kind) {
      case 'vq.pop': {
        const q = this.platform.queueOf(e);
        const c: HostChain = { vm: vmName, dev: q?.dev, queue: q?.index, elem: e.elem, in_num: e.in_num, out_num: e.out_num, pop: refOf(e) };
        this.vm(vmName).inflight.set(e.elem, c);
        this.hooks.pop?.(c);
        return;
      }
      case 'blk.submit': {
        const c = this.vm(vmName).inflight.get(e.req);
        if (!c) return;
        c.submit = refOf(e);
        if (e.op === 'read' || e.op === 'write') c.op = e.op;
        c.sector = e.sector;
        c.nsectors = e.nsectors;
        this.hooks.submit?.(c);
        return;
      }
      case 'blk.backend': {
        const c = this.vm(vmName).inflight.get(e.req);
        if (c) c.backend = refOf(e);
        return;
      }
      case 'blk.complete': {
        const c = this.vm(vmName).inflight.get(e.req);
        if (!c) return;
        c.complete = refOf(e);
        this.hooks.complete?.(c);
        return;
      }
      case 'vq.fill': {
        const v = this.vm(vmName);
        const c = v.inflight.get(e.elem);
        if (!c) return;
        v.inflight.delete(e.elem);
        c.fill = refOf(e);
        c.len = e.len;
        // the queue may have been named since the pop
        const q = this.platform.queueOf(e);
        c.dev ??= q?.dev;
        c.queue ??= q?.index;
        push(v.unflushed, q?.key ?? '?', c);
        this.hooks.fill?.(c);
        return;
      }
      case 'vq.flush': {
        const v = this.vm(vmName);
        const key = this.platform.queueOf(e)?.key ?? '?';
        const ready = v.unflushed.get(key) ?? [];
        const published = ready.splice(0, e.count);
        const ref = refOf(e);
        for (const c of published) c.used = ref;
        // what was published before without a notification stays without one
        v.unnotified.set(key, published);
        return;
      }
      case 'notify.used': {
        const v = this.vm(vmName);
        const key = this.platform.queueOf(e)?.key;
        if (key === undefined) return;
        const ref = refOf(e);
        for (const c of v.unnotified.get(key) ?? []) c.irq = ref;
        v.unnotified.delete(key);
        return;
      }
      case 'status':
        // a reset drops whatever the device held (VIRTIO §2.4)
        if (e.value === 0 && e.dev !== undefined) {
          const v = this.vm(vmName);
          for (const [elem, c] of v.inflight) if (c.dev === e.dev) v.inflight.delete(elem);
        }
        return;
      default:
        return;
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
