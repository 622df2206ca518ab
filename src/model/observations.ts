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
  'vq.out-of-order': 'with VIRTIO_F_IN_ORDER negotiated, the device completed a chain before one taken earlier on the same queue',
  'vq.used-before-driver-ok': 'the device took or returned a chain, or notified the driver, before DRIVER_OK',
  'vq.used-after-reset': 'after a reset, the device took or returned a chain, or notified the driver, before the driver set DRIVER_OK again',
  'vq.len-past-written': 'the used length exceeds the bytes the device wrote (or could write: the chain has no device-writable buffer)',
  'mmio.queue-not-ready': 'the device took a chain from a virtio-mmio queue whose QueueReady is 0',
  'notify.before-driver-ok': 'the driver notified a queue before setting DRIVER_OK',
  'vq.bad-shape': 'a chain whose readable/writable layout the device type forbids',
  'mmio.queue-size-too-big': 'the driver wrote a QueueNum larger than QueueNumMax',
  'mmio.queue-size-not-pow2': 'the driver wrote a QueueNum that is not a power of 2 (split virtqueue)',
  'mmio.write-read-only': 'the driver wrote a read-only register',
  'mmio.device-register': 'a virtio-mmio register read returned a value the device must not return (MagicValue, Version, QueueReady)',
  'blk.bad-status': 'a request completed with a status byte VIRTIO_BLK_S_* does not define (0-2; 3-6 only with VIRTIO_BLK_F_ZONED)',
  'blk.io-error': 'a request completed with VIRTIO_BLK_S_IOERR',
  'blk.unsupp-offered': 'a request of a type whose feature was negotiated was answered VIRTIO_BLK_S_UNSUPP',
  'blk.write-on-ro': 'with VIRTIO_BLK_F_RO negotiated, a write request completed without VIRTIO_BLK_S_IOERR',
  'console.add-existing-port': 'the device sent VIRTIO_CONSOLE_DEVICE_ADD for a port that already exists',
  'console.remove-unknown-port': 'the device sent VIRTIO_CONSOLE_DEVICE_REMOVE for a port no DEVICE_ADD created',
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
