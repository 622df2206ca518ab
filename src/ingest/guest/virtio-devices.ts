/**
 * The guest's list of virtio devices, one line per `/sys/bus/virtio/devices/virtioN`:
 * `virtio0 device=0x0010 driver=virtio_gpu [vendor=0x1af4] [features=0101...]`, where `features` is
 * that directory's `features` file (the bits the driver negotiated, bit 0 first; a hex word is
 * taken too). Each line gives a `device` event (type and driver binding) and, with features, a
 * driver-side `features` event, both in the guest's view of device `virtioN`. No clock: ts 0.
 */
import type { Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';

const LINE = /^(virtio\d+)((?:\s+[a-z_]+=\S*)+)\s*$/;

export const guestVirtioDevicesAdapter: Adapter = {
  name: 'guest-virtio-devices',
  description: "the guest's /sys/bus/virtio/devices: device id, bound driver and negotiated features per virtioN",
  sniff: (head) => LINE.test(head.split('\n', 1)[0]!.trimEnd()),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'guest-virtio-devices', view: 'guest', vm: opts.vm, originNs: 0n, timed: false, events: 0, lines: 0 };
    return { info, batches: readLineSource(info, new VirtioDevicesParser(info), opts.stats, opts.keepRaw) };
  },
};

/** sysfs writes the features as '0'/'1' characters, bit 0 first. */
export function sysfsFeaturesToHex(bits: string): string | undefined {
  if (/^0x[0-9a-f]+$/i.test(bits)) return bits.toLowerCase();
  if (!/^[01]+$/.test(bits)) return undefined;
  let v = 0n;
  for (let i = bits.length - 1; i >= 0; i--) v = (v << 1n) | (bits[i] === '1' ? 1n : 0n);
  return '0x' + v.toString(16);
}

class VirtioDevicesParser implements LineParser {
  constructor(private readonly info: SourceInfo) {}

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    const m = LINE.exec(line.trimEnd());
    if (!m) return 'expected "virtioN device=0x.... driver=..."';
    const kv = new Map(m[2]!.trim().split(/\s+/).map((p) => p.split('=', 2) as [string, string]));
    const id = kv.get('device');
    if (id === undefined || !/^0x[0-9a-f]+$/i.test(id)) return 'no device=0x.... id';
    const base = { ts: 0, vm: this.info.vm, dev: m[1]!, view: 'guest' as const, src: { file: this.info.file, line: lineNo } };
    const driver = kv.get('driver');
    out.push({ ...base, kind: 'device', device_id: parseInt(id, 16), ...(driver && driver !== '-' && driver !== 'none' ? { driver } : {}) });
    const f = kv.get('features');
    if (f !== undefined) {
      const value = sysfsFeaturesToHex(f);
      if (value === undefined) return 'features= is neither sysfs 0/1 bits nor hex';
      out.push({ ...base, kind: 'features', side: 'driver', value });
    }
    return undefined;
  }
}
