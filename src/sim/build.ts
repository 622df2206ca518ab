/**
 * A small builder for simulated runs: the TypeScript platform playing driver and device, writing
 * the canonical events a VMM would log. Time advances by a fixed step per event unless told.
 */
import { eventToJson, headerToJson } from '../ingest/jsonl/index.ts';
import type { Event, SourceHeader } from '../model/events.ts';

/** Event fields without the ones the builder fills in (ts, vm). */
export type Draft = Event extends infer E ? (E extends Event ? Omit<E, 'ts' | 'vm'> & { ts?: number } : never) : never;

export class Run {
  readonly events: Event[] = [];
  ts = 0;
  constructor(readonly vm: string, readonly step = 1000) {}

  /** Appends events at the current time, each `step` ns after the previous (or at its own ts). */
  emit(...ds: Draft[]): this {
    for (const d of ds) {
      this.ts = d.ts ?? this.ts + this.step;
      this.events.push({ ...d, ts: this.ts, vm: this.vm } as Event);
    }
    return this;
  }

  /** Moves the clock to `ts` (ns) without an event. */
  at(ts: number): this {
    this.ts = ts;
    return this;
  }

  /** A virtio device brought up the way VIRTIO §3.1.1 orders it, offering and accepting `features`. */
  initDevice(dev: string, deviceId: number, features: bigint, transport: 'mmio' | 'pci' = 'mmio'): this {
    const hex = '0x' + features.toString(16);
    return this.emit(
      { kind: 'device', dev, device_id: deviceId, transport },
      { kind: 'status', dev, value: 0 },
      { kind: 'status', dev, value: 1 },
      { kind: 'status', dev, value: 3 },
      { kind: 'features', dev, side: 'device', value: hex },
      { kind: 'features', dev, side: 'driver', value: hex },
      { kind: 'status', dev, value: 11 },
      { kind: 'status', dev, value: 15 },
    );
  }

  /** One request on a queue: kicked, taken, completed, published, notified. */
  request(dev: string, queue: number, elem: string, shape: { in: number; out: number; len: number }): this {
    return this.emit(
      { kind: 'notify.avail', dev, queue },
      { kind: 'vq.pop', dev, queue, elem, in_num: shape.in, out_num: shape.out },
      { kind: 'vq.fill', dev, queue, elem, len: shape.len, idx: 0 },
      { kind: 'vq.flush', dev, queue, count: 1 },
      { kind: 'notify.used', dev, queue, via: 'irq' },
    );
  }
}

export function toJsonl(vm: string, events: Event[]): string {
  const header: SourceHeader = { format: 'avpscope-events', version: 1, origin_ns: '0', view: 'host', vm, producer: 'avpscope simulate' };
  return [headerToJson(header), ...events.map(eventToJson)].join('\n') + '\n';
}
