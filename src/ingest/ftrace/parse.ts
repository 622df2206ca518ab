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
import { digitsValue, isDigit, isSpace, isTerminator, isWord } from './tokenize.ts';

/** What every event of a line carries besides the fields of its arguments (one object, refilled line by line). */
export interface LineAt {
  ts: number;
  vm: string;
  cpu: number;
  file: string;
  line: number;
}

/**
 * What a mapper returns: the event, nothing (a known event to ignore), or why the arguments do not
 * parse. Each event is made whole in one literal, the line's fields (`at`) last: an event given its
 * common fields afterwards changed shape five times, through stores megamorphic over the event kinds
 * (14% of the adapter's CPU on the bench trace, with its events kept as the pipeline keeps them).
 */
export type Mapper = (args: string, at: LineAt) => Event | null | string;

/** `virtioN`, the name Linux gives the N-th virtio device (/sys/bus/virtio/devices); the usual ones made once. */
const guestDev = (index: number) => (index < 256 ? (GUEST_DEVS[index] ??= `virtio${index}`) : `virtio${index}`);
const GUEST_DEVS: string[] = [];

/** u64 -1: what the block layer prints as the position of a request that has none (a completed flush). */
const NO_SECTOR = '18446744073709551615';

const QUOTE = 34;
const BACKSLASH = 92;
const LPAREN = 40;

/**
 * key=value arguments, found in place (offsets into the text, reused from line to line): values
 * run to the next blank, or are "quoted" (kprobe strings); a key given twice has its last value.
 * It reads what the global expression /(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g finds
 * (test/ftrace-tokenize.test.ts), without a Map or a string per pair.
 */
export class KeyValues {
  private text = '';
  private count = 0;
  /** per pair: key start, key end, value start, value end (quotes left out) */
  private readonly at: number[] = [];

  read(args: string): void {
    this.text = args;
    this.count = 0;
    const n = args.length;
    let pos = 0;
    // a kprobe line starts with the probed location in parentheses: "(vm_notify+0x0/0x20 [virtio_mmio]) dev=0 ..."
    if (args.charCodeAt(0) === LPAREN) {
      const end = args.indexOf(') ');
      if (end < 0) return;
      pos = end + 2;
    }
    for (;;) {
      // the first '=' with a word before it: a key is the run of word characters up to it
      let eq = args.indexOf('=', pos + 1);
      while (eq >= 0 && !isWord(args.charCodeAt(eq - 1))) eq = args.indexOf('=', eq + 1);
      if (eq < 0) return;
      let k = eq - 1;
      while (k > pos && isWord(args.charCodeAt(k - 1))) k--;
      const vs = eq + 1;
      let ve = -1;
      if (args.charCodeAt(vs) === QUOTE) {
        // a quoted string, backslash escaping any character but a line terminator
        for (let i = vs + 1; i < n; i++) {
          const c = args.charCodeAt(i);
          if (c === QUOTE) {
            ve = i + 1;
            break;
          }
          if (c === BACKSLASH) {
            if (i + 1 >= n || isTerminator(args.charCodeAt(i + 1))) break;
            i++;
          }
        }
      }
      if (ve < 0) {
        ve = vs;
        while (ve < n && !isSpace(args.charCodeAt(ve))) ve++;
      }
      pos = ve;
      const quoted = ve - vs >= 2 && args.charCodeAt(vs) === QUOTE && args.charCodeAt(ve - 1) === QUOTE;
      const j = 4 * this.count++;
      this.at[j] = k;
      this.at[j + 1] = eq;
      this.at[j + 2] = quoted ? vs + 1 : vs;
      this.at[j + 3] = quoted ? ve - 1 : ve;
    }
  }

  /** offset in `at` of the last pair named `key`, or -1 */
  private find(key: string): number {
    for (let j = 4 * (this.count - 1); j >= 0; j -= 4) {
      if (this.at[j + 1]! - this.at[j]! === key.length && this.text.startsWith(key, this.at[j]!)) return j;
    }
    return -1;
  }

  get(key: string): string | undefined {
    const j = this.find(key);
    return j < 0 ? undefined : this.text.slice(this.at[j + 2], this.at[j + 3]);
  }

  /** A non-negative integer, decimal or 0x hex; undefined when absent or not exact. */
  num(key: string): number | undefined {
    const j = this.find(key);
    if (j < 0) return undefined;
    const t = this.text;
    const s = this.at[j + 2]!;
    const e = this.at[j + 3]!;
    if (s === e) return undefined;
    let i = s;
    while (i < e && isDigit(t.charCodeAt(i))) i++;
    let n: number;
    if (i === e) n = digitsValue(t, s, e);
    else {
      // 0x (or 0X) and hex digits
      if (i !== s + 1 || t.charCodeAt(s) !== 48 || (t.charCodeAt(s + 1) | 32) !== 120 || e - s < 3) return undefined;
      for (i = s + 2; i < e; i++) if (!isHexDigit(t.charCodeAt(i))) return undefined;
      n = Number(t.slice(s, e));
    }
    return Number.isSafeInteger(n) ? n : undefined;
  }
}

const isHexDigit = (c: number) => isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 102);

/** what every mapper reads its key=value arguments with: one line at a time */
const kv = new KeyValues();
/** need()'s answer, reused: read at once by the mapper that asked */
const needed: number[] = [];

/** The numbers of `keys` in the line `kv` read, in order, or which one is missing. */
function need(keys: readonly string[]): number[] | string {
  for (let i = 0; i < keys.length; i++) {
    const n = kv.num(keys[i]!);
    if (n === undefined) return `no numeric ${keys[i]}=`;
    needed[i] = n;
  }
  return needed;
}

const HEX_TOKEN = /^0x[0-9a-f]+$/i;
const GPU_KEYS = ['vdev', 'vq', 'type'];
const NOTIFY_KEYS = ['dev', 'vq'];
const INTERRUPT_KEYS = ['irq', 'dev', 'vq'];

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
  (a, at) => {
    const m = RQ.exec(a);
    if (!m) return `expected "MAJ,MIN RWBS BYTES (CMD) SECTOR + COUNT [COMM]"`;
    const s = sector(m[4]!);
    if (s === undefined) return 'sector out of range';
    return { kind: 'block.rq', phase, disk: m[1]!, rwbs: m[2]!, sector: s, nsectors: Number(m[5]), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  };

const blockRqComplete: Mapper = (a, at) => {
  const m = RQ_DONE.exec(a);
  if (!m) return `expected "MAJ,MIN RWBS (CMD) SECTOR + COUNT [ERROR]"`;
  const s = sector(m[4]!);
  if (s === undefined) return 'sector out of range';
  return { kind: 'block.rq', phase: 'complete', disk: m[1]!, rwbs: m[2]!, sector: s, nsectors: Number(m[5]), error: Number(m[6]), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
};

const vqAdd =
  (shape: 'sgs' | 'out' | 'in'): Mapper => {
    const keys = shape === 'sgs' ? ['dev', 'vq', 'out_sgs', 'in_sgs'] : ['dev', 'vq', 'num'];
    return (a, at) => {
      kv.read(a);
      const token = kv.get('data');
      if (token === undefined || !HEX_TOKEN.test(token)) return 'no data=0x... token';
      const v = need(keys);
      if (typeof v === 'string') return v;
      const out_sgs = shape === 'sgs' || shape === 'out' ? v[2]! : 0;
      const in_sgs = shape === 'sgs' ? v[3]! : shape === 'in' ? v[2]! : 0;
      return { kind: 'vq.add', dev: guestDev(v[0]!), queue: v[1]!, name: kv.get('name'), out_sgs, in_sgs, token: token.toLowerCase(), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
    };
  };

const gpuCmd =
  (phase: 'queue' | 'response'): Mapper =>
  (a, at) => {
    kv.read(a);
    const v = need(GPU_KEYS);
    if (typeof v === 'string') return v;
    return { kind: 'gpu.cmd', phase, dev: guestDev(v[0]!), queue: v[1]!, type: v[2]!, fence: kv.num('fence_id'), ctx: kv.num('ctx_id'), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  };

const netPacket =
  (dir: 'tx' | 'rx'): Mapper =>
  (a, at) => {
    kv.read(a);
    const ifname = kv.get('dev');
    const len = kv.num('len');
    if (ifname === undefined || len === undefined) return 'expected dev=IFNAME ... len=N';
    return { kind: 'net.packet', dir, ifname, len, ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  };

const EVENTS: Record<string, Mapper | null> = {
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
  irq_handler_entry: (a, at) => {
    const m = /^irq=(\d+) name=(.*)$/.exec(a);
    if (!m) return 'expected irq=N name=NAME';
    const dev = /^virtio(\d+)(?:-|$)/.exec(m[2]!);
    return { kind: 'irq.handler', phase: 'entry', irq: Number(m[1]), name: m[2]!, ...(dev ? { dev: guestDev(Number(dev[1])) } : {}), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  },
  irq_handler_exit: (a, at) => {
    const m = /^irq=(\d+) ret=(handled|unhandled)$/.exec(a);
    if (!m) return 'expected irq=N ret=handled|unhandled';
    return { kind: 'irq.handler', phase: 'exit', irq: Number(m[1]), handled: m[2] === 'handled', ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
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
  vq_notify: (a, at) => {
    kv.read(a);
    const v = need(NOTIFY_KEYS);
    if (typeof v === 'string') return v;
    return { kind: 'notify.avail', dev: guestDev(v[0]!), queue: v[1]!, ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  },
  vring_interrupt: (a, at) => {
    kv.read(a);
    const v = need(INTERRUPT_KEYS);
    if (typeof v === 'string') return v;
    return { kind: 'notify.used', irq: v[0]!, dev: guestDev(v[1]!), queue: v[2]!, ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  },
  vq_get_buf: (a, at) => {
    kv.read(a);
    const token = kv.get('data');
    if (token === undefined || !HEX_TOKEN.test(token)) return 'no data=0x... token';
    // a NULL return: the driver looked and found nothing used
    if (/^0x0+$/.test(token)) return null;
    return { kind: 'vq.get_buf', token: token.toLowerCase(), ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } };
  },

  // ---- markers and network (include/trace/events/net.h)
  tracing_mark_write: (a, at) => ({ kind: 'mark', text: a, ts: at.ts, vm: at.vm, view: 'guest', cpu: at.cpu, src: { file: at.file, line: at.line } }),
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

/** by name (a Map: a line may name an event `constructor` or `__proto__`) */
export const FTRACE_EVENTS = new Map(Object.entries(EVENTS));
