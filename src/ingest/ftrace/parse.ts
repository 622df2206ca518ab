/**
 * The guest kernel events avpscope reads from ftrace text, and how the arguments of each (as the
 * event's print format shows them) become canonical events. `null` marks events that are known but
 * carry nothing the analyses use: they are counted as ignored rather than unknown.
 *
 * The virtio events other than virtio-gpu's are kprobes the capture defines in a group `virtio`
 * (traces/guest-ftrace/*.guest.kprobe_events.txt): `dev` is the virtio device index (virtioN),
 * `vq` the queue index, `data` the token the driver gives virtqueue_add_*() and gets back from
 * virtqueue_get_buf().
 */
import type { Event } from '../../model/events.ts';

/** What a mapper returns: the kind-specific fields (and dev), nothing (a known event to ignore), or why the arguments do not parse. */
export type Fields = Omit<Event, 'ts' | 'vm' | 'src' | 'raw' | 'inferred' | 'view' | 'cpu'>;
export type Mapper = (args: string) => Fields | null | string;

/** `virtioN`, the name Linux gives the N-th virtio device (/sys/bus/virtio/devices). */
export const guestDev = (index: number) => `virtio${index}`;

/** u64 -1: what the block layer prints as the position of a request that has none (a completed flush). */
const NO_SECTOR = '18446744073709551615';

/** key=value arguments; values run to the next blank, or are "quoted" (kprobe strings). */
function keyValues(args: string): Map<string, string> {
  // a kprobe line starts with the probed location in parentheses: "(vm_notify+0x0/0x20 [virtio_mmio]) dev=0 ..."
  let text = args;
  if (text.startsWith('(')) {
    const end = text.indexOf(') ');
    text = end < 0 ? '' : text.slice(end + 2);
  }
  const out = new Map<string, string>();
  const re = /(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const v = m[2]!;
    out.set(m[1]!, v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v);
  }
  return out;
}

/** A non-negative integer, decimal or 0x hex; undefined when absent or not exact. */
function num(v: string | undefined): number | undefined {
  if (v === undefined || !/^(?:\d+|0x[0-9a-f]+)$/i.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

function need(kv: Map<string, string>, ...keys: string[]): number[] | string {
  const out: number[] = [];
  for (const k of keys) {
    const n = num(kv.get(k));
    if (n === undefined) return `no numeric ${k}=`;
    out.push(n);
  }
  return out;
}

function sector(text: string): number | undefined {
  if (text === NO_SECTOR) return 0;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

// block_rq_insert / block_rq_issue: "dev rwbs bytes (cmd) sector + nr_sectors [comm]", with an
// "ioprio" column before [comm] on newer kernels
const RQ = /^(\d+,\d+) (\S+) \d+ \((.*?)\) (\d+) \+ (\d+)(?: \S+)? \[(.*)\]$/;
// block_rq_complete: "dev rwbs (cmd) sector + nr_sectors [error]"
const RQ_DONE = /^(\d+,\d+) (\S+) \((.*?)\) (\d+) \+ (\d+)(?: \S+)? \[(-?\d+)\]$/;

const blockRq =
  (phase: 'insert' | 'issue'): Mapper =>
  (a) => {
    const m = RQ.exec(a);
    if (!m) return `expected "MAJ,MIN RWBS BYTES (CMD) SECTOR + COUNT [COMM]"`;
    const s = sector(m[4]!);
    if (s === undefined) return 'sector out of range';
    return { kind: 'block.rq', phase, disk: m[1]!, rwbs: m[2]!, sector: s, nsectors: Number(m[5]) };
  };

const blockRqComplete: Mapper = (a) => {
  const m = RQ_DONE.exec(a);
  if (!m) return `expected "MAJ,MIN RWBS (CMD) SECTOR + COUNT [ERROR]"`;
  const s = sector(m[4]!);
  if (s === undefined) return 'sector out of range';
  return { kind: 'block.rq', phase: 'complete', disk: m[1]!, rwbs: m[2]!, sector: s, nsectors: Number(m[5]), error: Number(m[6]) };
};

const vqAdd =
  (shape: 'sgs' | 'out' | 'in'): Mapper =>
  (a) => {
    const kv = keyValues(a);
    const token = kv.get('data');
    if (token === undefined || !/^0x[0-9a-f]+$/i.test(token)) return 'no data=0x... token';
    const counts = shape === 'sgs' ? need(kv, 'dev', 'vq', 'out_sgs', 'in_sgs') : need(kv, 'dev', 'vq', 'num');
    if (typeof counts === 'string') return counts;
    const [dev, queue, x, y] = counts as [number, number, number, number?];
    const [out_sgs, in_sgs] = shape === 'sgs' ? [x, y!] : shape === 'out' ? [x, 0] : [0, x];
    return { kind: 'vq.add', dev: guestDev(dev), queue, name: kv.get('name'), out_sgs, in_sgs, token: token.toLowerCase() };
  };

const gpuCmd =
  (phase: 'queue' | 'response'): Mapper =>
  (a) => {
    const kv = keyValues(a);
    const v = need(kv, 'vdev', 'vq', 'type');
    if (typeof v === 'string') return v;
    const [dev, queue, type] = v as [number, number, number];
    return { kind: 'gpu.cmd', phase, dev: guestDev(dev), queue, type, fence: num(kv.get('fence_id')), ctx: num(kv.get('ctx_id')) };
  };

const netPacket =
  (dir: 'tx' | 'rx'): Mapper =>
  (a) => {
    const kv = keyValues(a);
    const ifname = kv.get('dev');
    const len = num(kv.get('len'));
    if (ifname === undefined || len === undefined) return 'expected dev=IFNAME ... len=N';
    return { kind: 'net.packet', dir, ifname, len };
  };

export const FTRACE_EVENTS: Record<string, Mapper | null> = {
  // ---- block layer (include/trace/events/block.h)
  block_rq_insert: blockRq('insert'),
  block_rq_issue: blockRq('issue'),
  block_rq_complete: blockRqComplete,
  block_rq_requeue: null,
  block_rq_merge: null,
  block_rq_remap: null,
  block_bio_queue: null,
  block_bio_backmerge: null,
  block_bio_frontmerge: null,
  block_bio_bounce: null,
  block_bio_complete: null,
  block_bio_remap: null,
  block_getrq: null,
  block_plug: null,
  block_unplug: null,
  block_split: null,
  block_dirty_buffer: null,
  block_touch_buffer: null,

  // ---- interrupts (include/trace/events/irq.h)
  irq_handler_entry: (a) => {
    const m = /^irq=(\d+) name=(.*)$/.exec(a);
    if (!m) return 'expected irq=N name=NAME';
    const dev = /^virtio(\d+)(?:-|$)/.exec(m[2]!);
    return { kind: 'irq.handler', phase: 'entry', irq: Number(m[1]), name: m[2]!, ...(dev ? { dev: guestDev(Number(dev[1])) } : {}) };
  },
  irq_handler_exit: (a) => {
    const m = /^irq=(\d+) ret=(handled|unhandled)$/.exec(a);
    if (!m) return 'expected irq=N ret=handled|unhandled';
    return { kind: 'irq.handler', phase: 'exit', irq: Number(m[1]), handled: m[2] === 'handled' };
  },
  softirq_entry: null,
  softirq_exit: null,
  softirq_raise: null,

  // ---- virtio-gpu (drivers/gpu/drm/virtio/virtgpu_trace.h): type is VIRTIO_GPU_CMD_* / _RESP_*
  virtio_gpu_cmd_queue: gpuCmd('queue'),
  virtio_gpu_cmd_response: gpuCmd('response'),

  // ---- the capture's `virtio` kprobe group
  vq_add_sgs: vqAdd('sgs'),
  vq_add_outbuf: vqAdd('out'),
  vq_add_inbuf: vqAdd('in'),
  vq_add_inbuf_ctx: vqAdd('in'),
  vq_notify: (a) => {
    const v = need(keyValues(a), 'dev', 'vq');
    if (typeof v === 'string') return v;
    return { kind: 'notify.avail', dev: guestDev(v[0]!), queue: v[1]! };
  },
  vring_interrupt: (a) => {
    const v = need(keyValues(a), 'irq', 'dev', 'vq');
    if (typeof v === 'string') return v;
    return { kind: 'notify.used', irq: v[0]!, dev: guestDev(v[1]!), queue: v[2]! };
  },
  vq_get_buf: (a) => {
    const token = keyValues(a).get('data');
    if (token === undefined || !/^0x[0-9a-f]+$/i.test(token)) return 'no data=0x... token';
    // a NULL return: the driver looked and found nothing used
    if (/^0x0+$/.test(token)) return null;
    return { kind: 'vq.get_buf', token: token.toLowerCase() };
  },

  // ---- markers and network (include/trace/events/net.h)
  tracing_mark_write: (a) => ({ kind: 'mark', text: a }),
  net_dev_xmit: netPacket('tx'),
  netif_receive_skb: netPacket('rx'),
  net_dev_queue: null,
  net_dev_start_xmit: null,
  netif_rx: null,
  napi_poll: null,
  napi_gro_receive_entry: null,
  napi_gro_receive_exit: null,
  netif_receive_skb_entry: null,
  netif_receive_skb_exit: null,
  sched_process_exec: null,
};
