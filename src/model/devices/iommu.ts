/** virtio-iommu (VIRTIO §5.13, device ID 23) as a VMM logs its requests. */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

/** VIRTIO_IOMMU_S_OK (0) .. VIRTIO_IOMMU_S_NOMEM (8), §5.13.6 */
const STATUS_MAX = 8;
const T_MAP = 3;

export class IommuModel extends RequestLog {
  maps = 0;
  take(e: EventOf<'iommu.req'>, ref: Ref): void {
    this.seen(ref);
    if (e.status > STATUS_MAX) return this.fault(ref, `request type ${e.type} answered with status ${e.status}, which VIRTIO_IOMMU_S_* does not define`);
    if (e.type === T_MAP && e.status === 0) {
      this.maps++;
      if (e.virt_start !== undefined && e.virt_end !== undefined && BigInt(e.virt_start) > BigInt(e.virt_end)) {
        this.fault(ref, `MAP of an empty range (virt_start ${e.virt_start} > virt_end ${e.virt_end}) answered OK`);
      }
    }
  }
}
