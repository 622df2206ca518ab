/**
 * A device map given by the user, for host KVM traces that begin after the guest's driver probed
 * its devices (no MagicValue read to find a virtio-mmio window by): the guest's device tree blob
 * (its `virtio,mmio` nodes, e.g. QEMU's `-machine dumpdtb=FILE`), or a small JSON list of ranges:
 *
 *   {"virtio_mmio": [{"base": "0xfeb02e00", "size": "0x200", "name": "blk0", "type": 2}]}
 *
 * `size`, `name` (the device's id in the report) and `type` (VIRTIO device ID; else the DeviceID read
 * tells, or the device stays untyped) are optional. Plain or gzip; read bounded like every
 * auxiliary file, the blob with the device tree reader of src/ingest/dtb.
 */
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { readBytesBounded } from '../../io/bounded-read.ts';
import { cells, FdtError, isFdt, parseFdt, strings, type FdtNode } from '../dtb/fdt.ts';
import { InputError } from '../errors.ts';
import type { UserDevice } from './devices.ts';

const DEFAULT_WINDOW = 0x200;
/** a device tree blob or a JSON list of windows is a few KiB; QEMU pads its blobs to 1 MiB at most */
const MAX_DEVICE_MAP_BYTES = 4 << 20;
const WHAT = 'device map';

const address = z.union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-f]+|\d+)$/i, 'expected a number or hex text such as 0xfeb02e00')]);
const JsonMap = z.object({
  virtio_mmio: z.array(z.object({ base: address, size: address.optional(), name: z.string().optional(), type: z.number().int().positive().optional() })),
});

const num = (v: number | string) => (typeof v === 'number' ? v : Number(v));

export function readDeviceMap(file: string): UserDevice[] {
  let buf = readBytesBounded(file, MAX_DEVICE_MAP_BYTES, WHAT);
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_DEVICE_MAP_BYTES });
    } catch (e) {
      throw new InputError(`the ${WHAT}: corrupt, truncated or oversized gzip data (${(e as Error).message})`, file);
    }
  }
  if (isFdt(buf)) return virtioMmioNodes(buf, file);
  if (buf.includes(0)) throw new InputError(`binary data, neither a device tree blob nor a JSON ${WHAT}`, file);
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

/** The `reg` of every node whose `compatible` lists "virtio,mmio", in its parent's cells (Devicetree spec §2.3.5: 2 and 1 by default). */
function virtioMmioNodes(blob: Buffer, file: string): UserDevice[] {
  let nodes: FdtNode[];
  try {
    nodes = parseFdt(blob);
  } catch (e) {
    if (e instanceof FdtError) throw new InputError(`device tree blob: bad at byte ${e.offset}: ${e.message}`, file);
    throw e;
  }
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const out: UserDevice[] = [];
  for (const n of nodes) {
    if (!strings(n.props.compatible).includes('virtio,mmio')) continue;
    const parent = byPath.get(n.path.slice(0, n.path.lastIndexOf('/')) || '/');
    const ac = cells(parent?.props['#address-cells'])[0] ?? 2;
    const sc = cells(parent?.props['#size-cells'])[0] ?? 1;
    const reg = cells(n.props.reg);
    if (reg.length < ac + sc) continue;
    const value = (from: number, count: number) => reg.slice(from, from + count).reduce((v, c) => v * 2 ** 32 + c, 0);
    out.push({ base: value(0, ac), size: value(ac, sc) || DEFAULT_WINDOW });
  }
  if (out.length === 0) throw new InputError('device tree blob: no virtio,mmio node', file);
  return out.sort((a, c) => a.base - c.base);
}
