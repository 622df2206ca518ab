/**
 * Evidence beside the host's device model: what the guest says of itself (its virtio devices and
 * their negotiated features, /proc/interrupts, the boot log), the device tree the platform gave it,
 * and the devices only a richer VMM's log shows (vsock, IOMMU, fs, RPMB, crypto, the SBSA watchdog,
 * PSCI, SCMI). Kept per VM; bounded by the size of those inputs (a few lines each), or by the
 * device models' own bounds.
 */
import type { BootTopic, EventOf, Event } from './events.ts';
import { CryptoModel } from './devices/crypto.ts';
import { FsModel } from './devices/fs.ts';
import { GpuModel } from './devices/gpu.ts';
import { IommuModel } from './devices/iommu.ts';
import { PsciModel } from './devices/psci.ts';
import { RpmbModel } from './devices/rpmb.ts';
import { ScmiModel } from './devices/scmi.ts';
import { VsockModel } from './devices/vsock.ts';
import { WatchdogModel } from './devices/watchdog.ts';
import { refOf, type Ref } from './observations.ts';

export interface GuestDevice {
  /** virtioN */
  dev: string;
  deviceId: number;
  driver?: string;
  /** the features the driver negotiated (sysfs `features`) */
  features?: { bits: bigint; ref: Ref };
  ref: Ref;
}

export interface GuestIrq {
  irq: string;
  count: number;
  chip?: string;
  name?: string;
  ref: Ref;
}

export interface BootLine {
  topic: BootTopic;
  text: string;
  version?: string;
  ref: Ref;
}

export interface DtNodeFact {
  path: string;
  props: EventOf<'dt.node'>['props'];
  ref: Ref;
}

/** virtio-mmio's device-specific configuration space starts at 0x100 (VIRTIO §4.2.2). */
const MMIO_CONFIG = 0x100;

/** Interrupts and device tree nodes kept per VM: a real /proc/interrupts or DTB has far fewer; a trace
 *  that repeats them endlessly does not grow memory. */
const KEPT_FACTS = 4096;

/** Boot log lines kept per topic: the first ones say what a requirement needs. */
const BOOT_LINES_PER_TOPIC = 20;

export class VmEvidence {
  /** the input formats that gave this VM events (guest-virtio-devices, boot-log, dtb, ...) */
  readonly inputs = new Set<string>();
  readonly guestDevices = new Map<string, GuestDevice>();
  readonly irqs: GuestIrq[] = [];
  readonly boot: BootLine[] = [];
  readonly dt: DtNodeFact[] = [];
  readonly vsock = new VsockModel();
  readonly iommu = new IommuModel();
  readonly fs = new FsModel();
  readonly rpmb = new RpmbModel();
  readonly crypto = new CryptoModel();
  readonly psci = new PsciModel();
  readonly scmi = new ScmiModel();
  readonly watchdog = new WatchdogModel();
  readonly gpu = new GpuModel();
  /** config-space writes of virtio-mmio devices (offset 0x100 and up), by device: first few and a count */
  readonly configWrites = new Map<string, { n: number; offsets: Map<number, Ref> }>();
  lastTs = 0;

  bootLines(topic: BootTopic): BootLine[] {
    return this.boot.filter((b) => b.topic === topic);
  }

  dtNode(path: string): DtNodeFact | undefined {
    return this.dt.find((n) => n.path === path);
  }

  /** nodes whose `compatible` lists the given string */
  dtCompatible(compatible: string): DtNodeFact[] {
    return this.dt.filter((n) => Array.isArray(n.props.compatible) && (n.props.compatible as unknown[]).includes(compatible));
  }
}

/** Kinds this module takes; every other event is the device model's or the analyses'. */
const KINDS = new Set<string>([
  'gpu.features', 'irq.count', 'boot.log', 'dt.node', 'vsock.pkt', 'iommu.req', 'fs.req', 'rpmb.req', 'crypto.req', 'wdt.access', 'wdt.signal', 'psci.call', 'scmi.msg',
]);

export class Evidence {
  readonly vms = new Map<string, VmEvidence>();

  vm(name: string): VmEvidence {
    let v = this.vms.get(name);
    if (!v) this.vms.set(name, (v = new VmEvidence()));
    return v;
  }

  /** Notes that a source of this format was given for the VM, whether or not it held events. */
  noteSource(vm: string, format: string): void {
    this.vm(vm).inputs.add(format);
  }

  /**
   * Takes the events that are evidence rather than device traffic: returns true when it did.
   * A guest's `device` and `features` of a virtioN are the guest's sysfs, taken here too.
   */
  take(e: Event): boolean {
    // GPU commands and config writes are also the device model's: noted here, not taken
    if (e.kind === 'gpu.cmd') {
      this.vm(e.vm ?? '').gpu.take(e, refOf(e));
      return false;
    }
    if (e.kind === 'device' && e.virgl !== undefined) {
      this.vm(e.vm ?? '').gpu.features({ ...e, kind: 'gpu.features', virgl: e.virgl }, refOf(e));
      if (e.view !== 'guest') return false;
    }
    if (e.kind === 'mmio.write' && e.offset >= MMIO_CONFIG && e.dev !== undefined) {
      this.noteConfigWrite(e.vm ?? '', e.dev, e.offset, refOf(e));
      return false;
    }
    const guestDevice = e.view === 'guest' && (e.kind === 'device' || e.kind === 'features');
    if (!guestDevice && !KINDS.has(e.kind)) return false;
    const v = this.vm(e.vm ?? '');
    if (e.ts > v.lastTs) v.lastTs = e.ts;
    const ref = refOf(e);
    switch (e.kind) {
      case 'device':
        if (e.dev !== undefined && e.device_id !== undefined) {
          const prev = v.guestDevices.get(e.dev);
          v.guestDevices.set(e.dev, { ...prev, dev: e.dev, deviceId: e.device_id, ...(e.driver !== undefined ? { driver: e.driver } : {}), ref });
        }
        return true;
      case 'features': {
        const g = e.dev !== undefined ? v.guestDevices.get(e.dev) : undefined;
        if (g && e.side === 'driver') g.features = { bits: BigInt(e.value), ref };
        return true;
      }
      case 'irq.count':
        if (v.irqs.length < KEPT_FACTS) v.irqs.push({ irq: e.irq, count: e.count, ...(e.chip !== undefined ? { chip: e.chip } : {}), ...(e.name !== undefined ? { name: e.name } : {}), ref });
        return true;
      case 'boot.log':
        if (v.boot.filter((b) => b.topic === e.topic).length < BOOT_LINES_PER_TOPIC) {
          v.boot.push({ topic: e.topic, text: e.text, ...(e.version !== undefined ? { version: e.version } : {}), ref: { ...ref, raw: ref.raw ?? e.text } });
        }
        return true;
      case 'dt.node':
        if (v.dt.length < KEPT_FACTS) v.dt.push({ path: e.path, props: e.props, ref });
        return true;
      case 'vsock.pkt':
        v.vsock.take(e, ref);
        return true;
      case 'iommu.req':
        v.iommu.take(e, ref);
        return true;
      case 'fs.req':
        v.fs.take(e, ref);
        return true;
      case 'rpmb.req':
        v.rpmb.take(e, ref);
        return true;
      case 'crypto.req':
        v.crypto.take(e, ref);
        return true;
      case 'psci.call':
        v.psci.take(e, ref);
        return true;
      case 'scmi.msg':
        v.scmi.take(e, ref);
        return true;
      case 'wdt.access':
        v.watchdog.access(e, ref);
        return true;
      case 'gpu.features':
        v.gpu.features(e, ref);
        return true;
      case 'wdt.signal':
        v.watchdog.signal(e, ref);
        return true;
      default:
        return false;
    }
  }

  private noteConfigWrite(vm: string, dev: string, offset: number, ref: Ref): void {
    const m = this.vm(vm).configWrites;
    let w = m.get(dev);
    if (!w) m.set(dev, (w = { n: 0, offsets: new Map() }));
    w.n++;
    if (!w.offsets.has(offset) && w.offsets.size < 16) w.offsets.set(offset, ref);
  }

  finish(): void {
    for (const v of this.vms.values()) v.watchdog.finish(v.lastTs);
  }
}
