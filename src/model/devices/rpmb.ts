/** virtio-rpmb (VIRTIO §5.12, device ID 28): each request answered with a VIRTIO_RPMB_RES_* result. */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

/** OK (0) .. NO_AUTH_KEY (7), and WRITE_COUNTER_EXPIRED (0x80) */
const RESULTS = new Set([0, 1, 2, 3, 4, 5, 6, 7, 0x80]);
/** VIRTIO_RPMB_REQ_PROGRAM_KEY (1) .. VIRTIO_RPMB_REQ_RESULT_READ (5) */
const REQ_MAX = 5;

export class RpmbModel extends RequestLog {
  take(e: EventOf<'rpmb.req'>, ref: Ref): void {
    this.seen(ref);
    if (e.req_type === 0 || e.req_type > REQ_MAX) this.fault(ref, `request type ${e.req_type} is not a VIRTIO_RPMB_REQ_*`);
    else if (!RESULTS.has(e.result)) this.fault(ref, `request type ${e.req_type} answered with result ${e.result}, which VIRTIO_RPMB_RES_* does not define`);
  }
}
