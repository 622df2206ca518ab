/**
 * The layers a block request crosses, guest and host, each named by the step that ends it. A
 * request's time is cut at every step both traces show; a step a trace does not show (no insert
 * for a flush, no backend event for a QEMU flush, a kick the driver suppressed) hands its time to
 * the next layer that is shown, so the layers of a request always add up to its whole latency.
 */

export const POINTS = ['insert', 'issue', 'add', 'kick', 'notify', 'pop', 'backend', 'complete', 'used', 'irq', 'interrupt', 'get_buf', 'done'] as const;
export type Point = (typeof POINTS)[number];

export interface Layer {
  name: string;
  /** the step that ends the layer */
  ends: Point;
  side: 'guest' | 'host' | 'both';
  what: string;
}

export const LAYERS: readonly Layer[] = [
  { name: 'queue', ends: 'issue', side: 'guest', what: 'block layer: block_rq_insert → block_rq_issue' },
  { name: 'driver', ends: 'add', side: 'guest', what: 'virtio driver: block_rq_issue → buffer added (vq_add_sgs)' },
  { name: 'kick', ends: 'kick', side: 'guest', what: 'buffer added → kick (vq_notify)' },
  { name: 'exit', ends: 'notify', side: 'both', what: 'guest kick → QEMU virtio_queue_notify (trap or ioeventfd)' },
  { name: 'fetch', ends: 'pop', side: 'host', what: 'virtio_queue_notify → virtqueue_pop' },
  { name: 'backend', ends: 'backend', side: 'host', what: 'virtqueue_pop → host I/O done (virtio_blk_rw_complete; flush and discard: the status write)' },
  { name: 'complete', ends: 'complete', side: 'host', what: 'host I/O done → status written (virtio_blk_req_complete)' },
  { name: 'used', ends: 'used', side: 'host', what: 'status written → used element published (virtqueue_flush)' },
  { name: 'irq', ends: 'irq', side: 'host', what: 'used → interrupt sent (virtio_notify / virtio_notify_irqfd)' },
  { name: 'inject', ends: 'interrupt', side: 'both', what: 'QEMU interrupt → guest vring_interrupt' },
  { name: 'reap', ends: 'get_buf', side: 'guest', what: 'vring_interrupt → driver takes the buffer (vq_get_buf)' },
  { name: 'end', ends: 'done', side: 'guest', what: 'buffer taken → block_rq_complete' },
];

export type Points = Partial<Record<Point, number>>;

/** Each layer's ns (null where its end step is not shown) and the whole, first step to `done`. */
export function layerSpans(t: Points): { spans: (number | null)[]; total: number | null } {
  let prev: number | undefined = t.insert;
  let first = prev;
  const spans = LAYERS.map((l) => {
    const end = t[l.ends];
    if (end === undefined) return null;
    if (prev === undefined) {
      // no insert: the request starts at its first step shown
      prev = first = end;
      return null;
    }
    const ns = end - prev;
    prev = end;
    return ns;
  });
  return { spans, total: t.done !== undefined && first !== undefined ? t.done - first : null };
}
