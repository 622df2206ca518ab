/** Every trace format avpscope reads, in the order their sniffers are asked. */
import type { Adapter } from './adapter.ts';
import { arrowAdapter } from './arrow/index.ts';
import { InputError } from './errors.ts';
import { jsonlAdapter } from './jsonl/index.ts';
import { dtbAdapter } from './dtb/index.ts';
import { bootLogAdapter } from './guest/boot-log.ts';
import { guestInterruptsAdapter } from './guest/interrupts.ts';
import { guestVirtioDevicesAdapter } from './guest/virtio-devices.ts';
import { kvmAdapter } from './kvm/index.ts';
import { ftraceAdapter } from './ftrace/index.ts';
import { readHead } from './lines.ts';
import { qemuLogAdapter } from './qemu/index.ts';

export const ADAPTERS: readonly Adapter[] = [
  // host-kvm before ftrace: both are ftrace text, told apart by KVM's host tracepoints
  arrowAdapter, jsonlAdapter, qemuLogAdapter, kvmAdapter, ftraceAdapter,
  // guest and platform evidence; the free-text boot log is asked last
  dtbAdapter, guestVirtioDevicesAdapter, guestInterruptsAdapter, bootLogAdapter,
];

export async function detectFormat(file: string, forced?: string): Promise<Adapter> {
  if (forced !== undefined) {
    const a = ADAPTERS.find((x) => x.name === forced);
    if (!a) throw new InputError(`unknown format '${forced}' (known: ${ADAPTERS.map((x) => x.name).join(', ')})`, file);
    return a;
  }
  const head = await readHead(file);
  if (arrowAdapter.sniff('', head)) return arrowAdapter;
  if (dtbAdapter.sniff('', head)) return dtbAdapter;
  if (head.includes(0)) throw new InputError('binary data, not a trace avpscope can read', file);
  const text = head.toString('utf8');
  const a = ADAPTERS.find((x) => x.sniff(text, head));
  if (!a) {
    const firstLine = text.split('\n', 1)[0]!.slice(0, 80);
    throw new InputError(`not a trace avpscope can read (formats tried: ${ADAPTERS.map((x) => x.name).join(', ')}); it starts: ${JSON.stringify(firstLine)}`, file, 1);
  }
  return a;
}
