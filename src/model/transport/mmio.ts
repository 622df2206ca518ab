/**
 * The virtio-mmio register file (VIRTIO §4.2.2; versions 2 and legacy 1, §4.2.4), as a table of
 * offsets over one device. Accesses update the selectors and per-queue registers; what matters to
 * the rest of the model leaves through the `MmioHost` callbacks.
 */
import type { Ref } from '../observations.ts';

/** MagicValue: "virt" read little-endian */
export const VIRTIO_MMIO_MAGIC = 0x74726976;

export const MMIO = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  GuestPageSize: 0x028, // legacy
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueAlign: 0x03c, // legacy
  QueuePFN: 0x040, // legacy
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  QueueReset: 0x0c0,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

const NAME = new Map<number, string>(Object.entries(MMIO).map(([k, v]) => [v, k]));
export function mmioRegisterName(offset: number): string {
  return offset >= MMIO.Config ? `Config+0x${(offset - MMIO.Config).toString(16)}` : (NAME.get(offset) ?? `0x${offset.toString(16)}`);
}

const READ_ONLY = new Set<number>([
  MMIO.MagicValue, MMIO.Version, MMIO.DeviceID, MMIO.VendorID, MMIO.DeviceFeatures, MMIO.QueueNumMax,
  MMIO.InterruptStatus, MMIO.ConfigGeneration,
]);
/** Registers only version 1 (legacy) has; a driver that writes them drives a legacy device. */
const LEGACY_ONLY = new Set<number>([MMIO.GuestPageSize, MMIO.QueueAlign, MMIO.QueuePFN]);
/** Registers only version 2 has. */
const MODERN_ONLY = new Set<number>([
  MMIO.QueueReady, MMIO.QueueDescLow, MMIO.QueueDescHigh, MMIO.QueueDriverLow, MMIO.QueueDriverHigh,
  MMIO.QueueDeviceLow, MMIO.QueueDeviceHigh,
]);

export interface MmioQueue {
  num?: number;
  numMax?: number;
  /** the QueueNum write: evidence for a verdict on it */
  numRef?: Ref;
  ready: boolean;
  /** the QueueReady write that made it ready */
  readyRef?: Ref;
}

export interface MmioHost {
  driverFeatureWord(sel: number, value: number, ref: Ref): void;
  /** a DeviceFeatures read whose value the trace shows (host KVM tracepoints; QEMU's log has none) */
  deviceFeatureWord(sel: number, value: number, ref: Ref): void;
  queueSize(queue: number, size: number): void;
  /** VIRTIO_F_RING_PACKED negotiated: a packed ring's size need not be a power of 2 (§2.8) */
  packed(): boolean;
  problem(code: 'mmio.queue-size-too-big' | 'mmio.queue-size-not-pow2' | 'mmio.write-read-only' | 'mmio.device-register', ref: Ref, detail: string): void;
}

export class MmioState {
  /** 1 (legacy) or 2, inferred from the registers the driver uses; the Version read's value is not in QEMU's log */
  version?: 1 | 2;
  versionEvidence?: Ref;
  /** true when the version is the Version register's value as read, not inferred from the registers the driver uses */
  versionRead = false;
  accesses = 0;
  /** the driver's first register write: evidence for a verdict on its writes */
  firstWrite?: Ref;
  /** reads whose value the trace shows (host KVM tracepoints; QEMU's log has none) */
  readValues = 0;
  /** the first MagicValue read with its value: evidence for a verdict on the register values */
  magicRead?: Ref;
  /** a reset was seen: from then on the device's registers have known values to hold it to */
  private resetSeen = false;
  private queueSel = 0;
  private driverFeaturesSel = 0;
  private deviceFeaturesSel = 0;
  readonly queues = new Map<number, MmioQueue>();

  constructor(private readonly host: MmioHost) {}

  private queue(): MmioQueue {
    let q = this.queues.get(this.queueSel);
    if (!q) this.queues.set(this.queueSel, (q = { ready: false }));
    return q;
  }

  read(offset: number, value: number | undefined, ref: Ref): void {
    this.accesses++;
    if (value !== undefined) this.checkRead(offset, value, ref);
    if (offset === MMIO.Version && value !== undefined && (value === 1 || value === 2)) {
      this.version = value;
      this.versionEvidence = ref;
      this.versionRead = true;
    }
    if (offset === MMIO.QueueNumMax && value !== undefined) this.queue().numMax = value;
    if (offset === MMIO.DeviceFeatures && value !== undefined) this.host.deviceFeatureWord(this.deviceFeaturesSel, value, ref);
  }

  write(offset: number, value: number, ref: Ref): void {
    this.accesses++;
    this.firstWrite ??= ref;
    if (this.version === undefined) {
      if (LEGACY_ONLY.has(offset)) {
        this.version = 1;
        this.versionEvidence = ref;
      } else if (MODERN_ONLY.has(offset)) {
        this.version = 2;
        this.versionEvidence = ref;
      }
    }
    if (READ_ONLY.has(offset)) {
      this.host.problem('mmio.write-read-only', ref, `write of 0x${value.toString(16)} to read-only ${mmioRegisterName(offset)}`);
      return;
    }
    switch (offset) {
      case MMIO.DeviceFeaturesSel:
        this.deviceFeaturesSel = value;
        break;
      case MMIO.DriverFeaturesSel:
        this.driverFeaturesSel = value;
        break;
      case MMIO.DriverFeatures:
        this.host.driverFeatureWord(this.driverFeaturesSel, value, ref);
        break;
      case MMIO.QueueSel:
        this.queueSel = value;
        break;
      case MMIO.QueueNum: {
        const q = this.queue();
        q.num = value;
        q.numRef = ref;
        if (q.numMax !== undefined && value > q.numMax) {
          this.host.problem('mmio.queue-size-too-big', ref, `QueueNum ${value} for queue ${this.queueSel} exceeds QueueNumMax ${q.numMax}`);
        }
        if (this.version === 2 && (value & (value - 1)) !== 0 && !this.host.packed()) {
          this.host.problem('mmio.queue-size-not-pow2', ref, `QueueNum ${value} for queue ${this.queueSel} is not a power of 2`);
        }
        this.host.queueSize(this.queueSel, value);
        break;
      }
      case MMIO.QueueReady: {
        const q = this.queue();
        q.ready = value !== 0;
        if (q.ready) q.readyRef = ref;
        break;
      }
      case MMIO.QueuePFN:
        this.queue().ready = value !== 0;
        break;
    }
  }

  /** The values a device must return (VIRTIO §4.2.2.1): MagicValue, Version 2, and QueueReady 0
   *  after a reset until the driver enables the queue. */
  private checkRead(offset: number, value: number, ref: Ref): void {
    this.readValues++;
    if (offset === MMIO.MagicValue) this.magicRead ??= ref;
    const hex = `0x${value.toString(16)}`;
    if (offset === MMIO.MagicValue && value !== VIRTIO_MMIO_MAGIC) this.host.problem('mmio.device-register', ref, `MagicValue reads ${hex}, not 0x74726976`);
    else if (offset === MMIO.Version && value !== 2) {
      this.host.problem('mmio.device-register', ref, `Version reads ${hex}, not 0x2${value === 1 ? ' (a legacy device, §4.2.4)' : ''}`);
    } else if (offset === MMIO.QueueReady && value !== 0 && this.resetSeen && !this.queue().ready) {
      this.host.problem('mmio.device-register', ref, `QueueReady of queue ${this.queueSel} reads ${hex} after the reset, before the driver enabled the queue`);
    }
  }

  /** QEMU logs QueueNumMax right after a QueueNum write (virtio_mmio_queue_write ... max N). */
  sizeMax(max: number, ref: Ref): void {
    const q = this.queue();
    q.numMax = max;
    if (q.num !== undefined && q.num > max) {
      this.host.problem('mmio.queue-size-too-big', ref, `QueueNum ${q.num} for queue ${this.queueSel} exceeds QueueNumMax ${max}`);
    }
  }

  reset(): void {
    this.resetSeen = true;
    for (const q of this.queues.values()) q.ready = false;
  }
}
