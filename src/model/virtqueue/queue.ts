/**
 * Virtqueue bookkeeping from the device's side (VIRTIO §2.7): chains taken (pop), used elements
 * written (fill) and published (flush). QEMU logs these three steps the same way for split and
 * packed rings, so this layer is layout-agnostic; the size rules it checks (§2.7.1 queue size,
 * at most `size` chains outstanding) hold for both.
 */
import type { Ref } from '../observations.ts';
import type { Chain, Completed } from './chain.ts';

export type FillResult =
  /** overtook: the oldest chain still in flight, when this one was taken after it (completed out of order) */
  | { ok: true; req: Completed; overtook?: Chain }
  | { ok: false; code: 'vq.completed-twice'; first: Ref }
  | { ok: false; code: 'vq.completion-without-request' };

/** Completions remembered to tell a double completion from a stray one. QEMU reuses element
 *  addresses, so a double completion is seen within a few hundred chains; the cap keeps memory flat. */
const REMEMBERED_FILLS = 4096;

export class QueueState {
  dev?: string;
  index?: number;
  /** QueueNum, when the transport shows it */
  size?: number;
  readonly inflight = new Map<string, Chain>();
  /** chains filled since their last pop (to tell a double completion from a stray one) */
  private readonly lastFill = new Map<string, Ref>();
  /** completed, awaiting the flush that publishes them */
  private unflushed: Completed[] = [];
  /** published, awaiting a used-buffer notification (or the next flush, if it was suppressed) */
  private unnotified: Completed[] = [];
  pops = 0;
  fills = 0;
  used = 0;
  notifies = 0;
  /** available-buffer notifications (doorbells) the driver sent */
  kicks = 0;
  maxInflight = 0;
  /** completions that wrote nothing (used length 0), and the first of them */
  emptyFills = 0;
  firstEmptyFill?: Ref;
  /** the first completion: evidence a verdict on the queue can cite */
  firstFill?: Ref;

  /** `vm` is '' for a trace that names no VM, as in the events */
  constructor(
    readonly key: string,
    readonly vm = '',
  ) {}

  /** A chain taken; one still in flight under the same element is replaced (its completion is missing). */
  pop(elem: string, ref: Ref, in_num: number, out_num: number): Chain {
    this.pops++;
    const c: Chain = { vq: this, elem, pop: ref, in_num, out_num };
    // in flight in the order taken: the first entry is the oldest
    this.inflight.delete(elem);
    this.inflight.set(elem, c);
    this.lastFill.delete(elem);
    if (this.inflight.size > this.maxInflight) this.maxInflight = this.inflight.size;
    return c;
  }

  fill(elem: string, ref: Ref, len: number): FillResult {
    const c = this.inflight.get(elem);
    if (!c) {
      const first = this.lastFill.get(elem);
      return first ? { ok: false, code: 'vq.completed-twice', first } : { ok: false, code: 'vq.completion-without-request' };
    }
    const oldest = this.inflight.values().next().value!;
    this.inflight.delete(elem);
    this.lastFill.set(elem, ref);
    if (this.lastFill.size > REMEMBERED_FILLS) this.lastFill.delete(this.lastFill.keys().next().value!);
    this.fills++;
    this.firstFill ??= ref;
    if (len === 0) {
      this.emptyFills++;
      this.firstEmptyFill ??= ref;
    }
    c.fill = ref;
    c.len = len;
    const req = c as Completed;
    this.unflushed.push(req);
    return oldest === c ? { ok: true, req } : { ok: true, req, overtook: oldest };
  }

  /** Publishes `count` used elements. Returns the requests that were waiting for a notification
   *  (now known to have had none) and how many elements were published beyond those completed. */
  flush(count: number, ref: Ref): { unnotified: Completed[]; excess: number } {
    const done = this.unnotified;
    this.unnotified = [];
    const n = Math.min(count, this.unflushed.length);
    const published = this.unflushed.splice(0, n);
    for (const r of published) r.used = ref;
    this.used += count;
    this.unnotified = published;
    return { unnotified: done, excess: count - n };
  }

  notify(ref: Ref): Completed[] {
    this.notifies++;
    const done = this.unnotified;
    for (const r of done) r.notify = ref;
    this.unnotified = [];
    return done;
  }

  /** At a device reset the device forgets every chain (VIRTIO §2.4): nothing left to complete.
   *  Returns the chains it dropped, for the caller to judge, and the completed ones still held. */
  reset(): { dropped: Chain[]; pending: Completed[] } {
    const dropped = [...this.inflight.values()];
    this.inflight.clear();
    this.lastFill.clear();
    const pending = [...this.unflushed, ...this.unnotified];
    this.unflushed = [];
    this.unnotified = [];
    return { dropped, pending };
  }

  /** Everything still held at the end of the trace. */
  drain(): Completed[] {
    const out = [...this.unflushed, ...this.unnotified];
    this.unflushed = [];
    this.unnotified = [];
    return out;
  }
}
