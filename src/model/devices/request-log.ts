/**
 * What a device model keeps of the requests a richer VMM logs for it (vsock, IOMMU, fs, RPMB, crypto,
 * PSCI, SCMI): how many, the first one, and the first few the spec forbids, each with why. Memory
 * stays bounded whatever the trace's length.
 */
import type { Ref } from '../observations.ts';

const KEPT = 5;

export interface Fault {
  ref: Ref;
  detail: string;
}

export class RequestLog {
  count = 0;
  first: Ref | undefined;
  faultCount = 0;
  readonly faults: Fault[] = [];

  seen(ref: Ref): void {
    this.count++;
    this.first ??= ref;
  }

  fault(ref: Ref, detail: string): void {
    this.faultCount++;
    if (this.faults.length < KEPT) this.faults.push({ ref, detail });
  }
}
