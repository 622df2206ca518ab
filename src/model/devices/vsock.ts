/** virtio-vsock (VIRTIO §5.10, device ID 19) as a VMM logs its packets: ops and socket types the spec defines. */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

/** VIRTIO_VSOCK_OP_INVALID (0) .. VIRTIO_VSOCK_OP_CREDIT_REQUEST (7), §5.10.6 */
const OP_MAX = 7;
/** VIRTIO_VSOCK_TYPE_STREAM (1), VIRTIO_VSOCK_TYPE_SEQPACKET (2) */
const TYPES = new Set([1, 2]);
/** the host's CID; guests have 3 and up (§5.10.4) */
export const VSOCK_HOST_CID = 2;

export class VsockModel extends RequestLog {
  take(e: EventOf<'vsock.pkt'>, ref: Ref): void {
    this.seen(ref);
    if (e.op === 0 || e.op > OP_MAX) this.fault(ref, `packet with op ${e.op}, not a VIRTIO_VSOCK_OP_* the device may send (§5.10.6)`);
    else if (e.type !== undefined && !TYPES.has(e.type)) this.fault(ref, `packet of socket type ${e.type}, neither STREAM (1) nor SEQPACKET (2)`);
    else if (e.dir === 'rx' && e.dst_cid < 3) this.fault(ref, `packet delivered to the guest addressed to CID ${e.dst_cid}, not a guest CID (3 or more)`);
  }
}
