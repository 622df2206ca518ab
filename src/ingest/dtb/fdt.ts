/**
 * A flattened device tree (DTB, the Devicetree Specification's FDT format) to nodes and properties.
 * Pure: bytes in, nodes out; a malformed blob is a FdtError saying at which byte offset.
 */
import type { z } from 'zod';
import type { DtValue } from '../../model/events.ts';

export type FdtValue = z.infer<typeof DtValue>;

export interface FdtNode {
  /** full path: "/", "/psci", "/virtio_mmio@a000000" */
  path: string;
  props: Record<string, FdtValue>;
}

export class FdtError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export const FDT_MAGIC = 0xd00dfeed;
const BEGIN_NODE = 1;
const END_NODE = 2;
const PROP = 3;
const NOP = 4;
const END = 9;

export function isFdt(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0) === FDT_MAGIC;
}

/** Printable, NUL-terminated, non-empty strings: how the spec's <stringlist> values look. */
function asStrings(v: Buffer): string[] | undefined {
  if (v.length === 0 || v[v.length - 1] !== 0) return undefined;
  const parts = v.subarray(0, v.length - 1).toString('latin1').split('\0');
  for (const p of parts) if (p.length === 0 || !/^[\x20-\x7e]+$/.test(p)) return undefined;
  return parts;
}

function decodeValue(v: Buffer): FdtValue {
  if (v.length === 0) return '';
  const s = asStrings(v);
  if (s) return s;
  if (v.length % 4 === 0) {
    const cells: number[] = [];
    for (let i = 0; i < v.length; i += 4) cells.push(v.readUInt32BE(i));
    return cells;
  }
  return '0x' + v.toString('hex');
}

export function parseFdt(blob: Buffer): FdtNode[] {
  if (blob.length < 40) throw new FdtError(`too short for a device tree header (${blob.length} bytes)`, 0);
  if (blob.readUInt32BE(0) !== FDT_MAGIC) throw new FdtError('not a device tree blob (magic is not 0xd00dfeed)', 0);
  const total = blob.readUInt32BE(4);
  const offStruct = blob.readUInt32BE(8);
  const offStrings = blob.readUInt32BE(12);
  const version = blob.readUInt32BE(20);
  if (total > blob.length) throw new FdtError(`truncated: the header says ${total} bytes, the file has ${blob.length}`, 4);
  if (version < 16) throw new FdtError(`device tree format version ${version} is older than 16`, 20);
  const stringAt = (off: number): string => {
    const start = offStrings + off;
    const end = blob.indexOf(0, start);
    if (start >= total || end < 0 || end >= total) throw new FdtError(`property name offset ${off} outside the strings block`, offStrings);
    return blob.toString('latin1', start, end);
  };
  const nodes: FdtNode[] = [];
  const stack: FdtNode[] = [];
  let p = offStruct;
  const u32 = (): number => {
    if (p + 4 > total) throw new FdtError('structure block runs past the end of the blob', p);
    const v = blob.readUInt32BE(p);
    p += 4;
    return v;
  };
  for (;;) {
    const at = p;
    const token = u32();
    if (token === BEGIN_NODE) {
      const end = blob.indexOf(0, p);
      if (end < 0 || end >= total) throw new FdtError('node name without its terminating NUL', p);
      const name = blob.toString('latin1', p, end);
      p = (end + 4) & ~3;
      const parent = stack.at(-1);
      const path = parent === undefined ? '/' : parent.path === '/' ? `/${name}` : `${parent.path}/${name}`;
      const node: FdtNode = { path, props: {} };
      nodes.push(node);
      stack.push(node);
    } else if (token === END_NODE) {
      if (stack.pop() === undefined) throw new FdtError('end of a node that was never begun', at);
    } else if (token === PROP) {
      const len = u32();
      const nameOff = u32();
      const node = stack.at(-1);
      if (node === undefined) throw new FdtError('property outside any node', at);
      if (p + len > total) throw new FdtError('property value runs past the end of the blob', p);
      node.props[stringAt(nameOff)] = decodeValue(blob.subarray(p, p + len));
      p = (p + len + 3) & ~3;
    } else if (token === NOP) {
      continue;
    } else if (token === END) {
      if (stack.length !== 0) throw new FdtError(`the structure ends with ${stack.length} node(s) still open`, at);
      return nodes;
    } else {
      throw new FdtError(`unknown structure token 0x${token.toString(16)}`, at);
    }
  }
}

/** The cells of a property, or [] when it is absent or not cells. */
export function cells(v: FdtValue | undefined): number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : [];
}

/** The strings of a property, or [] when it is absent or not strings. */
export function strings(v: FdtValue | undefined): string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : [];
}
