/**
 * The virtio-pci modern register file (VIRTIO §4.1.4): the common configuration structure as a
 * table of offsets. Like transport/mmio.ts it keeps the selectors and the per-queue registers, and
 * hands what the rest of the model needs (feature words, queue sizes) to its `PciHost`; the device
 * status goes to the status machine as a `status` event, exactly as for virtio-mmio. Which
 * structure an access is in (common, notify, ISR, device config) is the adapter's finding, from the
 * capability list in PCI configuration space; which queue and device an MSI-X vector serves, from
 * queue_msix_vector / config_msix_vector and the MSI-X table writes, too (src/ingest/kvm).
 */
import type { Ref } from '../observations.ts';

/** virtio_pci_common_cfg (VIRTIO §4.1.4.3): offsets in the common configuration structure. */
export const PCI_COMMON = {
  device_feature_select: 0x00,
  device_feature: 0x04,
  driver_feature_select: 0x08,
  driver_feature: 0x0c,
  config_msix_vector: 0x10,
  num_queues: 0x12,
  device_status: 0x14,
  config_generation: 0x15,
  queue_select: 0x16,
  queue_size: 0x18,
  queue_msix_vector: 0x1a,
  queue_enable: 0x1c,
  queue_notify_off: 0x1e,
  queue_desc_lo: 0x20,
  queue_desc_hi: 0x24,
  queue_driver_lo: 0x28,
  queue_driver_hi: 0x2c,
  queue_device_lo: 0x30,
  queue_device_hi: 0x34,
  queue_notif_config_data: 0x38,
  queue_reset: 0x3a,
} as const;

const NAME = new Map<number, string>(Object.entries(PCI_COMMON).map(([k, v]) => [v, k]));

export function pciRegisterName(region: 'common' | 'notify' | 'isr' | 'device', offset: number): string {
  if (region === 'common') return NAME.get(offset) ?? `common+0x${offset.toString(16)}`;
  if (region === 'isr') return 'isr';
  return `${region}+0x${offset.toString(16)}`;
}

export interface PciQueue {
  /** queue_size as the device first offered it (read before the driver wrote one) */
  sizeMax?: number;
  num?: number;
  ready: boolean;
}

export interface PciHost {
  driverFeatureWord(sel: number, value: number, ref: Ref): void;
  deviceFeatureWord(sel: number, value: number, ref: Ref): void;
  queueSize(queue: number, size: number): void;
  problem(code: 'mmio.queue-size-too-big' | 'mmio.queue-size-not-pow2', ref: Ref, detail: string): void;
}

export class PciState {
  accesses = 0;
  private queueSel = 0;
  private driverFeatureSel = 0;
  private deviceFeatureSel = 0;
  readonly queues = new Map<number, PciQueue>();

  constructor(private readonly host: PciHost) {}

  private queue(): PciQueue {
    let q = this.queues.get(this.queueSel);
    if (!q) this.queues.set(this.queueSel, (q = { ready: false }));
    return q;
  }

  read(region: 'common' | 'notify' | 'isr' | 'device', offset: number, value: number | undefined, ref: Ref): void {
    this.accesses++;
    if (value === undefined || region !== 'common') return;
    if (offset === PCI_COMMON.device_feature) this.host.deviceFeatureWord(this.deviceFeatureSel, value, ref);
    else if (offset === PCI_COMMON.queue_size) {
      // before the driver writes it, queue_size reads the device's maximum (0: no such queue)
      const q = this.queue();
      if (q.num === undefined) q.sizeMax = value;
    }
  }

  write(region: 'common' | 'notify' | 'isr' | 'device', offset: number, value: number, ref: Ref): void {
    this.accesses++;
    if (region !== 'common') return;
    switch (offset) {
      case PCI_COMMON.device_feature_select:
        this.deviceFeatureSel = value;
        break;
      case PCI_COMMON.driver_feature_select:
        this.driverFeatureSel = value;
        break;
      case PCI_COMMON.driver_feature:
        this.host.driverFeatureWord(this.driverFeatureSel, value, ref);
        break;
      case PCI_COMMON.queue_select:
        this.queueSel = value;
        break;
      case PCI_COMMON.queue_size: {
        const q = this.queue();
        q.num = value;
        if (q.sizeMax !== undefined && value > q.sizeMax) {
          this.host.problem('mmio.queue-size-too-big', ref, `queue_size ${value} for queue ${this.queueSel} exceeds the ${q.sizeMax} the device offered`);
        }
        if ((value & (value - 1)) !== 0) this.host.problem('mmio.queue-size-not-pow2', ref, `queue_size ${value} for queue ${this.queueSel} is not a power of 2`);
        this.host.queueSize(this.queueSel, value);
        break;
      }
      case PCI_COMMON.queue_enable:
        this.queue().ready = value === 1;
        break;
    }
  }

  reset(): void {
    for (const q of this.queues.values()) q.ready = false;
  }
}
