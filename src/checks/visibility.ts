/**
 * Rules that need the rings' contents (chains taken, completed, used elements, request payloads).
 * A trace that cannot show them (a host KVM trace alone: descriptors and used elements live in
 * guest memory, which no KVM tracepoint records) leaves these NOT-OBSERVED, and the report says why.
 */
export const RING_RULES: ReadonlySet<string> = new Set([
  'virtio.vq.completed-once',
  'virtio.vq.used-not-more-than-taken',
  'virtio.vq.no-completion-without-request',
  'virtio.vq.queue-size',
  'virtio.vq.chain-layout',
  'virtio.vq.in-order',
  'virtio.vq.used-len',
  'virtio.live-after-driver-ok',
  'virtio-blk.status',
  'virtio-blk.ro-write-fails',
  'virtio-rng.answers',
  'virtio-console.port-add-remove',
  'virtio-snd.chmap-info',
  'AVPS-v2.0-4',
  'AVPS-v2.0-40',
  'AVPS-v2.0-41',
  'AVPS-v2.0-46',
]);
