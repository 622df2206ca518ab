/**
 * virtio-gpu (VIRTIO §5.7) as both sides show it, for the AVPS GPU requirements: which queue each
 * command went to (the guest's view names it), each control command paired with its response in
 * queue order (§5.7.6: the device answers the control queue in order unless fenced), the 2D flow
 * per resource in the order the device processed it (QEMU's view), and the VIRGL feature as QEMU
 * logs it. Bounded: counters and the first few faults.
 */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { GPU_CMD, gpuCodeName } from './gpu-codes.ts';
import { RequestLog } from './request-log.ts';

export const GPU_QUEUE = { control: 0, cursor: 1 } as const;
const CURSOR_CMDS = new Set<number>([GPU_CMD.UPDATE_CURSOR, GPU_CMD.MOVE_CURSOR]);

/** The response codes §5.7.6.7 names: OK_NODATA .. OK_MAP_INFO, ERR_UNSPEC .. ERR_INVALID_PARAMETER. */
export function namedResponse(code: number): boolean {
  return (code >= GPU_CMD.RESP_OK_NODATA && code <= GPU_CMD.RESP_OK_MAP_INFO) || (code >= GPU_CMD.RESP_ERR_UNSPEC && code <= GPU_CMD.RESP_ERR_INVALID_PARAMETER);
}

/** The steps of the 2D flow (§5.7.6.1 "Device Operation: create a framebuffer"), in their order. */
export const FLOW_2D = [GPU_CMD.RESOURCE_CREATE_2D, GPU_CMD.RESOURCE_ATTACH_BACKING, GPU_CMD.SET_SCANOUT, GPU_CMD.TRANSFER_TO_HOST_2D, GPU_CMD.RESOURCE_FLUSH] as const;

const KEPT_PENDING = 4096;

export class GpuModel {
  /** the device's commands as it processed them (host view) */
  readonly host = new RequestLog();
  /** the driver's commands (guest view) */
  readonly guest = new RequestLog();
  readonly hostTypes = new Map<number, { n: number; first: Ref }>();
  readonly guestQueues = new Map<number, { n: number; first: Ref }>();
  readonly responses = new Map<number, { n: number; first: Ref }>();
  /** cursor commands seen on a queue other than the cursor queue, or control commands on it */
  readonly wrongQueue = new RequestLog();
  /** responses that are not a VIRTIO_GPU_RESP_* code */
  readonly unnamed = new RequestLog();
  /** GET_EDID answered (guest view): with OK_EDID, or with an error */
  edidAnswers: { ok: number; err: number; okRef?: Ref; errRef?: Ref } = { ok: 0, err: 0 };
  /** what QEMU logs of the device's features (`virtio_gpu_features virgl N`) */
  readonly virgl: { on: boolean; ref: Ref }[] = [];
  /** per resource, the 2D flow steps the device processed, in order */
  private readonly resources = new Map<number, number[]>();
  /** 2D flow out of order: a step on a resource before the steps it needs */
  readonly outOfOrder = new RequestLog();
  flowComplete: Ref | undefined;
  private readonly pending = new Map<string, number[]>();

  take(e: EventOf<'gpu.cmd'>, ref: Ref): void {
    if (e.view === 'guest') return this.takeGuest(e, ref);
    if (e.phase !== 'process') return;
    this.host.seen(ref);
    const t = this.hostTypes.get(e.type);
    if (t) t.n++;
    else this.hostTypes.set(e.type, { n: 1, first: ref });
    this.follow2d(e, ref);
  }

  private follow2d(e: EventOf<'gpu.cmd'>, ref: Ref): void {
    const step = (FLOW_2D as readonly number[]).indexOf(e.type);
    if (step < 0 || e.resource === undefined || e.resource === 0) return;
    let done = this.resources.get(e.resource);
    if (step === 0) {
      this.resources.set(e.resource, [0]);
      return;
    }
    if (!done) {
      this.outOfOrder.fault(ref, `${gpuCodeName(e.type)} of resource ${e.resource}, which was never created (RESOURCE_CREATE_2D)`);
      return;
    }
    // attach, scanout and transfer need the attached backing; the flush needs the transfer
    const needs = step === 1 ? 0 : step === 4 ? 3 : 1;
    if (!done.includes(needs)) {
      this.outOfOrder.fault(ref, `${gpuCodeName(e.type)} of resource ${e.resource} before its ${gpuCodeName(FLOW_2D[needs]!)}`);
      return;
    }
    if (!done.includes(step)) done.push(step);
    if (this.flowComplete === undefined && FLOW_2D.every((_, i) => done!.includes(i))) this.flowComplete = ref;
  }

  private takeGuest(e: EventOf<'gpu.cmd'>, ref: Ref): void {
    const key = `${e.dev ?? ''}#${e.queue ?? 0}`;
    if (e.phase === 'queue') {
      this.guest.seen(ref);
      const q = e.queue ?? 0;
      const g = this.guestQueues.get(q);
      if (g) g.n++;
      else this.guestQueues.set(q, { n: 1, first: ref });
      const cursor = CURSOR_CMDS.has(e.type);
      if (cursor && q !== GPU_QUEUE.cursor) this.wrongQueue.fault(ref, `${gpuCodeName(e.type)} on queue ${q}: cursor commands go on the cursor queue (1)`);
      else if (!cursor && q === GPU_QUEUE.cursor) this.wrongQueue.fault(ref, `${gpuCodeName(e.type)} on the cursor queue: only cursor commands go there`);
      let p = this.pending.get(key);
      if (!p) this.pending.set(key, (p = []));
      if (p.length < KEPT_PENDING) p.push(e.type);
      return;
    }
    if (e.phase !== 'response') return;
    const r = this.responses.get(e.type);
    if (r) r.n++;
    else this.responses.set(e.type, { n: 1, first: ref });
    if (!namedResponse(e.type)) this.unnamed.fault(ref, `response code 0x${e.type.toString(16)} is none of VIRTIO_GPU_RESP_*`);
    const asked = this.pending.get(key)?.shift();
    if (asked === GPU_CMD.GET_EDID) {
      if (e.type === GPU_CMD.RESP_OK_EDID) {
        this.edidAnswers.ok++;
        this.edidAnswers.okRef ??= ref;
      } else {
        this.edidAnswers.err++;
        this.edidAnswers.errRef ??= ref;
      }
    }
  }

  features(e: EventOf<'gpu.features'>, ref: Ref): void {
    if (this.virgl.length < 8) this.virgl.push({ on: e.virgl, ref });
  }
}
