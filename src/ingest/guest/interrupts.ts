/**
 * The guest's /proc/interrupts: one `irq.count` event per numbered interrupt (its total over the
 * CPUs, controller and the name its handler registered, e.g. `virtio0-control`). Architecture
 * counters (NMI, LOC, ...) are read and left out. No clock: ts 0.
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';

const HEADER = /^\s+CPU0(\s+CPU\d+)*\s*$/;
/** hardware irq numbers and trigger words that sit between the controller and the handler names */
const HW = /^(\d+(-\w+)?|Level|Edge|level|edge)$/;

export const guestInterruptsAdapter: Adapter = {
  name: 'guest-interrupts',
  description: "the guest's /proc/interrupts: per interrupt, its count and the handler's name (virtioN-<queue>)",
  sniff: (head) => HEADER.test(head.split('\n', 1)[0]!),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'guest-interrupts', view: 'guest', vm: opts.vm, originNs: 0n, timed: false, events: 0, lines: 0 };
    return { info, batches: readLineSource(info, new InterruptsParser(info), opts.stats, opts.keepRaw) };
  },
};

class InterruptsParser implements LineParser {
  private cpus = 0;
  constructor(private readonly info: SourceInfo) {}

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    if (lineNo === 1) {
      if (!HEADER.test(line)) return 'expected the CPU0 ... header of /proc/interrupts';
      this.cpus = line.trim().split(/\s+/).length;
      return undefined;
    }
    const m = /^\s*([A-Za-z0-9]+):\s*(.*)$/.exec(line);
    if (!m) return 'expected "IRQ: counts ..."';
    const tokens = m[2]!.trim().split(/\s+/);
    const counts = tokens.slice(0, this.cpus);
    if (counts.length === 0 || !/^\d+$/.test(counts[0]!)) return 'expected a count per CPU';
    if (!/^\d+$/.test(m[1]!)) return undefined;
    const rest = tokens.slice(counts.filter((c) => /^\d+$/.test(c)).length);
    const chip = rest.shift();
    while (rest.length > 1 && HW.test(rest[0]!)) rest.shift();
    const name = rest.join(' ');
    out.push({
      kind: 'irq.count', ts: 0, vm: this.info.vm, view: 'guest', src: { file: this.info.file, line: lineNo },
      irq: m[1]!, count: counts.reduce((a, c) => a + (/^\d+$/.test(c) ? Number(c) : 0), 0),
      ...(chip !== undefined ? { chip } : {}), ...(name.length > 0 ? { name } : {}),
    });
    return undefined;
  }
}
