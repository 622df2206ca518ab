/**
 * QEMU's `log` trace backend (`-trace events=...,file=...`): one event a line,
 * `PID@SECONDS.MICROSECONDS:name args` with `-msg timestamp=on`, or `name args` without it.
 * Read by QEMU 7.2 and 10.0 alike; plain or gzip.
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { SourceClock, TIMESTAMP_TOO_LARGE } from '../clock.ts';
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

export const qemuLogAdapter: Adapter = {
  name: 'qemu-log',
  description: "QEMU trace log (the 'log' backend, with or without -msg timestamp=on), plain or gzip",
  sniff(head) {
    const lines = head.split('\n', 8).filter((l) => l.length > 0);
    const first = lines[0];
    if (first === undefined) return false;
    if (PREFIXED.test(first)) return true;
    // without timestamps: the first few lines start with event names QEMU declares
    const known = lines.slice(0, -1).filter((l) => COMPILED.has(l.slice(0, l.indexOf(' ') >>> 0)));
    return known.length > 0 && known.length === Math.max(1, lines.length - 1);
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

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {
    this.clock = new SourceClock(info);
  }

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    let sec = -1;
    let ns = 0;
    let nameStart = 0;
    const c0 = line.charCodeAt(0);
    if (c0 >= 48 && c0 <= 57) {
      const at = line.indexOf('@');
      const dot = line.indexOf('.', at);
      const colon = line.indexOf(':', dot);
      if (at < 1 || dot < 0 || colon < 0) return 'no PID@SECONDS.MICROSECONDS: prefix';
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
      this.stats.add('event.unknown', this.info.file, lineNo, name, name);
      return undefined;
    }
    const argText = nameEnd < line.length ? line.slice(nameEnd + 1) : '';
    let args;
    for (const f of ev.formats) {
      args = parseArgs(f, argText);
      if (args) break;
    }
    if (!args) return `arguments do not match ${name}'s declared format`;

    // a line without the PID@time prefix carries no time: it happened at the clock's last reading
    const ts = sec < 0 ? this.clock.now : this.clock.stamp(sec, ns);
    if (ts === undefined) return TIMESTAMP_TOO_LARGE;

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
    out.push(e);
    return undefined;
  }
}
