/**
 * QEMU's `log` trace backend (`-trace events=...,file=...`): one event a line,
 * `PID@SECONDS.MICROSECONDS:name args` with `-msg timestamp=on`, or `name args` without it.
 * Read by QEMU 7.2 and 10.0 alike; plain or gzip. Lines are tokenized from their bytes (no string
 * a line) when they have the shape QEMU writes; any other line is read as text by the reference
 * reader, which decides what it is (foreign, unknown, malformed).
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { SourceClock, TIMESTAMP_TOO_LARGE } from '../clock.ts';
import { InputError } from '../errors.ts';
import type { Stats } from '../stats.ts';
import { compileDeclaration, matchBytes, MATCHED_NEGATIVE, NOT_MATCHED, parseArgs, type Args, type CompiledFormat } from './format.ts';
import { QEMU_EVENTS, type QemuEventSpec } from './events.ts';

/**
 * Events only a vCPU thread logs (the guest's register accesses) and events only QEMU's main
 * thread logs (VM run state changes, device realize): they tell whose thread a status line is.
 */
const VCPU_ONLY = new Set([
  'virtio_mmio_read', 'virtio_mmio_write_offset', 'virtio_mmio_queue_write', 'virtio_mmio_guest_page',
  'virtio_pci_notify_write', 'virtio_pci_notify_write_pio', 'msix_write_config',
]);
const MAIN_ONLY = new Set(['virtio_rng_vm_state_change', 'virtio_snd_vm_state_running', 'virtio_snd_vm_state_stopped', 'virtio_snd_realize', 'virtio_snd_unrealize']);

interface CompiledEvent {
  name: string;
  /** whose thread logs it, when only one does */
  thread: 'vcpu' | 'main' | undefined;
  nameBytes: Buffer;
  spec: QemuEventSpec;
  formats: CompiledFormat[];
}

const COMPILED = new Map<string, CompiledEvent>(
  Object.entries(QEMU_EVENTS).map(([name, spec]) => {
    const formats = spec.decl.map((d) => {
      const c = compileDeclaration(d);
      if (c.name !== name) throw new Error(`declaration ${c.name} listed under ${name}`);
      return c.format;
    });
    const thread = VCPU_ONLY.has(name) ? 'vcpu' : MAIN_ONLY.has(name) ? 'main' : undefined;
    return [name, { name, thread, nameBytes: Buffer.from(name, 'latin1'), spec, formats }];
  }),
);

/** The byte tokenizer's hash of an event name (h = h * 31 + byte, in 32 bits). */
const nameHash = (h: number, c: number) => (Math.imul(h, 31) + c) | 0;

/** The events by the hash of their name's bytes (its last 10 bits): the byte tokenizer finds a line's event without a string. */
const BY_NAME_HASH: (CompiledEvent[] | undefined)[] = new Array<CompiledEvent[] | undefined>(1024).fill(undefined);
for (const ev of COMPILED.values()) {
  const h = ev.nameBytes.reduce(nameHash, 0) & 1023;
  BY_NAME_HASH[h] = [...(BY_NAME_HASH[h] ?? []), ev];
}

function sameBytes(a: Buffer, b: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[start + k]) return false;
  return true;
}

/** ns per unit of a fraction of a second written with n digits */
const NS_SCALE = [0, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1];

/** A QEMU event line: `PID@S.U:name ...` or a known event name at the start of the line. */
const PREFIXED = /^\d+@\d+\.\d+:[a-z_][a-z0-9_]*( |$)/;

/**
 * Lines other programs write into the same stream, as logs pasted in bug reports have them: the
 * qtest protocol (`[R +0.020] writel 0x... 0x...`, `[S +0.021] OK`, a bare `OK`), messages on
 * stderr (`libusb: error ...`, `qemu-system-x86_64: warning: ...`), the guest's console
 * (`[    1.234567] virtio_blk virtio0: ...`) and shell prompts. They are skipped and counted.
 */
const FOREIGN = [
  /^\[[RSI] \+?\d+(\.\d+)?\] /,
  /^(OK|FAIL|ERR)\b/,
  /^[\w.+-]+: (error|warning|info|note|fatal|debug)\b/i,
  /^qemu(-system)?-[\w-]+: /,
  /^\[\s*\d+\.\d+\] /,
  /^[$#] /,
];
const isForeign = (line: string) => FOREIGN.some((r) => r.test(line));

/** Lines to look at when sniffing: a pasted log may open with a few foreign ones. */
const SNIFF_LINES = 32;

/**
 * Events of QEMU's emulated network cards that are not virtio (hw/net/trace-events): one of them
 * in the log means the VM has such a NIC. Known by name prefix, whatever their arguments.
 */
const NON_VIRTIO_NICS: [prefix: string, model: string][] = [
  ['e1000e_', 'e1000e'], ['e1000x_', 'e1000'], ['e1000_', 'e1000'], ['igbvf_', 'igbvf'], ['igb_', 'igb'],
  ['rtl8139_', 'rtl8139'], ['ne2000_', 'ne2000'], ['pcnet_', 'pcnet'], ['vmxnet3_', 'vmxnet3'], ['eepro100_', 'eepro100'],
  ['tulip_', 'tulip'], ['sungem_', 'sungem'], ['sunhme_', 'sunhme'], ['i82596_', 'i82596'], ['lan9118_', 'lan9118'],
  ['dp8393x_', 'dp8393x'], ['npcm7xx_emc_', 'npcm7xx-emc'], ['imx_fec_', 'imx-fec'], ['smc91c111_', 'smc91c111'],
  ['allwinner_sun8i_emac_', 'allwinner-sun8i-emac'], ['cadence_gem_', 'cadence-gem'], ['rocker_', 'rocker'],
];
function nonVirtioNic(name: string): string | undefined {
  for (const [prefix, model] of NON_VIRTIO_NICS) if (name.startsWith(prefix)) return model;
  return undefined;
}

export const qemuLogAdapter: Adapter = {
  name: 'qemu-log',
  description: "QEMU trace log (the 'log' backend, with or without -msg timestamp=on), plain or gzip",
  sniff(head) {
    // the head may end in the middle of a line: the last one is left out unless it is the only one
    const all = head.split('\n', SNIFF_LINES + 1).filter((l) => l.length > 0);
    const lines = (all.length > 1 ? all.slice(0, -1) : all).filter((l) => !isForeign(l));
    const first = lines[0];
    if (first === undefined) return false;
    if (PREFIXED.test(first)) return true;
    // without timestamps: the first few lines start with event names QEMU declares
    const some = lines.slice(0, 7);
    const known = some.filter((l) => COMPILED.has(l.slice(0, l.indexOf(' ') >>> 0)));
    return known.length > 0 && known.length === some.length;
  },
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = {
      file: opts.file, format: 'qemu-log', view: 'host', vm: opts.vm,
      originNs: 0n, timed: false, events: 0, lines: 0,
    };
    const parser = new QemuLineParser(info, opts.stats);
    return { info, batches: readLineSource(info, parser, opts.stats, opts.keepRaw) };
  },
};

export class QemuLineParser implements LineParser {
  private readonly typed = new Set<string>();
  private readonly clock: SourceClock;
  /** lines that are QEMU's (events, known or not, and QEMU lines that do not parse) */
  private qemuLines = 0;
  private firstForeign: number | undefined;
  /** host threads by what they logged: vCPU threads write the guest's registers, the main thread runs the VM */
  private readonly vcpuThreads = new Set<number>();
  private readonly mainThreads = new Set<number>();
  /** the thread of the first line: QEMU's main thread, in a log that starts with QEMU's start */
  private firstThread: number | undefined;
  private lowestThread = Infinity;
  /** last status per device: QEMU's own status writes set 0 or repeat the last value */
  private readonly lastStatus = new Map<string, number>();
  /** non-virtio NIC models already announced */
  private readonly nics = new Set<string>();

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {
    this.clock = new SourceClock(info);
  }

  finish(): void {
    if (this.qemuLines === 0 && this.firstForeign !== undefined) {
      throw new InputError('no line of this file is a QEMU trace event: every line was written by another program (qtest, stderr, console)', this.info.file, this.firstForeign);
    }
  }

  /** The reference reader: a line's text. */
  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    return this.judge(this.parseQemuLine(line, lineNo, out), line, lineNo);
  }

  /**
   * The fast reader: a line's bytes, tokenized without a string, for lines of an event this adapter
   * knows whose arguments have the shape QEMU prints; every other line (unknown events, foreign
   * and broken lines) goes to the reference reader as text.
   */
  parseBytes(b: Buffer, start: number, end: number, lineNo: number, out: Event[]): string | undefined {
    const ev = this.tokenize(b, start, end);
    if (ev === undefined) return this.parseLine(b.toString('utf8', start, end), lineNo, out);
    this.qemuLines++;
    const thread = this.tokThread;
    if (thread !== undefined) this.learnThread(thread, ev);
    const f = ev.formats[0]!;
    const why = this.emit(ev, f.scratch, this.tokSec, this.tokNs, thread, lineNo, out, this.tokNegative);
    return why === undefined ? undefined : this.judge(why, b.toString('utf8', start, end), lineNo);
  }

  /** the tokenizer's last line: its time (sec -1: none), thread and whether a number in it is negative */
  private tokSec = -1;
  private tokNs = 0;
  private tokThread: number | undefined;
  private tokNegative = false;

  /**
   * The event of a line in the shape QEMU writes (`PID@S.F:name args` or `name args`, ASCII
   * numbers of at most 15 digits), its arguments matched by its first declared format; undefined
   * for any other line. Changes nothing but the tok* fields and the format's scratch arguments.
   */
  private tokenize(b: Buffer, start: number, end: number): CompiledEvent | undefined {
    let i = start;
    this.tokSec = -1;
    this.tokNs = 0;
    this.tokThread = undefined;
    const c0 = b[i]!;
    if (c0 >= 48 && c0 <= 57) {
      let v = 0;
      for (; i < end && b[i]! >= 48 && b[i]! <= 57; i++) v = v * 10 + (b[i]! - 48);
      if (i === start || i - start > 15 || i >= end || b[i] !== 64) return undefined; // '@'
      this.tokThread = v;
      const s0 = ++i;
      v = 0;
      for (; i < end && b[i]! >= 48 && b[i]! <= 57; i++) v = v * 10 + (b[i]! - 48);
      if (i === s0 || i - s0 > 15 || i >= end || b[i] !== 46) return undefined; // '.'
      this.tokSec = v;
      const f0 = ++i;
      v = 0;
      for (; i < end && b[i]! >= 48 && b[i]! <= 57; i++) v = v * 10 + (b[i]! - 48);
      if (i === f0 || i - f0 > 9 || i >= end || b[i] !== 58) return undefined; // ':'
      this.tokNs = v * NS_SCALE[i - f0]!;
      i++;
    }
    const nameStart = i;
    let h = 0;
    for (; i < end && b[i] !== 32; i++) h = nameHash(h, b[i]!);
    const candidates = BY_NAME_HASH[h & 1023];
    if (candidates === undefined) return undefined;
    let ev: CompiledEvent | undefined;
    for (const c of candidates) if (sameBytes(c.nameBytes, b, nameStart, i)) ev = c;
    // an event declared twice (its format changed between QEMU versions) is left to the text reader, which tries each
    if (ev === undefined || ev.formats.length !== 1) return undefined;
    const m = matchBytes(ev.formats[0]!, b, i < end ? i + 1 : end, end);
    if (m === NOT_MATCHED) return undefined;
    this.tokNegative = m === MATCHED_NEGATIVE;
    return ev;
  }

  /** A line the reader found bad: another program's (counted apart) or a QEMU line that is not an event. */
  private judge(why: string | undefined, line: string, lineNo: number): string | undefined {
    if (why === undefined) return undefined;
    if (isForeign(line)) {
      this.firstForeign ??= lineNo;
      this.stats.add('line.foreign', this.info.file, lineNo, line.length > 120 ? line.slice(0, 120) + '…' : line);
      return undefined;
    }
    this.qemuLines++;
    return why;
  }

  private parseQemuLine(line: string, lineNo: number, out: Event[]): string | undefined {
    let sec = -1;
    let ns = 0;
    let nameStart = 0;
    let thread: number | undefined;
    const c0 = line.charCodeAt(0);
    if (c0 >= 48 && c0 <= 57) {
      const at = line.indexOf('@');
      const dot = line.indexOf('.', at);
      const colon = line.indexOf(':', dot);
      if (at < 1 || dot < 0 || colon < 0) return 'no PID@SECONDS.MICROSECONDS: prefix';
      thread = Number(line.slice(0, at));
      if (!Number.isSafeInteger(thread)) return 'bad thread id';
      sec = Number(line.slice(at + 1, dot));
      const digits = colon - dot - 1;
      const frac = Number(line.slice(dot + 1, colon));
      if (digits < 1 || digits > 9 || !Number.isSafeInteger(frac) || !Number.isSafeInteger(sec)) return 'bad timestamp';
      ns = frac * NS_SCALE[digits]!;
      nameStart = colon + 1;
    }
    let nameEnd = line.indexOf(' ', nameStart);
    if (nameEnd < 0) nameEnd = line.length;
    const name = line.slice(nameStart, nameEnd);
    const ev = COMPILED.get(name);
    if (ev === undefined) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) return 'no event name';
      // QEMU's event names all have an underscore; a bare word at the start of a line is not one
      if (nameStart === 0 && !name.includes('_')) return 'not a QEMU trace event line';
      this.qemuLines++;
      const nic = nonVirtioNic(name);
      if (nic !== undefined && !this.nics.has(nic)) {
        const ts = sec < 0 ? this.clock.now : this.clock.stamp(sec, ns);
        if (ts === undefined) return TIMESTAMP_TOO_LARGE;
        this.nics.add(nic);
        out.push({ kind: 'device', ts, vm: this.info.vm, name: nic, virtio: false, class: 'network', src: { file: this.info.file, line: lineNo } });
      }
      this.stats.add('event.unknown', this.info.file, lineNo, name, name);
      return undefined;
    }
    this.qemuLines++;
    if (thread !== undefined) this.learnThread(thread, ev);
    const argText = nameEnd < line.length ? line.slice(nameEnd + 1) : '';
    let args;
    for (const f of ev.formats) {
      args = parseArgs(f, argText);
      if (args) break;
    }
    if (!args) return `arguments do not match ${name}'s declared format`;
    return this.emit(ev, args, sec, ns, thread, lineNo, out, true);
  }

  /** The events of a known event's line, its arguments read (`negative`: some number in them may be below 0). */
  private emit(ev: CompiledEvent, args: Args, sec: number, ns: number, thread: number | undefined, lineNo: number, out: Event[], negative: boolean): string | undefined {
    // a line without the PID@time prefix carries no time: it happened at the clock's last reading
    const ts = sec < 0 ? this.clock.now : this.clock.stamp(sec, ns);
    if (ts === undefined) return TIMESTAMP_TOO_LARGE;

    const { spec, name } = ev;
    if (spec.provesType) {
      const dev = String(args[spec.provesType.arg]);
      if (!this.typed.has(dev)) {
        this.typed.add(dev);
        out.push({ kind: 'device', ts, vm: this.info.vm, dev, device_id: spec.provesType.deviceId, name: spec.provesType.model, src: { file: this.info.file, line: lineNo } });
      }
    }
    if (spec.map === null) {
      this.stats.add('event.ignored', this.info.file, lineNo, name, name);
      return undefined;
    }
    const fields = spec.map(args);
    if (fields === null) {
      this.stats.add('event.ignored', this.info.file, lineNo, name, name);
      return undefined;
    }
    // mappers copy arguments and constants: a field is negative only when a number read was
    if (negative) {
      for (const k in fields) {
        const v = (fields as Record<string, unknown>)[k];
        // only a backend's return code may be negative; a negative size or index is a corrupt line
        if (typeof v === 'number' && v < 0 && k !== 'ret') {
          this.stats.add('event.invalid', this.info.file, lineNo, `${name}: ${k} ${v} cannot be negative: line dropped`);
          return undefined;
        }
      }
    }
    const e = fields as Event;
    e.ts = ts;
    e.vm = this.info.vm;
    e.src = { file: this.info.file, line: lineNo };
    if (e.kind === 'status') this.whoseStatus(e, thread);
    out.push(e);
    return undefined;
  }

  private learnThread(thread: number, ev: CompiledEvent): void {
    if (this.firstThread === undefined) this.firstThread = thread;
    if (thread < this.lowestThread) this.lowestThread = thread;
    if (ev.thread === 'vcpu') this.vcpuThreads.add(thread);
    else if (ev.thread === 'main') this.mainThreads.add(thread);
  }

  /**
   * Whose status write this is. QEMU's main thread sets the status itself (machine reset: 0; VM
   * run and stop: the value it already has), never a new value: a thread that sets one, or that
   * wrote guest registers, is a vCPU running the driver. The first line's thread is QEMU's main
   * thread when no lower thread id (the process's own, on Linux) has been seen.
   */
  private whoseStatus(e: Extract<Event, { kind: 'status' }>, thread: number | undefined): void {
    const dev = e.dev!;
    const last = this.lastStatus.get(dev);
    this.lastStatus.set(dev, e.value);
    if (thread === undefined) return;
    e.thread = thread;
    if (e.value !== 0 && e.value !== last) this.vcpuThreads.add(thread);
    if (this.vcpuThreads.has(thread)) e.by = 'driver';
    else if (this.mainThreads.has(thread) || (thread === this.firstThread && thread === this.lowestThread)) e.by = 'hypervisor';
  }
}
