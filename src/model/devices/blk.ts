/**
 * virtio-blk (VIRTIO §5.2): what each request was, from the device's own events where the log has
 * them (kept on the request's chain, src/model/virtqueue/chain.ts), else from the chain's shape
 * (§5.2.6: header out, data, status in), marked inferred.
 */
import type { BlkOp } from '../events.ts';

export const BLK_STATUS = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;
/** Highest VIRTIO_BLK_S_* value the spec defines (the zoned statuses end at 6). */
export const BLK_STATUS_MAX = 6;
/** Highest VIRTIO_BLK_S_* value a device without VIRTIO_BLK_F_ZONED may use (§5.2.6: OK, IOERR, UNSUPP). */
export const BLK_STATUS_MAX_NOT_ZONED = 2;

export const BLK_F = { RO: 5, FLUSH: 9, CONFIG_WCE: 11, DISCARD: 13, WRITE_ZEROES: 14, ZONED: 17 } as const;

/** Feature bits that make a request type one the device offers (read and write need none). */
const FEATURES_OF_OP: Partial<Record<BlkOp, number[]>> = {
  flush: [BLK_F.FLUSH],
  discard: [BLK_F.DISCARD],
  write_zeroes: [BLK_F.WRITE_ZEROES],
  // one of the two: only when both are negotiated is either one offered for sure
  discard_or_write_zeroes: [BLK_F.DISCARD, BLK_F.WRITE_ZEROES],
};

/** The feature bits a request type needs (none for read and write); undefined for types not judged. */
export function featuresOfOp(op: BlkOp): number[] | undefined {
  return op === 'read' || op === 'write' ? [] : FEATURES_OF_OP[op];
}

/**
 * The request type of a chain that no device event named, from its shape (readable and writable
 * segment counts) and the used length. QEMU 7.2 logs only reads and writes, so a chain without
 * one of those is one of the other types. Returns undefined when the shape fits none.
 */
export function inferBlkOp(outNum: number, inNum: number, usedLen: number): { op: BlkOp; why: string } | undefined {
  if (outNum === 1 && inNum === 1 && usedLen <= 1) {
    return { op: 'flush', why: 'header-only chain with a 1-byte status and no data: FLUSH (VIRTIO §5.2.6)' };
  }
  if (outNum === 1 && inNum === 2 && usedLen === 21) {
    return { op: 'get_id', why: '20-byte writable data plus status: GET_ID (VIRTIO §5.2.6)' };
  }
  if (outNum >= 2 && inNum === 1 && usedLen <= 1) {
    return {
      op: 'discard_or_write_zeroes',
      why: 'header plus readable segments and a status byte, not logged as a write: DISCARD or WRITE_ZEROES (the two share this shape; VIRTIO §5.2.6)',
    };
  }
  return undefined;
}
