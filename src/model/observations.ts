/**
 * What the model saw that a rule may need: a reference to an event (time and line), and anomalies
 * the replay noticed. The model never throws on odd input; it records an Observation and carries on.
 */
import type { Event, SourceRef } from './events.ts';

/** A pointer back into the trace: evidence for a verdict. */
export interface Ref {
  ts: number;
  src?: SourceRef;
  /** the raw line, when the source kept it (filled in for reports) */
  raw?: string;
}

export function refOf(e: Event): Ref {
  return e.raw === undefined ? { ts: e.ts, src: e.src } : { ts: e.ts, src: e.src, raw: e.raw };
}

export const OBSERVATION_CODES = {
  'status.bit-cleared': 'the driver wrote a non-zero status that clears a bit it had set',
  'status.out-of-order': 'a status bit was set before the bits that must precede it',
  'features.after-features-ok': 'the driver wrote feature bits after setting FEATURES_OK',
  'vq.pop-while-in-flight': 'the device took a chain that was still in flight (its completion is missing)',
  'vq.completed-twice': 'the device completed the same chain twice without taking it again',
  'vq.completion-without-request': 'the device completed a chain it never took',
  'vq.used-more-than-filled': 'the device published more used elements than it had completed',
  'vq.index-past-size': 'a used element was written past the queue size',
  'vq.in-flight-past-size': 'more chains were in flight than the queue has entries',
  'vq.lost-request': 'a chain was never completed although the device completed later ones on the queue and was not reset',
  'vq.used-before-driver-ok': 'the device took or returned a chain, or notified the driver, before DRIVER_OK',
  'notify.before-driver-ok': 'the driver notified a queue before setting DRIVER_OK',
  'vq.bad-shape': 'a chain whose readable/writable layout the device type forbids',
  'mmio.queue-size-too-big': 'the driver wrote a QueueNum larger than QueueNumMax',
  'mmio.queue-size-not-pow2': 'the driver wrote a QueueNum that is not a power of 2 (split virtqueue)',
  'mmio.write-read-only': 'the driver wrote a read-only register',
  'mmio.device-register': 'a virtio-mmio register read returned a value the device must not return (MagicValue, Version, QueueReady)',
  'blk.bad-status': 'a request completed with a status byte VIRTIO_BLK_S_* does not define',
  'blk.io-error': 'a request completed with VIRTIO_BLK_S_IOERR',
  'rng.empty-answer': 'the entropy device completed a request with no bytes',
} as const;

export type ObservationCode = keyof typeof OBSERVATION_CODES;

export interface Observation {
  code: ObservationCode;
  vm: string;
  dev: string;
  refs: Ref[];
  detail: string;
}
