/**
 * QEMU's `log` trace backend (`-trace events=...,file=...`): one event a line,
 * `PID@SECONDS.MICROSECONDS:name args` with `-msg timestamp=on`, or `name args` without it.
 * Read by QEMU 7.2 and 10.0 alike; plain or gzip.
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { SourceClock } from '../clock.ts';
import { InputError } from '../errors.ts';
import type { Stats } from '../stats.ts';
import { compileDeclaration, parseArgs, type CompiledFormat } from './format.ts';
import { QEMU_EVENTS, type QemuEventSpec } from './events.ts';

interface CompiledEvent {
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
    return [name, { spec, formats }];
  }),
);

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

/**
 * Events only a vCPU thread logs (the guest's register accesses) and events only QEMU's main
 * thread logs (VM run state changes, device realize): they tell whose thread a status line is.
 */
const VCPU_ONLY = new Set([
  'virtio_mmio_read', 'virtio_mmio_write_offset', 'virtio_mmio_queue_write', 'virtio_mmio_guest_page',
  'virtio_pci_notify_write', 'virtio_pci_notify_write_pio', 'msix_write_config',
]);
const MAIN_ONLY = new Set(['virtio_rng_vm_state_change', 'virtio_snd_vm_state_running', 'virtio_snd_vm_state_stopped', 'virtio_snd_realize', 'virtio_snd_unrealize']);

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

class QemuLineParser implements LineParser {
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
    this.clock = new SourceClock(info, stats);
  }

  finish(): void {
    if (this.qemuLines === 0 && this.firstForeign !== undefined) {
      throw new InputError('no line of this file is a QEMU trace event: every line was written by another program (qtest, stderr, console)', this.info.file, this.firstForeign);
    }
  }

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    const why = this.parseQemuLine(line, lineNo, out);
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
        const ts = sec < 0 ? this.clock.now : this.clock.stamp(sec, ns, lineNo);
        if (ts === undefined) return undefined;
        this.nics.add(nic);
        out.push({ kind: 'device', ts, vm: this.info.vm, name: nic, virtio: false, class: 'network', src: { file: this.info.file, line: lineNo } });
      }
      this.stats.add('event.unknown', this.info.file, lineNo, name, name);
      return undefined;
    }
    this.qemuLines++;
    if (thread !== undefined) this.learnThread(thread, name);
    const argText = nameEnd < line.length ? line.slice(nameEnd + 1) : '';
    let args;
    for (const f of ev.formats) {
      args = parseArgs(f, argText);
      if (args) break;
    }
    if (!args) return `arguments do not match ${name}'s declared format`;

    // a line without the PID@time prefix carries no time: it happened at the clock's last reading
    const ts = sec < 0 ? this.clock.now : this.clock.stamp(sec, ns, lineNo);
    if (ts === undefined) return undefined;

    const { spec } = ev;
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
    for (const k in fields) {
      const v = (fields as Record<string, unknown>)[k];
      // only a backend's return code may be negative; a negative size or index is a corrupt line
      if (typeof v === 'number' && v < 0 && k !== 'ret') {
        this.stats.add('event.invalid', this.info.file, lineNo, `${name}: ${k} ${v} cannot be negative: line dropped`);
        return undefined;
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

  private learnThread(thread: number, name: string): void {
    if (this.firstThread === undefined) this.firstThread = thread;
    if (thread < this.lowestThread) this.lowestThread = thread;
    if (VCPU_ONLY.has(name)) this.vcpuThreads.add(thread);
    else if (MAIN_ONLY.has(name)) this.mainThreads.add(thread);
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
