/** virtio-crypto (VIRTIO §5.9, device ID 20): each request answered with a VIRTIO_CRYPTO_* status. */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

/** VIRTIO_CRYPTO_OK (0) .. VIRTIO_CRYPTO_KEY_REJECTED (6), §5.9.7 */
const STATUS_MAX = 6;

export class CryptoModel extends RequestLog {
  take(e: EventOf<'crypto.req'>, ref: Ref): void {
    this.seen(ref);
    if (e.status > STATUS_MAX) this.fault(ref, `opcode 0x${e.opcode.toString(16)} answered with status ${e.status}, which VIRTIO_CRYPTO_* does not define`);
  }
}
