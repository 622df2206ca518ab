/**
 * A device map given by the user, for host KVM traces that begin after the guest's driver probed
 * its devices (no MagicValue read to find a virtio-mmio window by): the guest's device tree blob
 * (its `virtio,mmio` nodes, e.g. QEMU's `-machine dumpdtb=FILE`), or a small JSON list of ranges:
 *
 *   {"virtio_mmio": [{"base": "0xfeb02e00", "size": "0x200", "name": "blk0", "type": 2}]}
 *
 * `size`, `name` (the device's id in the report) and `type` (VIRTIO device ID; else the DeviceID read
 * tells, or the device stays untyped) are optional. Plain or gzip.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { InputError } from '../errors.ts';
import type { UserDevice } from './devices.ts';

const FDT_MAGIC = 0xd00dfeed;
const DEFAULT_WINDOW = 0x200;

const address = z.union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-f]+|\d+)$/i, 'expected a number or hex text such as 0xfeb02e00')]);
const JsonMap = z.object({
  virtio_mmio: z.array(z.object({ base: address, size: address.optional(), name: z.string().optional(), type: z.number().int().positive().optional() })),
});

const num = (v: number | string) => (typeof v === 'number' ? v : Number(v));

export function readDeviceMap(file: string): UserDevice[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
    if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  } catch (e) {
    throw new InputError(`cannot read the device map: ${(e as Error).message}`, file);
  }
  if (buf.length >= 4 && buf.readUInt32BE(0) === FDT_MAGIC) return virtioMmioNodes(buf, file);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new InputError(`not a device tree blob nor JSON: ${(e as Error).message}`, file);
  }
  const r = JsonMap.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`device map: ${i.path.join('.') || '(top)'}: ${i.message}`, file);
  }
  return r.data.virtio_mmio.map((d) => ({ base: num(d.base), size: d.size !== undefined ? num(d.size) : DEFAULT_WINDOW, name: d.name, type: d.type }));
}

/** The `reg` of every node whose `compatible` lists "virtio,mmio" (devicetree spec §5: the structure block). */
function virtioMmioNodes(b: Buffer, file: string): UserDevice[] {
  const bad = (why: string) => new InputError(`device tree blob: ${why}`, file);
  if (b.length < 40) throw bad('truncated header');
  const structOff = b.readUInt32BE(8);
  const stringsOff = b.readUInt32BE(12);
  const structSize = b.readUInt32BE(36);
  if (structOff + structSize > b.length || stringsOff > b.length) throw bad('blocks outside the file');
  const str = (off: number) => {
    const end = b.indexOf(0, off);
    return b.toString('latin1', off, end < 0 ? b.length : end);
  };
  const out: UserDevice[] = [];
  // per open node: its cells (for its children's reg) and what it says about itself
  const stack: { addressCells: number; sizeCells: number; compatible?: string; reg?: Buffer }[] = [];
  let p = structOff;
  const end = structOff + structSize;
  while (p + 4 <= end) {
    const token = b.readUInt32BE(p);
    p += 4;
    if (token === 1) {
      const name = str(p);
      p += (name.length + 4) & ~3;
      stack.push({ addressCells: 2, sizeCells: 1 });
    } else if (token === 2) {
      const node = stack.pop();
      const parent = stack.at(-1);
      if (!node) throw bad('unbalanced nodes');
      if (parent && node.reg && node.compatible?.split('\0').includes('virtio,mmio')) {
        const cells = (off: number, n: number) => {
          let v = 0;
          for (let i = 0; i < n; i++) v = v * 2 ** 32 + node.reg!.readUInt32BE(off + 4 * i);
          return v;
        };
        if (node.reg.length >= 4 * (parent.addressCells + parent.sizeCells)) {
          out.push({ base: cells(0, parent.addressCells), size: cells(4 * parent.addressCells, parent.sizeCells) || DEFAULT_WINDOW });
        }
      }
    } else if (token === 3) {
      const len = b.readUInt32BE(p);
      const name = str(stringsOff + b.readUInt32BE(p + 4));
      const value = b.subarray(p + 8, p + 8 + len);
      p += 8 + ((len + 3) & ~3);
      const node = stack.at(-1);
      if (!node) throw bad('a property outside any node');
      if (name === '#address-cells' && len === 4) node.addressCells = value.readUInt32BE(0);
      else if (name === '#size-cells' && len === 4) node.sizeCells = value.readUInt32BE(0);
      else if (name === 'compatible') node.compatible = value.toString('latin1');
      else if (name === 'reg') node.reg = value;
    } else if (token === 9) break;
    else if (token !== 4) throw bad(`unknown token ${token} at byte ${p - 4}`);
  }
  if (out.length === 0) throw bad('no virtio,mmio node');
  return out.sort((a, c) => a.base - c.base);
}
