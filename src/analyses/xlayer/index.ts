/**
 * Cross-layer block latency: each guest block request followed from the block layer through the
 * virtio driver, QEMU's virtqueue and backend, back to the guest's completion, as spans per layer
 * (layers.ts). Needs a guest trace aligned with the host's (src/align); without one, the guest's
 * own steps are still measured.
 *
 * How the two sides meet: a read or write by its direction, sector and length (QEMU's
 * virtio_blk_handle_read/write names the element it popped); any other request (flush, discard)
 * by the oldest of its kind the guest has outstanding on the mapped device, when QEMU completes a
 * chain it logged no read or write for. On the guest side the steps meet by CPU (a request's
 * issue and its vq_add_sgs follow each other on one CPU), by queue (the kick after the add) and by
 * the driver's token (vq_get_buf); block_rq_complete meets block_rq_issue by sector and length.
 *
 * One-sided requests become findings (src/checks/rules/xlayer.ts): made available but never taken
 * by the device, taken but never used, used but never completed in the guest — each only when a
 * later request of the same disk got further, so a trace that merely ends is not a finding. An
 * interrupt the guest handled without QEMU having sent one is a finding too.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Device } from '../../model/device.ts';
import type { BlkOp, Event, EventOf } from '../../model/events.ts';
import { refOf, type Ref } from '../../model/observations.ts';
import type { Chain } from '../../model/virtqueue/chain.ts';
import { rwbsOp } from '../../ingest/ftrace/rwbs.ts';
import type { TableDecl } from '../../perf/tables.ts';
import type { Analysis, AnalysisContext, RowSink } from '../analysis.ts';
import { announcingInterrupt, KickPairing } from '../kick-pairing.ts';
import { push, take } from '../list-map.ts';
import { LAYERS, layerSpans, type Points } from './layers.ts';
import { XLAYER_LAYERS, XLAYER_REQUESTS, type XlayerRequestRow } from './tables.ts';

export type OneSidedKind = 'never-popped' | 'never-used' | 'never-completed' | 'interrupt-not-sent';

/** A request or interrupt one side saw and the other never did, with both sides' lines. */
export interface OneSided {
  kind: OneSidedKind;
  guestDev: string | undefined;
  hostDev: string | undefined;
  detail: string;
  refs: Ref[];
}

/** What the checks get to know about a host device whose VM has a guest trace. */
export interface DeviceCrossLayer {
  aligned: boolean;
  reason: string | null;
  guestDev: string | undefined;
  /** block requests followed through both traces to their completion */
  requests: number;
  /** guest interrupts of the device, each checked against QEMU's notifications */
  interrupts: number;
  /** lines that show the first request followed through, and the first interrupt handled */
  requestEvidence: Ref[];
  interruptEvidence: Ref[];
  oneSided: OneSided[];
}

const RESULTS = new WeakMap<Device, DeviceCrossLayer>();

/** The cross-layer verdict inputs of a host device, when its VM came with a guest trace. */
export function crossLayerOf(d: Device): DeviceCrossLayer | undefined {
  return RESULTS.get(d);
}

interface GuestReq {
  id: number;
  disk: string;
  op: BlkOp;
  rwbs: string;
  sector: number;
  nsectors: number;
  /** issue order on its disk: a later request that got further proves this one stuck */
  ordinal: number;
  finished: boolean;
  insert?: Ref;
  issue: Ref;
  add?: Ref;
  token?: string;
  gdev?: string;
  gqueue?: number;
  kick?: Ref;
  notify?: Ref;
  /** the first chain QEMU took from the queue after this request's kick */
  laterPop?: Ref;
  chain?: Chain;
  interrupt?: Ref;
  getBuf?: Ref;
  done?: Ref;
}

const blockKey = (disk: string, op: BlkOp, sector: number, nsectors: number) => `${disk} ${op} ${sector} ${nsectors}`;
const hostKey = (op: string, sector: number | undefined, nsectors: number | undefined) => `${op} ${sector} ${nsectors}`;

class VmState {
  /** guest virtioN -> host device, and back */
  readonly toHost: Map<string, string>;
  readonly toGuest = new Map<string, string>();
  readonly inserts = new Map<string, Ref[]>();
  /** by block key, issued and not completed */
  readonly issued = new Map<string, GuestReq[]>();
  readonly pending = new Set<GuestReq>();
  readonly awaitingAdd = new Map<number | undefined, GuestReq[]>();
  readonly kicks = new KickPairing<GuestReq>();
  readonly awaitingPop = new Map<string, GuestReq[]>();
  readonly unjoinedRw = new Map<string, GuestReq[]>();
  unjoinedOther: GuestReq[] = [];
  readonly byToken = new Map<string, GuestReq>();
  readonly lastInterrupt = new Map<string, Ref>();
  readonly ordinals = new Map<string, number>();
  /** per disk, the latest ordinal QEMU took / the guest completed */
  readonly maxPopped = new Map<string, number>();
  readonly maxDone = new Map<string, number>();
  /** interrupts: QEMU notifications sent and guest interrupts handled, per host device */
  readonly sent = new Map<string, { count: number; last?: Ref }>();
  readonly handled = new Map<string, number>();
  readonly irqEntry = new Map<string, EventOf<'irq.handler'>>();
  readonly oneSided: OneSided[] = [];
  readonly requests = new Map<string, number>();
  /** per host device, the first request followed through and the first interrupt handled: a PASS's evidence */
  readonly firstFollowed = new Map<string, Ref[]>();
  readonly firstHandled = new Map<string, Ref[]>();

  constructor(
    readonly name: string,
    readonly aligned: boolean,
    readonly reason: string | null,
    map: { guest: string; host: string }[],
  ) {
    this.toHost = new Map(map.map((m) => [m.guest, m.host]));
    for (const m of map) this.toGuest.set(m.host, m.guest);
  }
}

class XlayerRun {
  private readonly vms = new Map<string, VmState>();
  private nextId = 0;

  constructor(
    private readonly ctx: AnalysisContext,
    private readonly sink: RowSink,
  ) {
    for (const g of ctx.alignments) {
      const a = g.alignment;
      this.vms.set(g.vm, new VmState(g.vm, a.available, a.reason, a.available ? a.deviceMap : []));
    }
    ctx.platform.onChain({
      pop: (c) => this.onHostPop(c),
      submit: (c) => this.onHostSubmit(c),
      complete: (c) => this.onHostComplete(c),
    });
  }

  /** A VM with a guest trace: one the alignment step saw, or any VM guest events arrive for. */
  private vm(name: string): VmState {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmState(name, false, 'no host trace to align with', [])));
    return v;
  }

  onEvent(e: Event): void {
    if (e.view === 'guest') this.guest(e);
    else this.host(e);
  }

  // ---- host side ------------------------------------------------------------------------------

  private host(e: Event): void {
    const v = this.vms.get(e.vm ?? '');
    if (!v?.aligned || e.dev === undefined) return;
    if (e.kind === 'notify.avail') v.kicks.hostKick(`${e.dev}#${e.queue}`, refOf(e));
    else if (e.kind === 'notify.used') {
      const s = v.sent.get(e.dev) ?? { count: 0 };
      s.count++;
      s.last = refOf(e);
      v.sent.set(e.dev, s);
    }
  }

  private onHostPop(c: Chain): void {
    const v = this.vms.get(c.vq.vm);
    if (!v?.aligned || c.vq.dev === undefined) return;
    for (const r of take(v.awaitingPop, `${c.vq.dev}#${c.vq.index}`)) r.laterPop ??= c.pop;
  }

  private onHostSubmit(c: Chain): void {
    const v = this.vms.get(c.vq.vm);
    if (!v?.aligned || c.op === undefined) return;
    const list = v.unjoinedRw.get(hostKey(c.op, c.sector, c.nsectors));
    const i = list?.findIndex((r) => !r.finished && !r.chain && (r.gdev === undefined || v.toHost.get(r.gdev) === c.vq.dev)) ?? -1;
    if (i < 0) return;
    this.join(v, list!.splice(i, 1)[0]!, c);
  }

  /** A chain QEMU completed without a read or write event: a flush, discard or the like. */
  private onHostComplete(c: Chain): void {
    const v = this.vms.get(c.vq.vm);
    if (!v?.aligned || c.submit !== undefined) return;
    v.unjoinedOther = v.unjoinedOther.filter((r) => !r.finished && !r.chain);
    const mine = v.unjoinedOther.filter((r) => r.gdev === undefined || v.toHost.get(r.gdev) === c.vq.dev);
    // a flush is a header and a status byte (VIRTIO §5.2.6); the others carry a readable payload
    const flushShape = c.out_num === 1 && c.in_num === 1;
    const r = mine.find((x) => (x.op === 'flush') === flushShape) ?? mine[0];
    if (r) this.join(v, r, c);
  }

  private join(v: VmState, r: GuestReq, c: Chain): void {
    r.chain = c;
    v.maxPopped.set(r.disk, Math.max(v.maxPopped.get(r.disk) ?? -1, r.ordinal));
  }

  // ---- guest side -----------------------------------------------------------------------------

  private guest(e: Event): void {
    const v = this.vm(e.vm ?? '');
    // a ref only for the events a request keeps: most guest events (buffers of other devices, other
    // interrupts) are not one
    switch (e.kind) {
      case 'block.rq': {
        const op = rwbsOp(e.rwbs);
        const key = blockKey(e.disk, op, e.sector, e.nsectors);
        const ref = refOf(e);
        if (e.phase === 'insert') push(v.inserts, key, ref);
        else if (e.phase === 'issue') this.issue(v, e, op, key, ref);
        else this.complete(v, key, ref);
        return;
      }
      case 'vq.add': {
        // a block request is a header the device reads and a status byte it writes (VIRTIO §5.2.6)
        if (e.out_sgs < 1 || e.in_sgs < 1) return;
        const list = v.awaitingAdd.get(e.cpu);
        let r = list?.shift();
        while (r?.finished) r = list?.shift();
        if (!r) return;
        const ref = refOf(e);
        r.add = ref;
        r.token = e.token;
        r.gdev = e.dev;
        r.gqueue = e.queue;
        v.byToken.set(e.token, r);
        v.kicks.added(`${e.dev}#${e.queue}`, r);
        return;
      }
      case 'notify.avail': {
        const host = e.dev !== undefined ? v.toHost.get(e.dev) : undefined;
        const hostQueue = host !== undefined ? `${host}#${e.queue}` : undefined;
        const kicked = v.kicks.guestKick(`${e.dev}#${e.queue}`, hostQueue, refOf(e));
        if (hostQueue !== undefined) for (const r of kicked) push(v.awaitingPop, hostQueue, r);
        return;
      }
      case 'notify.used':
        v.lastInterrupt.set(`${e.dev}#${e.queue}`, refOf(e));
        return;
      case 'vq.get_buf': {
        const r = v.byToken.get(e.token);
        if (!r) return;
        v.byToken.delete(e.token);
        r.getBuf = refOf(e);
        r.interrupt = announcingInterrupt(v.lastInterrupt.get(`${r.gdev}#${r.gqueue}`), r.chain, r.kick?.ts ?? r.add?.ts ?? r.issue.ts);
        return;
      }
      case 'irq.handler':
        this.interrupt(v, e);
        return;
      default:
        return;
    }
  }

  private issue(v: VmState, e: EventOf<'block.rq'>, op: BlkOp, key: string, ref: Ref): void {
    // issued again before the driver took it (the ring was full and blk-mq requeued it): the same request
    const again = v.issued.get(key)?.find((r) => !r.finished && r.add === undefined);
    if (again) {
      again.issue = ref;
      push(v.awaitingAdd, e.cpu, again);
      return;
    }
    const ordinal = (v.ordinals.get(e.disk) ?? -1) + 1;
    v.ordinals.set(e.disk, ordinal);
    const r: GuestReq = {
      id: this.nextId++, disk: e.disk, op, rwbs: e.rwbs, sector: e.sector, nsectors: e.nsectors, ordinal, finished: false,
      insert: v.inserts.get(key)?.shift(), issue: ref,
    };
    push(v.issued, key, r);
    v.pending.add(r);
    push(v.awaitingAdd, e.cpu, r);
    if (!v.aligned) return;
    if (op === 'read' || op === 'write') push(v.unjoinedRw, hostKey(op, e.sector, e.nsectors), r);
    else v.unjoinedOther.push(r);
  }

  private complete(v: VmState, key: string, ref: Ref): void {
    const list = v.issued.get(key);
    const r = list?.shift();
    // a completion nothing was issued for: the block layer's own (a preflush's parent request)
    if (!r) return;
    if (list!.length === 0) v.issued.delete(key);
    r.done = ref;
    v.maxDone.set(r.disk, Math.max(v.maxDone.get(r.disk) ?? -1, r.ordinal));
    // completed without QEMU taking it: judged at the end, when it is known whether QEMU took later ones
    if (v.aligned && !r.chain) return;
    const host = r.chain?.vq.dev;
    if (host !== undefined) {
      v.requests.set(host, (v.requests.get(host) ?? 0) + 1);
      if (!v.firstFollowed.has(host)) v.firstFollowed.set(host, [r.issue, ...(r.chain ? [r.chain.pop] : []), ref]);
    }
    this.write(v, r, 'complete');
  }

  /** A guest interrupt of a virtio device, judged at its exit (a shared line's other handlers say "unhandled"). */
  private interrupt(v: VmState, e: EventOf<'irq.handler'>): void {
    const key = `${e.cpu}#${e.irq}`;
    if (e.phase === 'entry') {
      // configuration changes are notified outside the virtqueues and QEMU does not log them
      if (e.dev !== undefined && !e.name?.endsWith('-config')) v.irqEntry.set(key, e);
      return;
    }
    const entry = v.irqEntry.get(key);
    v.irqEntry.delete(key);
    const host = entry?.dev !== undefined ? v.toHost.get(entry.dev) : undefined;
    if (!entry || !e.handled || host === undefined) return;
    const ref = refOf(e);
    const n = (v.handled.get(host) ?? 0) + 1;
    v.handled.set(host, n);
    if (!v.firstHandled.has(host)) v.firstHandled.set(host, [refOf(entry), ref]);
    const sent = v.sent.get(host);
    // several notifications may come as one interrupt, never one notification as several
    if (n > (sent?.count ?? 0)) {
      v.oneSided.push({
        kind: 'interrupt-not-sent', guestDev: entry.dev, hostDev: host,
        detail: `the guest handled interrupt ${n} of ${entry.dev} (irq ${e.irq}) but QEMU had sent only ${sent?.count ?? 0} notification(s) to ${host}`,
        refs: [refOf(entry), ref, ...(sent?.last ? [sent.last] : [])],
      });
    }
  }

  // ---- output ---------------------------------------------------------------------------------

  private write(v: VmState, r: GuestReq, outcome: string): void {
    r.finished = true;
    v.pending.delete(r);
    const unjoined = v.unjoinedRw.get(hostKey(r.op, r.sector, r.nsectors));
    if (unjoined?.includes(r)) unjoined.splice(unjoined.indexOf(r), 1);
    const c = r.chain;
    const t: Points = {
      insert: r.insert?.ts, issue: r.issue.ts, add: r.add?.ts, kick: r.kick?.ts, notify: c ? r.notify?.ts : undefined, pop: c?.pop.ts,
      backend: (c?.backend ?? c?.complete)?.ts, complete: c?.complete?.ts, used: (c?.used ?? c?.fill)?.ts, irq: c?.notify?.ts,
      interrupt: r.interrupt?.ts, get_buf: r.getBuf?.ts, done: r.done?.ts,
    };
    const { spans, total } = layerSpans(t);
    // the row written out field by field: one object per request, not one per step (37 k requests on the bench trace)
    const row: XlayerRequestRow = {
      req_id: r.id, vm: v.name, guest_dev: r.gdev ?? null, host_dev: c?.vq.dev ?? (r.gdev !== undefined ? v.toHost.get(r.gdev) : undefined) ?? null,
      disk: r.disk, op: r.op, rwbs: r.rwbs, sector: r.sector, nsectors: r.nsectors, token: r.token ?? null, elem: c?.elem ?? null, outcome,
      t_insert: t.insert ?? null, t_issue: t.issue ?? null, t_add: t.add ?? null, t_kick: t.kick ?? null, t_notify: t.notify ?? null,
      t_pop: t.pop ?? null, t_backend: t.backend ?? null, t_complete: t.complete ?? null, t_used: t.used ?? null, t_irq: t.irq ?? null,
      t_interrupt: t.interrupt ?? null, t_get_buf: t.get_buf ?? null, t_done: t.done ?? null,
      total_ns: total,
      guest_file: r.issue.src?.file ?? null, issue_line: r.issue.src?.line ?? null, done_line: r.done?.src?.line ?? null,
      host_file: c?.pop.src?.file ?? null, pop_line: c?.pop.src?.line ?? null,
    };
    this.sink.add(XLAYER_REQUESTS, row);
    if (outcome !== 'complete') return;
    for (let ord = 0; ord < spans.length; ord++) {
      const ns = spans[ord]!;
      if (ns !== null) this.sink.add(XLAYER_LAYERS, { req_id: r.id, vm: v.name, op: r.op, layer: LAYERS[ord]!.name, ord, ns });
    }
  }

  finish(): void {
    for (const v of this.vms.values()) {
      for (const r of [...v.pending]) this.write(v, r, this.judge(v, r));
      this.publish(v);
    }
  }

  /** How a request left without completion ended, and the finding if a later one got further. */
  private judge(v: VmState, r: GuestReq): string {
    if (!v.aligned) return 'in-flight';
    const c = r.chain;
    const host = c?.vq.dev ?? (r.gdev !== undefined ? v.toHost.get(r.gdev) : undefined);
    const what = `${r.op} ${r.rwbs} sector ${r.sector} +${r.nsectors} of ${r.disk}`;
    const guestRefs = [r.issue, ...(r.add ? [r.add] : []), ...(r.kick ? [r.kick] : [])];
    const laterDone = (v.maxDone.get(r.disk) ?? -1) > r.ordinal;
    if (!c) {
      // outside the host trace (before it, or QEMU took nothing after it): not a finding
      if ((v.maxPopped.get(r.disk) ?? -1) <= r.ordinal) return r.done ? 'complete' : 'in-flight';
      const steps = ['issued', ...(r.kick ? ['kicked'] : []), ...(r.done ? ['completed'] : [])];
      v.oneSided.push({
        kind: 'never-popped', guestDev: r.gdev, hostDev: host,
        detail: `the guest ${steps.join(', ')} ${what}, but QEMU never took it (no virtqueue_pop), though it took requests issued after it`,
        refs: [...guestRefs, ...(r.done ? [r.done] : []), ...(r.notify ? [r.notify] : []), ...(r.laterPop ? [r.laterPop] : [])],
      });
      return 'never-popped';
    }
    if (!laterDone) return 'in-flight';
    if (!c.fill) {
      v.oneSided.push({
        kind: 'never-used', guestDev: r.gdev, hostDev: host,
        detail: `QEMU took ${what} (element ${c.elem}) but never returned it, though the guest completed requests issued after it`,
        refs: [...guestRefs, c.pop, ...(c.submit ? [c.submit] : [])],
      });
      return 'never-used';
    }
    const taken = r.getBuf ? 'the driver took the buffer back (vq_get_buf) but the block layer never completed it' : 'the driver never took it back (no vq_get_buf), nor did the block layer complete it';
    v.oneSided.push({
      kind: 'never-completed', guestDev: r.gdev, hostDev: host,
      detail: `QEMU returned ${what} (element ${c.elem}); ${taken}, though the guest completed requests issued after it`,
      refs: [r.issue, c.fill, ...(c.used ? [c.used] : []), ...(c.notify ? [c.notify] : []), ...(r.getBuf ? [r.getBuf] : [])],
    });
    return 'never-completed';
  }

  /** Leaves each host device's verdict inputs where the checks find them. */
  private publish(v: VmState): void {
    const vm = this.ctx.platform.vms.get(v.name);
    if (!vm) return;
    for (const d of vm.devices.values()) {
      const guestDev = v.toGuest.get(d.id);
      const isBlk = d.type()?.id === DEVICE_ID.blk;
      if (guestDev === undefined && !isBlk) continue;
      RESULTS.set(d, {
        aligned: v.aligned,
        reason: v.reason,
        guestDev,
        requests: v.requests.get(d.id) ?? 0,
        interrupts: v.handled.get(d.id) ?? 0,
        requestEvidence: v.firstFollowed.get(d.id) ?? [],
        interruptEvidence: v.firstHandled.get(d.id) ?? [],
        oneSided: v.oneSided.filter((o) => o.hostDev === d.id),
      });
    }
  }
}

export const xlayerAnalysis: Analysis = {
  name: 'xlayer',
  tables: [XLAYER_REQUESTS, XLAYER_LAYERS] as TableDecl<never>[],
  start: (ctx, sink) => new XlayerRun(ctx, sink),
};

