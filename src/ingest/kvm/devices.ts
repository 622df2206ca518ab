/**
 * Virtio devices found from the addresses a host KVM trace shows, as the guest's driver found them:
 *
 * - virtio-mmio: a window is where a 4-byte read returned MagicValue 0x74726976 (VIRTIO §4.2.2); its
 *   DeviceID read at +0x08 says what the device is (0: an empty slot).
 * - virtio-pci: configuration cycles through ports 0xcf8 (address) / 0xcfc-0xcff (data) are kept as
 *   a sparse image of each function's configuration space (every byte read or written). From it:
 *   vendor 0x1af4 and the device id (VIRTIO §4.1.2), the BARs the firmware or the OS programmed, and
 *   the capability list: the vendor capabilities that place the common, notify, ISR and device
 *   structures in a BAR (§4.1.4), and MSI-X's table (vector programming).
 * - a device map given by the user (a device tree's virtio,mmio nodes or a JSON list of ranges),
 *   for traces that begin after the probe.
 */

export const VIRTIO_MAGIC = 0x74726976;
const VIRTIO_PCI_VENDOR = 0x1af4;
/** transitional virtio-pci device ids 0x1000.. (VIRTIO §4.1.2.3), by their device type */
const TRANSITIONAL: Record<number, number> = { 0x1000: 1, 0x1001: 2, 0x1002: 5, 0x1003: 3, 0x1004: 8, 0x1005: 4, 0x1009: 9 };
/** largest virtio-mmio window assumed when windows are not adjacent (registers + config space) */
const MMIO_WINDOW = 0x1000;

export type Region = 'common' | 'notify' | 'isr' | 'device';

/** What an address is: a register of a virtio device, or an MSI-X table entry of one. */
export type Hit =
  | { dev: string; transport: 'mmio'; offset: number }
  | { dev: string; transport: 'pci'; region: Region; offset: number; notifyMultiplier: number }
  | { dev: string; transport: 'msix'; entry: number; field: number };

export interface UserDevice {
  base: number;
  size: number;
  /** device type, when the map says (else the DeviceID read tells) */
  type?: number;
  name?: string;
}

interface MmioWindow {
  base: number;
  dev: string;
  /** set from the DeviceID read; 0 = empty slot */
  type?: number;
  size?: number;
}

interface PciFunction {
  bdf: number;
  dev: string;
  /** configuration space bytes seen (read or written), undefined where never seen */
  cfg: (number | undefined)[];
  dirty: boolean;
  ranges: { start: number; end: number; hit: Hit }[];
  announced: boolean;
}

export function pciName(bdf: number): string {
  const bus = bdf >> 8;
  const dev = (bdf >> 3) & 0x1f;
  const fn = bdf & 7;
  return `pci@${bus.toString(16).padStart(2, '0')}:${dev.toString(16).padStart(2, '0')}.${fn}`;
}

export class DeviceMap {
  private readonly windows: MmioWindow[] = [];
  private readonly pci = new Map<number, PciFunction>();
  private cf8 = 0;
  private pciDirty = false;
  private pciRanges: { start: number; end: number; hit: Hit }[] = [];

  constructor(user: UserDevice[] = []) {
    for (const u of user) this.windows.push({ base: u.base, size: u.size, dev: u.name ?? `mmio@0x${u.base.toString(16)}`, type: u.type });
    this.windows.sort((a, b) => a.base - b.base);
  }

  /** A 4-byte read returned the virtio magic: a virtio-mmio window starts there. Returns its device id when new. */
  probe(gpa: number): string | undefined {
    if (this.windows.some((w) => w.base === gpa)) return undefined;
    const w = { base: gpa, dev: `mmio@0x${gpa.toString(16)}` };
    this.windows.push(w);
    this.windows.sort((a, b) => a.base - b.base);
    return w.dev;
  }

  /** The DeviceID read of a window (0 = no device behind it). */
  mmioType(dev: string, type: number): void {
    const w = this.windows.find((x) => x.dev === dev);
    if (w) w.type = type;
  }

  mmioTypeOf(dev: string): number | undefined {
    return this.windows.find((x) => x.dev === dev)?.type;
  }

  lookup(gpa: number): Hit | undefined {
    const ws = this.windows;
    for (let i = ws.length - 1; i >= 0; i--) {
      const w = ws[i]!;
      if (w.base > gpa) continue;
      const end = w.size !== undefined ? w.base + w.size : Math.min(w.base + MMIO_WINDOW, ws[i + 1]?.base ?? Infinity);
      if (gpa < end && w.type !== 0) return { dev: w.dev, transport: 'mmio', offset: gpa - w.base };
      break;
    }
    if (this.pciDirty) this.rebuildPci();
    for (const r of this.pciRanges) {
      if (gpa >= r.start && gpa < r.end) {
        const h = r.hit;
        if (h.transport === 'pci') return { ...h, offset: gpa - r.start };
        if (h.transport === 'msix') return { ...h, entry: (gpa - r.start) >> 4, field: (gpa - r.start) & 15 };
      }
    }
    return undefined;
  }

  // ---- PCI configuration mechanism #1 (ports 0xcf8 / 0xcfc) -------------------------------------

  /** A port access; returns the function and register when it is a configuration cycle. */
  pio(port: number, size: number, value: number, write: boolean): { fn: PciFunction; reg: number } | undefined {
    if (port === 0xcf8 && size === 4) {
      if (write) this.cf8 = value >>> 0;
      return undefined;
    }
    if (port < 0xcfc || port > 0xcff || (this.cf8 & 0x80000000) === 0) return undefined;
    const bdf = (this.cf8 >>> 8) & 0xffff;
    const reg = (this.cf8 & 0xfc) + (port - 0xcfc);
    let fn = this.pci.get(bdf);
    if (!fn) this.pci.set(bdf, (fn = { bdf, dev: pciName(bdf), cfg: [], dirty: false, ranges: [], announced: false }));
    for (let i = 0; i < size && reg + i < 256; i++) fn.cfg[reg + i] = (value >>> (8 * i)) & 0xff;
    fn.dirty = true;
    this.pciDirty = true;
    return { fn, reg };
  }

  /** The virtio device type of a function, once its vendor and device id have been read. */
  pciType(fn: PciFunction): number | undefined {
    const vendor = this.u16(fn, 0);
    const id = this.u16(fn, 2);
    if (vendor !== VIRTIO_PCI_VENDOR || id === undefined) return undefined;
    if (id >= 0x1040 && id <= 0x107f) return id - 0x1040;
    if (id >= 0x1000 && id <= 0x103f) {
      // transitional: the subsystem device id holds the type (§4.1.2.3), else the fixed table
      const sub = this.u16(fn, 0x2e);
      return sub !== undefined && sub !== 0 ? sub : TRANSITIONAL[id];
    }
    return undefined;
  }

  /** Announce a virtio-pci function once (the caller emits its `device` event). */
  announce(fn: PciFunction): boolean {
    if (fn.announced) return false;
    fn.announced = true;
    return true;
  }

  private u8(fn: PciFunction, reg: number): number | undefined {
    return fn.cfg[reg];
  }

  private u16(fn: PciFunction, reg: number): number | undefined {
    const a = fn.cfg[reg];
    const b = fn.cfg[reg + 1];
    return a === undefined || b === undefined ? undefined : a | (b << 8);
  }

  private u32(fn: PciFunction, reg: number): number | undefined {
    const lo = this.u16(fn, reg);
    const hi = this.u16(fn, reg + 2);
    return lo === undefined || hi === undefined ? undefined : (lo | (hi << 16)) >>> 0;
  }

  /** BAR `i`'s memory address as programmed (64-bit BARs take the next register as the high half). */
  private bar(fn: PciFunction, i: number): number | undefined {
    if (i > 5) return undefined;
    const lo = this.u32(fn, 0x10 + 4 * i);
    if (lo === undefined || (lo & 1) !== 0) return undefined;
    let addr = lo & ~0xf;
    if (((lo >>> 1) & 3) === 2) {
      const hi = this.u32(fn, 0x14 + 4 * i);
      if (hi === undefined) return undefined;
      addr = (addr >>> 0) + hi * 2 ** 32;
    }
    addr = addr >= 0 ? addr : addr + 2 ** 32;
    // 0, or a sizing pattern read back mid-probe: not an address yet
    return addr === 0 || addr >= 0xfffff000 && addr < 2 ** 32 ? undefined : addr;
  }

  private rebuildPci(): void {
    this.pciDirty = false;
    for (const fn of this.pci.values()) {
      if (!fn.dirty) continue;
      fn.dirty = false;
      fn.ranges = this.pciType(fn) === undefined ? [] : this.walkCapabilities(fn);
    }
    this.pciRanges = [...this.pci.values()].flatMap((f) => f.ranges);
  }

  /** The capability list (§4.1.4): each virtio structure's place in a BAR, and the MSI-X table. */
  private walkCapabilities(fn: PciFunction): { start: number; end: number; hit: Hit }[] {
    const out: { start: number; end: number; hit: Hit }[] = [];
    let ptr = this.u8(fn, 0x34);
    for (let steps = 0; ptr !== undefined && ptr >= 0x40 && steps < 48; steps++) {
      const id = this.u8(fn, ptr);
      if (id === 0x09) {
        const type = this.u8(fn, ptr + 3);
        const barNo = this.u8(fn, ptr + 4);
        const offset = this.u32(fn, ptr + 8);
        const length = this.u32(fn, ptr + 12);
        const base = barNo !== undefined ? this.bar(fn, barNo) : undefined;
        const region = type === 1 ? 'common' : type === 2 ? 'notify' : type === 3 ? 'isr' : type === 4 ? 'device' : undefined;
        if (region && base !== undefined && offset !== undefined && length !== undefined && length > 0) {
          const multiplier = region === 'notify' ? (this.u32(fn, ptr + 16) ?? 0) : 0;
          out.push({ start: base + offset, end: base + offset + length, hit: { dev: fn.dev, transport: 'pci', region, offset: 0, notifyMultiplier: multiplier } });
        }
      } else if (id === 0x11) {
        const ctl = this.u16(fn, ptr + 2);
        const table = this.u32(fn, ptr + 4);
        const base = table !== undefined ? this.bar(fn, table & 7) : undefined;
        if (ctl !== undefined && base !== undefined) {
          const start = base + (table! & ~7);
          out.push({ start, end: start + 16 * ((ctl & 0x7ff) + 1), hit: { dev: fn.dev, transport: 'msix', entry: 0, field: 0 } });
        }
      } else if (id === undefined) break;
      ptr = this.u8(fn, ptr + 1);
    }
    return out;
  }
}
