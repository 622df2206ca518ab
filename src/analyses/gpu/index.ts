/**
 * virtio-gpu command latency from both sides. The guest: virtio_gpu_cmd_queue (after the
 * vq_add_sgs that placed it, same CPU) to virtio_gpu_cmd_response (after the vq_get_buf returning
 * its token). QEMU: the chain it popped to the used element it wrote; its virtio_gpu_cmd_* events
 * name the command when it processes it, and it processes a queue's chains in the order it popped
 * them (it pops everything available first), so the n-th command event of a queue belongs to the
 * n-th chain popped and not yet processed. The two sides meet in ring order: the device takes the
 * available ring in the order the driver filled it, so each chain QEMU pops from the queue a guest
 * virtioN maps to is the oldest command the guest queued there and QEMU has not taken yet.
 */
import { GPU_CMD, gpuCodeName } from '../../model/devices/gpu-codes.ts';
import type { Event, EventOf } from '../../model/events.ts';
import { refOf, type Ref } from '../../model/observations.ts';
import type { Chain } from '../../model/virtqueue/chain.ts';
import { brokenPair } from '../../model/platform.ts';
import type { TableDecl } from '../../perf/tables.ts';
import type { Analysis, AnalysisContext, RowSink } from '../analysis.ts';
import { announcingInterrupt, KickPairing } from '../kick-pairing.ts';
import { push } from '../list-map.ts';
import { GPU_COMMANDS } from './tables.ts';

interface GuestCmd {
  gdev: string;
  queue: number;
  type: number;
  ctx?: number;
  queued: Ref;
  token?: string;
  kick?: Ref;
  notify?: Ref;
  host?: HostCmd;
  interrupt?: Ref;
  getBuf?: Ref;
}

interface HostCmd {
  chain: Chain;
  process?: Ref;
  type?: number;
  ctx?: number;
  resource?: number;
  scanout?: number;
  guest?: GuestCmd;
}

/** 2D and cursor commands belong to no 3D context; the 0x2xx ones name theirs. */
const is3d = (type: number) => type >= 0x200 && type < 0x300;

class VmState {
  readonly toHost: Map<string, string>;
  readonly toGuest: Map<string, string>;
  /** the last buffer each CPU added, for the command event that follows it */
  readonly lastAdd = new Map<number | undefined, EventOf<'vq.add'>>();
  readonly byToken = new Map<string, GuestCmd>();
  /** per guest queue: queued and not taken by QEMU; not answered; taken back by the driver */
  readonly unpopped = new Map<string, GuestCmd[]>();
  readonly unanswered = new Map<string, GuestCmd[]>();
  readonly reclaimed = new Map<string, GuestCmd[]>();
  readonly lastInterrupt = new Map<string, Ref>();
  readonly kicks = new KickPairing<GuestCmd>();
  /** per host queue: popped, awaiting processing */
  readonly unprocessed = new Map<string, HostCmd[]>();
  /** which scanout shows each resource (QEMU's SET_SCANOUTs): the scanout a RESOURCE_FLUSH presents on */
  readonly scanoutOf = new Map<number, number>();

  constructor(
    readonly name: string,
    map: { guest: string; host: string }[],
  ) {
    this.toHost = new Map(map.map((m) => [m.guest, m.host]));
    this.toGuest = new Map(map.map((m) => [m.host, m.guest]));
  }
}

class GpuRun {
  private readonly vms = new Map<string, VmState>();
  private readonly hostOf = new Map<Chain, HostCmd>();
  private nextId = 0;

  constructor(
    private readonly ctx: AnalysisContext,
    private readonly sink: RowSink,
  ) {
    for (const g of ctx.alignments) this.vms.set(g.vm, new VmState(g.vm, g.alignment.available ? g.alignment.deviceMap : []));
    ctx.platform.onChain({ pop: (c) => this.onPop(c), fill: (c) => this.onFill(c) });
  }

  private vm(name: string): VmState {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmState(name, [])));
    return v;
  }

  onEvent(e: Event): void {
    if (e.view === 'guest') this.guest(e);
    else this.host(e);
  }

  // ---- host -----------------------------------------------------------------------------------

  private host(e: Event): void {
    if (e.kind === 'notify.avail' && e.dev !== undefined) this.vms.get(e.vm ?? '')?.kicks.hostKick(`${e.dev}#${e.queue}`, refOf(e));
    else if (e.kind === 'gpu.cmd' && e.phase === 'process' && e.dev !== undefined) {
      const v = this.vm(e.vm ?? '');
      // QEMU's cursor events carry their queue; the rest are control-queue commands
      const h = v.unprocessed.get(`${e.dev}#${e.queue ?? 0}`)?.shift();
      if (!h) return;
      h.process = refOf(e);
      h.type = e.type;
      h.ctx = e.ctx;
      h.resource = e.resource;
      h.scanout = e.type === GPU_CMD.RESOURCE_FLUSH && e.resource !== undefined ? v.scanoutOf.get(e.resource) : e.scanout;
      if ((e.type === GPU_CMD.SET_SCANOUT || e.type === GPU_CMD.SET_SCANOUT_BLOB) && e.scanout !== undefined) showOn(v.scanoutOf, e.scanout, e.resource);
    }
  }

  private onPop(c: Chain): void {
    const { vm, dev, index } = c.vq;
    if (dev === undefined || index === undefined) return;
    const v = this.vm(vm);
    const h: HostCmd = { chain: c };
    const gdev = v.toGuest.get(dev);
    const g = gdev !== undefined ? v.unpopped.get(`${gdev}#${index}`)?.shift() : undefined;
    if (g) {
      g.host = h;
      h.guest = g;
    }
    // only GPU chains are ever processed; the others leave at their fill
    push(v.unprocessed, `${dev}#${index}`, h);
    this.hostOf.set(c, h);
  }

  private onFill(c: Chain): void {
    const h = this.hostOf.get(c);
    if (!h) return;
    this.hostOf.delete(c);
    const v = this.vm(c.vq.vm);
    const list = v.unprocessed.get(`${c.vq.dev}#${c.vq.index}`);
    if (list?.includes(h)) list.splice(list.indexOf(h), 1);
    // a command the guest's trace does not show (before or after it): the host's view alone
    if (h.type !== undefined && !h.guest) this.write(v, undefined, h, undefined);
  }

  // ---- guest ----------------------------------------------------------------------------------

  private guest(e: Event): void {
    const v = this.vm(e.vm ?? '');
    const ref = refOf(e);
    switch (e.kind) {
      case 'vq.add':
        v.lastAdd.set(e.cpu, e);
        return;
      case 'gpu.cmd': {
        if (e.dev === undefined) return;
        const gq = `${e.dev}#${e.queue ?? 0}`;
        if (e.phase === 'queue') {
          const cmd: GuestCmd = { gdev: e.dev, queue: e.queue ?? 0, type: e.type, ctx: e.ctx, queued: ref };
          const add = v.lastAdd.get(e.cpu);
          if (add && add.dev === e.dev && add.queue === cmd.queue && !v.byToken.has(add.token)) {
            cmd.token = add.token;
            v.byToken.set(add.token, cmd);
          }
          v.kicks.added(gq, cmd);
          push(v.unpopped, gq, cmd);
          push(v.unanswered, gq, cmd);
        } else if (e.phase === 'response') {
          // responses follow the order the driver took the buffers back in; without its probes, the queue's order
          const cmd = v.reclaimed.get(gq)?.shift() ?? v.unanswered.get(gq)?.[0];
          if (!cmd) return;
          const list = v.unanswered.get(gq)!;
          list.splice(list.indexOf(cmd), 1);
          this.write(v, cmd, cmd.host, { ref, type: e.type });
        }
        return;
      }
      case 'notify.avail': {
        const host = e.dev !== undefined ? v.toHost.get(e.dev) : undefined;
        v.kicks.guestKick(`${e.dev}#${e.queue}`, host !== undefined ? `${host}#${e.queue}` : undefined, ref);
        return;
      }
      case 'notify.used':
        v.lastInterrupt.set(`${e.dev}#${e.queue}`, ref);
        return;
      case 'vq.get_buf': {
        const cmd = v.byToken.get(e.token);
        if (!cmd) return;
        v.byToken.delete(e.token);
        cmd.getBuf = ref;
        cmd.interrupt = announcingInterrupt(v.lastInterrupt.get(`${cmd.gdev}#${cmd.queue}`), cmd.host?.chain, cmd.queued.ts);
        push(v.reclaimed, `${cmd.gdev}#${cmd.queue}`, cmd);
        return;
      }
      default:
        return;
    }
  }

  // ---- output ---------------------------------------------------------------------------------

  private write(v: VmState, g: GuestCmd | undefined, h: HostCmd | undefined, resp: { ref: Ref; type: number } | undefined): void {
    const c = h?.chain;
    // QEMU saw the command when it took its chain, whether or not it logged the command's own event
    const hostSeen = c !== undefined;
    const type = g?.type ?? h!.type!;
    this.sink.add(GPU_COMMANDS, {
      cmd_id: this.nextId++,
      vm: v.name,
      guest_dev: g?.gdev ?? null,
      host_dev: c?.vq.dev ?? (g ? v.toHost.get(g.gdev) : undefined) ?? null,
      queue: g?.queue ?? c?.vq.index ?? null,
      type,
      type_name: gpuCodeName(type),
      ctx: g?.ctx ?? h?.ctx ?? (is3d(type) ? null : 0),
      resource: h?.resource ?? null,
      scanout: h?.scanout ?? null,
      resp_type: resp?.type ?? null,
      resp_name: resp ? gpuCodeName(resp.type) : null,
      seen: g && hostSeen ? 'both' : g ? 'guest' : 'host',
      type_match: g && h?.type !== undefined ? g.type === h.type : null,
      t_queue: g?.queued.ts ?? null,
      t_kick: g?.kick?.ts ?? null,
      t_notify: g && c ? (g.notify?.ts ?? null) : null,
      t_pop: c?.pop.ts ?? null,
      t_process: h?.process?.ts ?? null,
      t_fill: c?.fill?.ts ?? null,
      t_used: c?.used?.ts ?? null,
      t_irq: c?.notify?.ts ?? null,
      t_interrupt: g?.interrupt?.ts ?? null,
      t_get_buf: g?.getBuf?.ts ?? null,
      t_response: resp?.ref.ts ?? null,
      guest_ns: g && resp ? this.latency(g.queued, resp.ref, 'guest') : null,
      host_ns: hostSeen && c?.fill ? this.latency(c.pop, c.fill, 'QEMU') : null,
      guest_file: g?.queued.src?.file ?? null,
      queue_line: g?.queued.src?.line ?? null,
      host_file: c?.pop.src?.file ?? null,
      process_line: h?.process?.src?.line ?? null,
    });
  }

  /** end − start, or null (and a broken pair counted) when the pairing is broken */
  private latency(start: { ts: number; src?: { file: string; line: number } }, end: { ts: number; src?: { file: string; line: number } }, side: string): number | null {
    const broken = brokenPair(this.ctx.stats, start, end);
    if (broken === undefined) return end.ts - start.ts;
    this.ctx.stats.add('pair.broken', end.src?.file ?? '?', end.src?.line ?? 0, `GPU command, ${side} view (sent at line ${start.src?.line ?? '?'}): ${broken}: no latency`);
    return null;
  }

  finish(): void {
    for (const v of this.vms.values()) {
      // commands the guest queued and never saw answered
      for (const list of v.unanswered.values()) for (const g of list) this.write(v, g, g.host, undefined);
      v.unanswered.clear();
    }
  }
}

/** A scanout shows one resource at a time; resource 0 turns it off. */
function showOn(scanoutOf: Map<number, number>, scanout: number, resource: number | undefined): void {
  for (const [r, s] of scanoutOf) if (s === scanout) scanoutOf.delete(r);
  if (resource !== undefined && resource !== 0) scanoutOf.set(resource, scanout);
}

export const gpuAnalysis: Analysis = {
  name: 'gpu',
  tables: [GPU_COMMANDS] as TableDecl<never>[],
  start: (ctx, sink) => new GpuRun(ctx, sink),
};
