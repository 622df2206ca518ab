/** virtio-fs (VIRTIO §5.11, device ID 26): FUSE requests answered, each with 0 or a negative errno. */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

export class FsModel extends RequestLog {
  take(e: EventOf<'fs.req'>, ref: Ref): void {
    this.seen(ref);
    if (e.error > 0 || e.error < -4095) this.fault(ref, `FUSE opcode ${e.opcode} answered with error ${e.error}: a FUSE reply carries 0 or a negative errno`);
  }
}
