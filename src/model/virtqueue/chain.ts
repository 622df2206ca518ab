/**
 * One descriptor chain as the device handles it, a single record from the moment the device takes
 * it (pop) until the driver is told it is used (notification), the device is reset or the trace
 * ends. The queue's bookkeeping, the device's own events for the chain and the span it becomes all
 * write to and read from this record; analyses follow it through the platform's chain hooks.
 */
import type { BlkOp } from '../events.ts';
import type { Ref } from '../observations.ts';
import type { QueueState } from './queue.ts';

export interface Chain {
  /** the queue it was taken from: its VM, and its device and index once the trace has named them */
  vq: QueueState;
  elem: string;
  in_num: number;
  out_num: number;
  pop: Ref;
  /** virtio-blk: what the device logged of the request (QEMU 7.2 logs only reads and writes) */
  op?: BlkOp;
  sector?: number;
  nsectors?: number;
  submit?: Ref;
  backend?: Ref;
  complete?: Ref;
  /** VIRTIO_BLK_S_* */
  status?: number;
  fill?: Ref;
  /** used length */
  len?: number;
  /** the flush that published the used element, and the used-buffer notification that announced it */
  used?: Ref;
  notify?: Ref;
}

/** A chain whose used element the device has written. */
export type Completed = Chain & { fill: Ref; len: number };

/** Steps of a chain an analysis can follow, each called as the replay reaches it. */
export interface ChainHooks {
  /** the device took the chain */
  pop?(c: Chain): void;
  /** virtio-blk: the device logged the request's type */
  submit?(c: Chain): void;
  /** virtio-blk: the device wrote the request's status */
  complete?(c: Chain): void;
  /** the device wrote the chain's used element */
  fill?(c: Completed): void;
}
