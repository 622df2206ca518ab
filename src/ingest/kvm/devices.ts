/**
 * Virtio devices found from the addresses a host KVM trace shows, as the guest's driver found them:
 *
 * - virtio-mmio: a window is where a 4-byte read returned MagicValue 0x74726976 (VIRTIO §4.2.2); its
 *   DeviceID read at +0x08 says what the device is (0: an empty slot).
 * - virtio-pci: configuration cycles through ports 0xcf8 (address) / 0xcfc-0xcff (data), or through
 *   PCIe's memory-mapped configuration space (ECAM: q35's window as its host bridge's PCIEXBAR
 *   register enables it, or as the user's map gives it), are kept as a sparse image of each
 *   function's configuration space (every byte read or written). From it:
 *   vendor 0x1af4 and the device id (VIRTIO §4.1.2), the BARs the firmware or the OS programmed, and
 *   the capability list: the vendor capabilities that place the common, notify, ISR and device
 *   structures in a BAR (§4.1.4), and MSI-X's table (vector programming).
 * - a device map given by the user (a device tree's virtio,mmio nodes or a JSON list of ranges),
 *   for traces that begin after the probe.
 */

const VIRTIO_PCI_VENDOR = 0x1af4;
/** transitional virtio-pci device ids 0x1000.. (VIRTIO §4.1.2.3), by their device type */
const TRANSITIONAL: Record<number, number> = { 0x1000: 1, 0x1001: 2, 0x1002: 5, 0x1003: 3, 0x1004: 8, 0x1005: 4, 0x1009: 9 };
/** extent of a virtio-pci structure whose length was never read, when no other structure follows it */
const UNKNOWN_LENGTH = 0x1000;
/** Q35 MCH's PCIEXBAR register (host bridge 00:00.0) */
const Q35_PCIEXBAR = 0x60;
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

export type PciFunctionRef = PciFunction;

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
  /** PCIe ECAM window: [base, base + size) */
  private ecamWindow?: { base: number; size: number };
  private pciDirty = false;
  private pciRanges: { start: number; end: number; hit: Hit }[] = [];

  constructor(user: UserDevice[] = [], ecam?: { base: number; size: number }) {
    this.ecamWindow = ecam;
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
    return this.config((this.cf8 >>> 8) & 0xffff, (this.cf8 & 0xfc) + (port - 0xcfc), size, value);
  }

  /** A memory access in the ECAM window is a configuration access: bus, device, function, register. */
  ecam(gpa: number, size: number, value: number | undefined): { fn: PciFunction; reg: number } | 'inside' | undefined {
    const w = this.ecamWindow;
    if (!w || gpa < w.base || gpa >= w.base + w.size) return undefined;
    const off = gpa - w.base;
    if (value === undefined) return 'inside';
    return this.config(Math.floor(off / 4096) & 0xffff, off % 4096, size, value);
  }

  private config(bdf: number, reg: number, size: number, value: number): { fn: PciFunction; reg: number } {
    let fn = this.pci.get(bdf);
    if (!fn) this.pci.set(bdf, (fn = { bdf, dev: pciName(bdf), cfg: [], dirty: false, ranges: [], announced: false }));
    for (let i = 0; i < size && reg + i < 256; i++) fn.cfg[reg + i] = (value >>> (8 * i)) & 0xff;
    fn.dirty = true;
    this.pciDirty = true;
    if (bdf === 0 && reg === Q35_PCIEXBAR && size === 4) this.q35Ecam(fn);
    return { fn, reg };
  }

  /** Q35's host bridge (8086:29c0) maps ECAM where its PCIEXBAR says, once enabled (bit 0). */
  private q35Ecam(fn: PciFunction): void {
    if (this.u16(fn, 0) !== 0x8086 || this.u16(fn, 2) !== 0x29c0) return;
    const bar = this.u32(fn, Q35_PCIEXBAR);
    if (bar === undefined || (bar & 1) === 0) return;
    const size = [256, 128, 64][(bar >>> 1) & 3];
    if (size !== undefined) this.ecamWindow = { base: (bar & 0xf0000000) >>> 0, size: size << 20 };
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
        if (region && base !== undefined && offset !== undefined && length !== 0) {
          const multiplier = region === 'notify' ? (this.u32(fn, ptr + 16) ?? 0) : 0;
          // a length the driver never read (SeaBIOS reads none): up to the next structure (below)
          const end = length !== undefined ? base + offset + length : NaN;
          out.push({ start: base + offset, end, hit: { dev: fn.dev, transport: 'pci', region, offset: 0, notifyMultiplier: multiplier } });
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
    for (const r of out) {
      if (!Number.isNaN(r.end)) continue;
      const next = out.filter((x) => x.start > r.start).map((x) => x.start);
      r.end = Math.min(r.start + UNKNOWN_LENGTH, ...next);
    }
    return out;
  }
}
