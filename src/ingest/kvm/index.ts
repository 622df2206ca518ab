/**
 * The host kernel's KVM tracepoints (tracefs text or `trace-cmd report`): every trapped MMIO and
 * port access of a VM's devices with its value, and every interrupt the VMM injects, whatever the
 * VMM (QEMU, Firecracker, crosvm, cloud-hypervisor, kvmtool). Told apart from a guest's ftrace by
 * its content (KVM's host tracepoints); the format is `host-kvm`, the view the hypervisor's.
 *
 * Devices are found from addresses (devices.ts); each access becomes the register event of its
 * transport (`mmio.*` or `pci.*`, with the value), and the writes QEMU's own log would echo become
 * the same canonical events (`status` by the driver: KVM traps only the guest's, `notify.avail`), so the model runs unchanged. A read that
 * the VMM answers is two lines (`unsatisfied-read` when KVM exits to userspace, `read` with the
 * value when the vCPU resumes): one event, at the resume, plus a `kvm.exit` with the time between.
 *
 * VMs: one per VMM process when the trace records thread-group ids (`(tgid)` column), else one
 * per file. Time: tracefs seconds (use `trace_clock` tai or realtime to share QEMU's clock).
 */
import type { Event } from '../../model/events.ts';
import { MMIO, mmioRegisterName, VIRTIO_MMIO_MAGIC } from '../../model/transport/mmio.ts';
import { PCI_COMMON, pciRegisterName } from '../../model/transport/pci.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';
import { SourceClock, TIMESTAMP_TOO_LARGE } from '../clock.ts';
import { looksLikeFtrace, tokenize } from '../ftrace/tokenize.ts';
import type { Stats } from '../stats.ts';
import { DeviceMap, type Hit, type PciFunctionRef, type UserDevice } from './devices.ts';
import { KVM_HOST_EVENTS, parseKvmArgs, tokenizeKvm } from './tokenize.ts';

export const kvmAdapter: Adapter = {
  name: 'host-kvm',
  description: "the host kernel's KVM tracepoints (tracefs text or 'trace-cmd report'): register values and interrupts of any KVM-based VMM",
  sniff: (head) => looksLikeFtrace(head) && KVM_HOST_EVENTS.test(head),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'host-kvm', view: 'host', vm: opts.vm, originNs: 0n, timed: true, events: 0, lines: 0 };
    return { info, batches: readLineSource(info, new KvmLineParser(info, opts.stats, opts.deviceMap ?? []), opts.stats, opts.keepRaw) };
  },
};

/** One VMM process: its devices and what is in flight on its vCPU threads. */
class VmState {
  readonly map: DeviceMap;
  /** a read KVM handed to the VMM, per thread, until the vCPU resumes with the value */
  readonly pendingRead = new Map<number, { gpa: number; ts: number }>();
  /** a write the VMM serves, per thread: its cost is known at the next kvm_entry (VMX/SVM hosts) */
  readonly pendingWrite = new Map<number, { ts: number; dev: string; reg: string; userspace: boolean }>();
  /** virtio-mmio: interrupt line (gsi) -> device, learnt from the InterruptStatus read that follows a raise */
  readonly gsiDev = new Map<number, string>();
  /** the line raised last whose device is not known yet */
  lastRaisedGsi?: number;
  /** virtio-pci: MSI-X table entry -> vector, and per device the queue -> entry and queue select */
  readonly vectorOwner = new Map<number, { dev: string; entry: number }>();
  readonly pciQueues = new Map<string, { sel: number; entryOf: Map<number, number>; configEntry?: number }>();
  readonly typed = new Set<string>();
  constructor(readonly name: string, user: UserDevice[]) {
    this.map = new DeviceMap(user);
  }
}

export class KvmLineParser implements LineParser {
  private readonly clock: SourceClock;
  private readonly vms = new Map<string, VmState>();

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
    private readonly user: UserDevice[],
  ) {
    this.clock = new SourceClock(info);
  }

  private vm(tgid: number | undefined, task: string): VmState {
    const name = tgid === undefined ? this.info.vm : `${this.info.vm}/${task}-${tgid}`;
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmState(name, this.user)));
    return v;
  }

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    const r = tokenizeKvm(line);
    if (!r) {
      // headers, trace-cmd's preamble, lost-event notes: shared with ftrace
      const t = tokenize(line);
      if (t.kind === 'blank') return undefined;
      if (t.kind === 'lost') {
        this.stats.add('events.lost', this.info.file, lineNo, `CPU ${t.cpu}: ${t.count ?? 'some'} events lost by the tracer`);
        return undefined;
      }
      return t.kind === 'bad' ? t.why : undefined;
    }
    const rec = parseKvmArgs(r.event, r.args);
    if (typeof rec === 'string') return `${r.event}: ${rec}`;
    // the time policy of every source (clock.ts): a line that cannot be stamped is a bad line
    if (!Number.isSafeInteger(r.sec)) return 'bad timestamp';
    const ts = this.clock.stamp(r.sec, r.ns);
    if (ts === undefined) return TIMESTAMP_TOO_LARGE;
    if (rec === undefined) {
      this.stats.add('event.unknown', this.info.file, lineNo, r.event, r.event);
      return undefined;
    }
    if (rec === null) {
      this.stats.add('event.ignored', this.info.file, lineNo, r.event, r.event);
      return undefined;
    }
    const v = this.vm(r.tgid, r.task);
    const src = { file: this.info.file, line: lineNo };
    const emit = (e: Record<string, unknown>) => out.push({ ...e, ts, vm: v.name, src } as Event);
    const pending = v.pendingWrite.get(r.pid);
    if (pending && rec.t !== 'userspace_exit' && rec.t !== 'entry') v.pendingWrite.delete(r.pid);

    switch (rec.t) {
      case 'mmio': {
        if (rec.op === 'unsatisfied-read') {
          v.pendingRead.set(r.pid, { gpa: rec.gpa, ts });
          return undefined;
        }
        let trapped: number | undefined;
        if (rec.op === 'read') {
          const p = v.pendingRead.get(r.pid);
          if (p && p.gpa === rec.gpa) {
            trapped = ts - p.ts;
            v.pendingRead.delete(r.pid);
          }
          // a probe reads MagicValue at a window's base, outside any device already known
          if (rec.val === VIRTIO_MMIO_MAGIC && rec.len === 4 && v.map.lookup(rec.gpa) === undefined) v.map.probe(rec.gpa);
        }
        const cfg = v.map.ecam(rec.gpa, rec.len, rec.val);
        if (cfg !== undefined) {
          if (cfg !== 'inside' && rec.op === 'read') this.announce(v, cfg, emit);
          return undefined;
        }
        const hit = v.map.lookup(rec.gpa);
        if (!hit) {
          this.stats.add('event.ignored', this.info.file, lineNo, 'kvm_mmio outside any virtio device', 'kvm_mmio (no virtio device)');
          return undefined;
        }
        const reg = this.access(v, hit, rec.op === 'write', rec.len, rec.val, emit);
        if (trapped !== undefined) emit({ kind: 'kvm.exit', dev: hit.dev, reason: 'mmio', dur_ns: trapped, reg });
        if (rec.op === 'write') v.pendingWrite.set(r.pid, { ts, dev: hit.dev, reg, userspace: false });
        return undefined;
      }
      case 'fast_mmio': {
        const hit = v.map.lookup(rec.gpa);
        if (hit?.transport === 'pci' && hit.region === 'notify') {
          const queue = hit.notifyMultiplier > 0 ? hit.offset / hit.notifyMultiplier : 0;
          emit({ kind: 'notify.avail', dev: hit.dev, queue, inferred: ['queue'] });
        } else this.stats.add('event.ignored', this.info.file, lineNo, 'kvm_fast_mmio outside a virtio notify structure', 'kvm_fast_mmio (no virtio device)');
        return undefined;
      }
      case 'pio': {
        const cfg = v.map.pio(rec.port, rec.size, rec.val, rec.write);
        if (cfg && !rec.write) this.announce(v, cfg, emit);
        if (!cfg) this.stats.add('event.ignored', this.info.file, lineNo, 'kvm_pio other than PCI configuration', 'kvm_pio (not PCI configuration)');
        return undefined;
      }
      case 'set_irq': {
        if (rec.level === 0) return undefined;
        const dev = v.gsiDev.get(rec.gsi);
        if (dev === undefined) {
          v.lastRaisedGsi = rec.gsi;
          this.stats.add('event.ignored', this.info.file, lineNo, `interrupt line ${rec.gsi} of no known virtio device`, 'kvm_set_irq (no virtio device yet)');
          return undefined;
        }
        emit({ kind: 'irq.line', dev, level: 1, line: rec.gsi, inferred: ['dev'] });
        emit({ kind: 'notify.used', dev, via: 'irq', irq: rec.gsi, inferred: ['dev'] });
        return undefined;
      }
      case 'msi': {
        const owner = v.vectorOwner.get(rec.vec);
        if (!owner) {
          emit({ kind: 'irq.msi', vector: rec.vec, step: 'raise', dst: rec.dst });
          return undefined;
        }
        const qs = v.pciQueues.get(owner.dev);
        const queues = qs ? [...qs.entryOf].filter(([, e]) => e === owner.entry).map(([q]) => q) : [];
        emit({ kind: 'irq.msi', dev: owner.dev, vector: rec.vec, step: 'raise', dst: rec.dst, ...(queues.length === 1 ? { queue: queues[0] } : {}) });
        if (queues.length === 1) emit({ kind: 'notify.used', dev: owner.dev, queue: queues[0], via: 'msi', irq: rec.vec });
        else if (queues.length > 1) emit({ kind: 'notify.used', dev: owner.dev, via: 'msi', irq: rec.vec });
        return undefined;
      }
      case 'accept':
        emit({ kind: 'irq.msi', vector: rec.vec, step: 'accept' });
        return undefined;
      case 'userspace_exit':
        if (pending) pending.userspace = true;
        return undefined;
      case 'entry':
        if (pending?.userspace) emit({ kind: 'kvm.exit', dev: pending.dev, reason: 'mmio', dur_ns: ts - pending.ts, reg: pending.reg });
        v.pendingWrite.delete(r.pid);
        return undefined;
      case 'exit':
        this.stats.add('event.ignored', this.info.file, lineNo, 'kvm_exit', 'kvm_exit');
        return undefined;
      case 'hvc':
        emit({ kind: 'kvm.exit', reason: 'hypercall', fn: rec.fn });
        return undefined;
    }
  }

  /** Emits the register event of an access (and what it means) and returns the register's name. */
  private access(v: VmState, hit: Hit, write: boolean, len: number, value: number | undefined, emit: (e: Record<string, unknown>) => void): string {
    const size = len === 1 || len === 2 || len === 4 || len === 8 ? len : undefined;
    const sized = size !== undefined ? { size } : {};
    const val = value !== undefined ? { value } : {};
    if (hit.transport === 'mmio') {
      const { dev, offset } = hit;
      const mapped = v.map.mmioTypeOf(dev);
      if (mapped !== undefined && mapped !== 0 && !v.typed.has(dev)) {
        // a window of the user's device map that names its type (its DeviceID read may be before the trace)
        v.typed.add(dev);
        emit({ kind: 'device', dev, device_id: mapped, name: 'virtio-mmio (type from the device map)', transport: 'mmio' });
      }
      if (write) {
        emit({ kind: 'mmio.write', dev, offset, ...sized, value: value ?? 0 });
        if (offset === MMIO.Status) emit({ kind: 'status', dev, value: (value ?? 0) & 0xff, by: 'driver' });
        else if (offset === MMIO.QueueNotify) emit({ kind: 'notify.avail', dev, queue: (value ?? 0) & 0xffff });
      } else {
        emit({ kind: 'mmio.read', dev, offset, ...sized, ...val });
        if (offset === MMIO.DeviceID && value !== undefined) {
          v.map.mmioType(dev, value);
          if (value !== 0 && !v.typed.has(dev)) {
            v.typed.add(dev);
            emit({ kind: 'device', dev, device_id: value, transport: 'mmio' });
          }
        }
        if (offset === MMIO.InterruptStatus && value !== undefined && value !== 0) this.learnGsi(v, dev);
      }
      return mmioRegisterName(offset);
    }
    if (hit.transport === 'msix') {
      // x86 MSI message data: the vector is its low byte
      if (write && hit.field === 8 && value !== undefined) v.vectorOwner.set(value & 0xff, { dev: hit.dev, entry: hit.entry });
      return `msix[${hit.entry}]+${hit.field}`;
    }
    const { dev, region, offset } = hit;
    if (write) {
      emit({ kind: 'pci.write', dev, region, offset, ...sized, value: value ?? 0 });
      if (region === 'common') this.pciCommonWrite(v, dev, offset, value ?? 0, emit);
      else if (region === 'notify') emit({ kind: 'notify.avail', dev, queue: (value ?? 0) & 0xffff });
    } else emit({ kind: 'pci.read', dev, region, offset, ...sized, ...val });
    return pciRegisterName(region, offset);
  }

  private pciCommonWrite(v: VmState, dev: string, offset: number, value: number, emit: (e: Record<string, unknown>) => void): void {
    let qs = v.pciQueues.get(dev);
    if (!qs) v.pciQueues.set(dev, (qs = { sel: 0, entryOf: new Map() }));
    if (offset === PCI_COMMON.device_status) emit({ kind: 'status', dev, value: value & 0xff, by: 'driver' });
    else if (offset === PCI_COMMON.queue_select) qs.sel = value;
    else if (offset === PCI_COMMON.queue_msix_vector) qs.entryOf.set(qs.sel, value);
    else if (offset === PCI_COMMON.config_msix_vector) qs.configEntry = value;
  }

  /** A configuration read of a virtio function's ids: its type is seen (once per function). */
  private announce(v: VmState, cfg: { fn: PciFunctionRef; reg: number }, emit: (e: Record<string, unknown>) => void): void {
    if (cfg.reg >= 4 && cfg.reg !== 0x2e) return;
    const type = v.map.pciType(cfg.fn);
    if (type === undefined || !v.map.announce(cfg.fn)) return;
    const id = ((cfg.fn.cfg[3] ?? 0) << 8) | (cfg.fn.cfg[2] ?? 0);
    emit({ kind: 'device', dev: cfg.fn.dev, device_id: type, name: `virtio-pci (device id 0x${id.toString(16)})`, transport: 'pci' });
  }

  /** virtio-mmio: the device whose InterruptStatus shows an interrupt pending owns the line raised last. */
  private learnGsi(v: VmState, dev: string): void {
    if ([...v.gsiDev.values()].includes(dev)) return;
    // the line raised last, before the driver's interrupt handler looked
    const gsi = v.lastRaisedGsi;
    v.lastRaisedGsi = undefined;
    if (gsi !== undefined && !v.gsiDev.has(gsi)) v.gsiDev.set(gsi, dev);
  }
}
