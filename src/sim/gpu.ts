/**
 * A simulated shared GPU, as canonical events: VMs submit commands at known instants to one device that
 * serves one command at a time, first come first served or by VM priority (never preempting). Each VM has
 * its own virtio-gpu as under QEMU (device `gpu0`, control queue 0); what they share is the one server. The
 * events are the host's view, written the way QEMU logs them: the VM's device takes each chain as it is
 * submitted (virtqueue_pop: QEMU pops everything available at a kick), processing starts when the server
 * turns to it (virtio_gpu_cmd_*) and ends with the response (virtqueue_fill, flush, notification). All VMs
 * go into one trace, each event keyed by its `vm`. For tests whose answers are known in closed form.
 */
import { headerToJson, eventToJson } from '../ingest/jsonl/index.ts';
import { GPU_CMD } from '../model/devices/gpu-codes.ts';
import type { Event, SourceHeader } from '../model/events.ts';

export interface SimCommand {
  vm: string;
  /** ns, when the VM submits it */
  at: number;
  /** ns the server spends on it */
  serviceNs: number;
  /** VIRTIO_GPU_CMD_* (default TRANSFER_TO_HOST_2D) */
  type?: number;
  resource?: number;
  /** SET_SCANOUT: the scanout it sets */
  scanout?: number;
}

export interface SharedGpuOptions {
  /** fifo: the command submitted first (at a tie: the one listed first); priority: the VM with the highest level first, then fifo */
  policy: 'fifo' | 'priority';
  priority?: Record<string, number>;
}

export interface SimulatedGpuTrace {
  header: SourceHeader;
  events: Event[];
}

/** `count` commands of one VM, one every `periodNs` from `offsetNs`. */
export function periodic(vm: string, o: { count: number; periodNs: number; offsetNs?: number; serviceNs: number; type?: number; resource?: number }): SimCommand[] {
  return Array.from({ length: o.count }, (_, k) => ({ vm, at: (o.offsetNs ?? 0) + k * o.periodNs, serviceNs: o.serviceNs, type: o.type, resource: o.resource }));
}

interface Scheduled extends SimCommand {
  order: number;
  start: number;
  end: number;
}

function schedule(cmds: SimCommand[], o: SharedGpuOptions): Scheduled[] {
  const queue = cmds.map((c, order) => ({ ...c, order, start: 0, end: 0 })).sort((a, b) => a.at - b.at || a.order - b.order);
  const level = (c: Scheduled) => (o.policy === 'priority' ? (o.priority?.[c.vm] ?? 0) : 0);
  const waiting: Scheduled[] = [];
  const out: Scheduled[] = [];
  let free = 0;
  let next = 0;
  while (next < queue.length || waiting.length > 0) {
    if (waiting.length === 0) free = Math.max(free, queue[next]!.at);
    while (next < queue.length && queue[next]!.at <= free) waiting.push(queue[next++]!);
    // waiting is in submission order: the first of the highest level
    let pick = 0;
    for (let i = 1; i < waiting.length; i++) if (level(waiting[i]!) > level(waiting[pick]!)) pick = i;
    const c = waiting.splice(pick, 1)[0]!;
    c.start = free;
    c.end = free + c.serviceNs;
    free = c.end;
    out.push(c);
  }
  return out;
}

const DEV = 'gpu0';
const CONTROL = 0;
/** at one instant: completions, then submissions, then starts (a server freed at t may start a command submitted at t) */
const END = 0;
const SUBMIT = 1;
const START = 2;

export function sharedGpu(cmds: SimCommand[], o: SharedGpuOptions): SimulatedGpuTrace {
  const timed: { ts: number; step: number; n: number; e: Event }[] = [];
  const add = (ts: number, step: number, e: Record<string, unknown>) => timed.push({ ts, step, n: timed.length, e: { ts, dev: DEV, ...e } as Event });
  for (const vm of new Set(cmds.map((c) => c.vm))) add(0, END, { vm, kind: 'device', device_id: 16, name: 'virtio-gpu' });
  const used = new Map<string, number>();
  for (const c of schedule(cmds, o)) {
    const vm = c.vm;
    const elem = `c${c.order}`;
    const idx = used.get(vm) ?? 0;
    used.set(vm, idx + 1);
    add(c.at, SUBMIT, { vm, kind: 'notify.avail', queue: CONTROL });
    add(c.at, SUBMIT, { vm, kind: 'vq.pop', queue: CONTROL, elem, in_num: 1, out_num: 1 });
    add(c.start, START, { vm, kind: 'gpu.cmd', phase: 'process', type: c.type ?? GPU_CMD.TRANSFER_TO_HOST_2D, resource: c.resource, scanout: c.scanout });
    add(c.end, END, { vm, kind: 'vq.fill', queue: CONTROL, elem, len: 24, idx: idx % 256 });
    add(c.end, END, { vm, kind: 'vq.flush', queue: CONTROL, count: 1 });
    add(c.end, END, { vm, kind: 'notify.used', queue: CONTROL });
  }
  timed.sort((a, b) => a.ts - b.ts || a.step - b.step || a.n - b.n);
  for (const t of timed) for (const [k, v] of Object.entries(t.e)) if (v === undefined) delete (t.e as Record<string, unknown>)[k];
  return {
    header: { format: 'avpscope-events', version: 1, origin_ns: '0', view: 'host', producer: `avpscope sim sharedGpu ${o.policy}` },
    events: timed.map((t) => t.e),
  };
}

/** The trace as canonical JSON Lines. */
export function gpuTraceJsonl(t: SimulatedGpuTrace): string {
  return [headerToJson(t.header), ...t.events.map(eventToJson)].join('\n') + '\n';
}
