/**
 * A device tree blob (plain or gzip, recognised by its magic): the platform's description of the
 * machine as the guest is given it. One `dt.node` event per node, all at ts 0 (a DTB has no clock);
 * the VM is the file's (arm64-virt.dtb.gz joins arm64-virt.trace.gz). Evidence cites the node's
 * ordinal as its "line" and carries the node's path and properties as the raw text.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Event } from '../../model/events.ts';
import type { Adapter, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { InputError } from '../errors.ts';
import { assertReadableFile } from '../lines.ts';
import { FdtError, isFdt, parseFdt, type FdtNode, type FdtValue } from './fdt.ts';

export const dtbAdapter: Adapter = {
  name: 'dtb',
  description: 'a flattened device tree blob (DTB), plain or gzip: the platform description the guest boots with',
  sniff: (_head, bytes) => isFdt(bytes),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'dtb', view: 'host', vm: opts.vm, originNs: 0n, timed: false, events: 0, lines: 0 };
    return { info, batches: readDtb(info) };
  },
};

function showValue(v: FdtValue): string {
  if (typeof v === 'string') return v === '' ? '' : ` = [${v}]`;
  if (v.length > 0 && typeof v[0] === 'string') return ' = ' + (v as string[]).map((s) => JSON.stringify(s)).join(', ');
  return ` = <${(v as number[]).map((c) => '0x' + c.toString(16)).join(' ')}>`;
}

/** The node as dtc would show its properties, on one line: the evidence text. */
export function describeNode(n: FdtNode): string {
  const props = Object.entries(n.props).map(([k, v]) => k + showValue(v));
  return `${n.path} { ${props.join('; ')}${props.length > 0 ? ';' : ''} }`;
}

async function* readDtb(info: SourceInfo): AsyncGenerator<Event[]> {
  await assertReadableFile(info.file);
  let blob = await readFile(info.file);
  if (blob[0] === 0x1f && blob[1] === 0x8b) {
    try {
      blob = gunzipSync(blob);
    } catch (e) {
      throw new InputError(`corrupt or truncated gzip data (${(e as Error).message})`, info.file);
    }
  }
  let nodes: FdtNode[];
  try {
    nodes = parseFdt(blob);
  } catch (e) {
    if (e instanceof FdtError) throw new InputError(`bad device tree blob at byte ${e.offset}: ${e.message}`, info.file);
    throw e;
  }
  const out: Event[] = nodes.map((n, i) => ({
    kind: 'dt.node', ts: 0, vm: info.vm, path: n.path, props: n.props,
    src: { file: info.file, line: i + 1 }, raw: describeNode(n),
  }));
  info.events = out.length;
  info.lines = out.length;
  yield out;
}
