/**
 * The QEMU trace events avpscope reads, with their declarations from QEMU's trace-events files
 * (QEMU 7.2 and 10.0 declare these identically unless two are listed), and how each becomes
 * canonical events. `null` marks events that are known but carry nothing the model uses; they are
 * counted as ignored rather than unknown.
 */
import type { Event } from '../../model/events.ts';
import { DEVICE_ID } from '../../model/device-types.ts';
import { GPU_CMD } from '../../model/devices/gpu-codes.ts';
import { SND_R } from '../../model/devices/sound-codes.ts';
import type { Args } from './format.ts';

/**
 * What a mapper gets: the parsed arguments (an object the byte reader reuses: keep none of it); it
 * returns the event's kind-specific fields, copied from the arguments or constants. The byte reader
 * checks the fields for negative numbers only when a number it read was negative: a mapper that
 * computes a field (a difference) must not make one negative from non-negative arguments.
 */
type Fields = Omit<Event, 'ts' | 'vm' | 'src' | 'raw' | 'inferred'>;
export type Mapper = (a: Args) => Fields | null;

export interface QemuEventSpec {
  decl: string[];
  map: Mapper | null;
  /** the virtio device type this event proves its pointer argument to be (e.g. rng %p) */
  provesType?: { arg: string; deviceId: number; model: string };
}

const s = (v: unknown) => String(v);
const n = (v: unknown) => v as number;
/** Hex arguments wider than 52 bits arrive as text; everything avpscope keeps of them is text too. */
const hex = (v: unknown) => (typeof v === 'number' ? '0x' + v.toString(16) : String(v));

const SND_CODES_WITH_STREAM_EVENT = new Set<number>([SND_R.PCM_SET_PARAMS, SND_R.PCM_RELEASE, SND_R.PCM_START, SND_R.PCM_STOP]);

/** A line that names a device type but no device: the device is the one its context tells. */
const names = (deviceId: number, model: string, context: 'chain' | 'setup'): Fields => ({ kind: 'device', device_id: deviceId, name: model, context }) as Fields;

const gpu = (type: number, extra: (a: Args) => Partial<Extract<Event, { kind: 'gpu.cmd' }>> = () => ({})): Mapper =>
  (a) => ({ kind: 'gpu.cmd', phase: 'process', type, ...extra(a) });

export const QEMU_EVENTS: Record<string, QemuEventSpec> = {
  // ---- virtio-mmio transport (hw/virtio/trace-events)
  virtio_mmio_read: {
    decl: ['virtio_mmio_read(uint64_t offset) "virtio_mmio_read offset 0x%" PRIx64'],
    map: (a) => ({ kind: 'mmio.read', offset: n(a.offset) }),
  },
  virtio_mmio_write_offset: {
    decl: ['virtio_mmio_write_offset(uint64_t offset, uint64_t value) "virtio_mmio_write offset 0x%" PRIx64 " value 0x%" PRIx64'],
    map: (a) => ({ kind: 'mmio.write', offset: n(a.offset), value: n(a.value) }),
  },
  virtio_mmio_queue_write: {
    decl: ['virtio_mmio_queue_write(uint64_t value, int max_size) "mmio_queue write 0x%" PRIx64 " max %d"'],
    map: (a) => ({ kind: 'vq.size_max', max: n(a.max_size) }),
  },
  virtio_mmio_setting_irq: {
    decl: ['virtio_mmio_setting_irq(int level) "virtio_mmio setting IRQ %d"'],
    map: (a) => ({ kind: 'irq.line', level: n(a.level) === 0 ? 0 : 1 }),
  },
  // the GuestPageSize write itself is logged as virtio_mmio_write_offset 0x28
  virtio_mmio_guest_page: { decl: ['virtio_mmio_guest_page(uint64_t size, int shift) "guest page size 0x%" PRIx64 " shift %d"'], map: null },

  // ---- generic virtio (hw/virtio/trace-events)
  virtio_set_status: {
    decl: ['virtio_set_status(void *vdev, uint8_t val) "vdev %p val %u"'],
    map: (a) => ({ kind: 'status', dev: s(a.vdev), value: n(a.val) }),
  },
  virtio_queue_notify: {
    decl: ['virtio_queue_notify(void *vdev, int n, void *vq) "vdev %p n %d vq %p"'],
    map: (a) => ({ kind: 'notify.avail', dev: s(a.vdev), queue: n(a.n), vq: s(a.vq) }),
  },
  virtqueue_alloc_element: {
    decl: ['virtqueue_alloc_element(void *elem, size_t sz, unsigned in_num, unsigned out_num) "elem %p size %zd in_num %u out_num %u"'],
    map: null, // virtqueue_pop follows with the same element and the queue
  },
  virtqueue_pop: {
    decl: ['virtqueue_pop(void *vq, void *elem, unsigned int in_num, unsigned int out_num) "vq %p elem %p in_num %u out_num %u"'],
    map: (a) => ({ kind: 'vq.pop', vq: s(a.vq), elem: s(a.elem), in_num: n(a.in_num), out_num: n(a.out_num) }),
  },
  virtqueue_fill: {
    decl: ['virtqueue_fill(void *vq, const void *elem, unsigned int len, unsigned int idx) "vq %p elem %p len %u idx %u"'],
    map: (a) => ({ kind: 'vq.fill', vq: s(a.vq), elem: s(a.elem), len: n(a.len), idx: n(a.idx) }),
  },
  virtqueue_flush: {
    decl: ['virtqueue_flush(void *vq, unsigned int count) "vq %p count %u"'],
    map: (a) => ({ kind: 'vq.flush', vq: s(a.vq), count: n(a.count) }),
  },
  virtio_notify: {
    decl: ['virtio_notify(void *vdev, void *vq) "vdev %p vq %p"'],
    map: (a) => ({ kind: 'notify.used', dev: s(a.vdev), vq: s(a.vq), via: 'irq' }),
  },
  virtio_notify_irqfd: {
    decl: ['virtio_notify_irqfd(void *vdev, void *vq) "vdev %p vq %p"'],
    map: (a) => ({ kind: 'notify.used', dev: s(a.vdev), vq: s(a.vq), via: 'irqfd' }),
  },
  virtio_notify_irqfd_deferred_fn: { decl: ['virtio_notify_irqfd_deferred_fn(void *vdev, void *vq) "vdev %p vq %p"'], map: null },

  // ---- virtio-pci (the notification itself is logged by virtio_queue_notify / virtio_notify*)
  virtio_pci_notify: { decl: ['virtio_pci_notify(uint16_t vector) "virtio_pci_notify vec 0x%x"'], map: null },
  // writes to the modern interface's notify capability (the legacy I/O BAR's notify is not logged);
  // the virtio_queue_notify that follows names the device
  virtio_pci_notify_write: {
    decl: ['virtio_pci_notify_write(uint64_t addr, uint64_t val, unsigned int size) "0x%" PRIx64" = 0x%" PRIx64 " (%d)"'],
    map: (a) => ({ kind: 'pci.notify', addr: n(a.addr), value: n(a.val) }),
  },
  virtio_pci_notify_write_pio: {
    decl: ['virtio_pci_notify_write_pio(uint64_t addr, uint64_t val, unsigned int size) "0x%" PRIx64" = 0x%" PRIx64 " (%d)"'],
    map: (a) => ({ kind: 'pci.notify', addr: n(a.addr), value: n(a.val) }),
  },
  msix_write_config: {
    decl: ['msix_write_config(char *name, bool enabled, bool masked) "dev %s enabled %d masked %d"'],
    map: (a) => ({ kind: 'pci.msix', name: s(a.name), enabled: n(a.enabled) !== 0, masked: n(a.masked) !== 0 }),
  },

  // ---- virtio-blk (hw/block/trace-events): req is the element popped for the request
  virtio_blk_handle_read: {
    decl: ['virtio_blk_handle_read(void *vdev, void *req, uint64_t sector, size_t nsectors) "vdev %p req %p sector %"PRIu64" nsectors %zu"'],
    map: (a) => ({ kind: 'blk.submit', dev: s(a.vdev), req: s(a.req), op: 'read', sector: n(a.sector), nsectors: n(a.nsectors) }),
  },
  virtio_blk_handle_write: {
    decl: ['virtio_blk_handle_write(void *vdev, void *req, uint64_t sector, size_t nsectors) "vdev %p req %p sector %"PRIu64" nsectors %zu"'],
    map: (a) => ({ kind: 'blk.submit', dev: s(a.vdev), req: s(a.req), op: 'write', sector: n(a.sector), nsectors: n(a.nsectors) }),
  },
  virtio_blk_rw_complete: {
    decl: ['virtio_blk_rw_complete(void *vdev, void *req, int ret) "vdev %p req %p ret %d"'],
    map: (a) => ({ kind: 'blk.backend', dev: s(a.vdev), req: s(a.req), ret: n(a.ret) }),
  },
  virtio_blk_req_complete: {
    decl: ['virtio_blk_req_complete(void *vdev, void *req, int status) "vdev %p req %p status %d"'],
    map: (a) => ({ kind: 'blk.complete', dev: s(a.vdev), req: s(a.req), status: n(a.status) }),
  },
  virtio_blk_submit_multireq: {
    decl: ['virtio_blk_submit_multireq(void *vdev, void *mrb, int start, int num_reqs, uint64_t offset, size_t size, bool is_write) "vdev %p mrb %p start %d num_reqs %d offset %"PRIu64" size %zu is_write %d"'],
    map: null,
  },
  virtio_blk_data_plane_start: { decl: ['virtio_blk_data_plane_start(void *s) "dataplane %p"'], map: null },
  virtio_blk_data_plane_stop: { decl: ['virtio_blk_data_plane_stop(void *s) "dataplane %p"'], map: null },

  // ---- virtio-rng: the rng pointer is the device's vdev
  virtio_rng_request: {
    decl: ['virtio_rng_request(void *rng, size_t size, unsigned quota) "rng %p: %zd bytes requested, %u bytes quota left"'],
    map: (a) => ({ kind: 'rng.request', dev: s(a.rng), bytes: n(a.size), quota: n(a.quota) }),
    provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' },
  },
  virtio_rng_pushed: {
    decl: ['virtio_rng_pushed(void *rng, size_t len) "rng %p: %zd bytes pushed"'],
    map: (a) => ({ kind: 'rng.push', dev: s(a.rng), bytes: n(a.len) }),
    provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' },
  },
  virtio_rng_popped: { decl: ['virtio_rng_popped(void *rng) "rng %p: elem popped"'], map: null, provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' } },
  virtio_rng_guest_not_ready: { decl: ['virtio_rng_guest_not_ready(void *rng) "rng %p: guest not ready"'], map: null, provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' } },
  virtio_rng_cpu_is_stopped: { decl: ['virtio_rng_cpu_is_stopped(void *rng, int size) "rng %p: cpu is stopped, dropping %d bytes"'], map: null, provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' } },
  virtio_rng_vm_state_change: { decl: ['virtio_rng_vm_state_change(void *rng, int running, int state) "rng %p: state change to running %d state %d"'], map: null, provesType: { arg: 'rng', deviceId: 4, model: 'virtio-rng' } },

  // ---- virtio-serial / console (hw/char/trace-events): these name no device
  virtio_serial_send_control_event: {
    decl: ['virtio_serial_send_control_event(unsigned int port, uint16_t event, uint16_t value) "port %u, event %u, value %u"'],
    map: (a) => ({ kind: 'console.control', dir: 'to_driver', port: n(a.port), event: n(a.event), value: n(a.value) }),
  },
  virtio_serial_handle_control_message: {
    decl: ['virtio_serial_handle_control_message(uint16_t event, uint16_t value) "event %u, value %u"'],
    map: (a) => ({ kind: 'console.control', dir: 'to_device', event: n(a.event), value: n(a.value) }),
  },
  // names the port of the control message logged just before it
  virtio_serial_handle_control_message_port: { decl: ['virtio_serial_handle_control_message_port(unsigned int port) "port %u"'], map: null },
  virtio_serial_throttle_port: { decl: ['virtio_serial_throttle_port(unsigned int port, bool throttle) "port %u, throttle %d"'], map: null },
  virtio_console_flush_buf: {
    decl: ['virtio_console_flush_buf(unsigned int port, size_t len, ssize_t ret) "port %u, in_len %zu, out_len %zd"'],
    map: (a) => (n(a.ret) < 0 ? null : { kind: 'console.data', dir: 'to_host', port: n(a.port), bytes: n(a.ret) }),
  },
  virtio_console_chr_read: {
    decl: ['virtio_console_chr_read(unsigned int port, int size) "port %u, size %d"'],
    map: (a) => ({ kind: 'console.data', dir: 'to_guest', port: n(a.port), bytes: n(a.size) }),
  },
  virtio_console_chr_event: { decl: ['virtio_console_chr_event(unsigned int port, int event) "port %u, event %d"'], map: null },

  // ---- virtio-gpu (hw/display/trace-events): commands as the device processes them; no vdev
  // logged when features are set: at realize and while the driver negotiates them; virgl is the device's offer
  virtio_gpu_features: { decl: ['virtio_gpu_features(bool virgl) "virgl %d"'], map: (a) => ({ ...names(DEVICE_ID.gpu, 'virtio-gpu', 'setup'), virgl: n(a.virgl) !== 0 }) as Fields },
  virtio_gpu_cmd_get_display_info: { decl: ['virtio_gpu_cmd_get_display_info(void) ""'], map: gpu(GPU_CMD.GET_DISPLAY_INFO) },
  virtio_gpu_cmd_get_edid: {
    decl: ['virtio_gpu_cmd_get_edid(uint32_t scanout) "scanout %d"'],
    map: gpu(GPU_CMD.GET_EDID, (a) => ({ scanout: n(a.scanout) })),
  },
  virtio_gpu_cmd_set_scanout: {
    decl: ['virtio_gpu_cmd_set_scanout(uint32_t id, uint32_t res, uint32_t w, uint32_t h, uint32_t x, uint32_t y) "id %d, res 0x%x, w %d, h %d, x %d, y %d"'],
    map: gpu(GPU_CMD.SET_SCANOUT, (a) => ({ scanout: n(a.id), resource: n(a.res), width: n(a.w), height: n(a.h), x: n(a.x), y: n(a.y) })),
  },
  virtio_gpu_cmd_set_scanout_blob: {
    decl: ['virtio_gpu_cmd_set_scanout_blob(uint32_t id, uint32_t res, uint32_t w, uint32_t h, uint32_t x, uint32_t y) "id %d, res 0x%x, w %d, h %d, x %d, y %d"'],
    map: gpu(GPU_CMD.SET_SCANOUT_BLOB, (a) => ({ scanout: n(a.id), resource: n(a.res), width: n(a.w), height: n(a.h), x: n(a.x), y: n(a.y) })),
  },
  virtio_gpu_cmd_res_create_2d: {
    decl: ['virtio_gpu_cmd_res_create_2d(uint32_t res, uint32_t fmt, uint32_t w, uint32_t h) "res 0x%x, fmt 0x%x, w %d, h %d"'],
    map: gpu(GPU_CMD.RESOURCE_CREATE_2D, (a) => ({ resource: n(a.res), width: n(a.w), height: n(a.h) })),
  },
  virtio_gpu_cmd_res_create_3d: {
    decl: ['virtio_gpu_cmd_res_create_3d(uint32_t res, uint32_t fmt, uint32_t w, uint32_t h, uint32_t d) "res 0x%x, fmt 0x%x, w %d, h %d, d %d"'],
    map: gpu(GPU_CMD.RESOURCE_CREATE_3D, (a) => ({ resource: n(a.res), width: n(a.w), height: n(a.h) })),
  },
  virtio_gpu_cmd_res_create_blob: {
    decl: ['virtio_gpu_cmd_res_create_blob(uint32_t res, uint64_t size) "res 0x%x, size %" PRId64'],
    map: gpu(GPU_CMD.RESOURCE_CREATE_BLOB, (a) => ({ resource: n(a.res) })),
  },
  virtio_gpu_cmd_res_map_blob: {
    decl: ['virtio_gpu_cmd_res_map_blob(uint32_t res, void *vmr, void *mr) "res 0x%x, vmr %p, mr %p"'],
    map: gpu(GPU_CMD.RESOURCE_MAP_BLOB, (a) => ({ resource: n(a.res) })),
  },
  virtio_gpu_cmd_res_unmap_blob: {
    decl: ['virtio_gpu_cmd_res_unmap_blob(uint32_t res, void *mr, int mapping_state) "res 0x%x, mr %p, mapping_state %d"'],
    map: gpu(GPU_CMD.RESOURCE_UNMAP_BLOB, (a) => ({ resource: n(a.res) })),
  },
  virtio_gpu_cmd_res_unref: { decl: ['virtio_gpu_cmd_res_unref(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.RESOURCE_UNREF, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_back_attach: { decl: ['virtio_gpu_cmd_res_back_attach(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.RESOURCE_ATTACH_BACKING, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_back_detach: { decl: ['virtio_gpu_cmd_res_back_detach(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.RESOURCE_DETACH_BACKING, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_xfer_toh_2d: { decl: ['virtio_gpu_cmd_res_xfer_toh_2d(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.TRANSFER_TO_HOST_2D, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_xfer_toh_3d: { decl: ['virtio_gpu_cmd_res_xfer_toh_3d(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.TRANSFER_TO_HOST_3D, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_xfer_fromh_3d: { decl: ['virtio_gpu_cmd_res_xfer_fromh_3d(uint32_t res) "res 0x%x"'], map: gpu(GPU_CMD.TRANSFER_FROM_HOST_3D, (a) => ({ resource: n(a.res) })) },
  virtio_gpu_cmd_res_flush: {
    decl: ['virtio_gpu_cmd_res_flush(uint32_t res, uint32_t w, uint32_t h, uint32_t x, uint32_t y) "res 0x%x, w %d, h %d, x %d, y %d"'],
    map: gpu(GPU_CMD.RESOURCE_FLUSH, (a) => ({ resource: n(a.res), width: n(a.w), height: n(a.h), x: n(a.x), y: n(a.y) })),
  },
  virtio_gpu_cmd_ctx_create: { decl: ['virtio_gpu_cmd_ctx_create(uint32_t ctx, const char *name) "ctx 0x%x, name %s"'], map: gpu(GPU_CMD.CTX_CREATE, (a) => ({ ctx: n(a.ctx) })) },
  virtio_gpu_cmd_ctx_destroy: { decl: ['virtio_gpu_cmd_ctx_destroy(uint32_t ctx) "ctx 0x%x"'], map: gpu(GPU_CMD.CTX_DESTROY, (a) => ({ ctx: n(a.ctx) })) },
  virtio_gpu_cmd_ctx_res_attach: {
    decl: ['virtio_gpu_cmd_ctx_res_attach(uint32_t ctx, uint32_t res) "ctx 0x%x, res 0x%x"'],
    map: gpu(GPU_CMD.CTX_ATTACH_RESOURCE, (a) => ({ ctx: n(a.ctx), resource: n(a.res) })),
  },
  virtio_gpu_cmd_ctx_res_detach: {
    decl: ['virtio_gpu_cmd_ctx_res_detach(uint32_t ctx, uint32_t res) "ctx 0x%x, res 0x%x"'],
    map: gpu(GPU_CMD.CTX_DETACH_RESOURCE, (a) => ({ ctx: n(a.ctx), resource: n(a.res) })),
  },
  virtio_gpu_cmd_ctx_submit: { decl: ['virtio_gpu_cmd_ctx_submit(uint32_t ctx, uint32_t size) "ctx 0x%x, size %d"'], map: gpu(GPU_CMD.SUBMIT_3D, (a) => ({ ctx: n(a.ctx) })) },
  virtio_gpu_update_cursor: {
    decl: ['virtio_gpu_update_cursor(uint32_t scanout, uint32_t x, uint32_t y, const char *type, uint32_t res) "scanout %d, x %d, y %d, %s, res 0x%x"'],
    map: (a) => ({
      kind: 'gpu.cmd', phase: 'process', queue: 1,
      type: s(a.type) === 'move' ? GPU_CMD.MOVE_CURSOR : GPU_CMD.UPDATE_CURSOR,
      scanout: n(a.scanout), x: n(a.x), y: n(a.y), resource: n(a.res),
    }),
  },
  virtio_gpu_fence_ctrl: { decl: ['virtio_gpu_fence_ctrl(uint64_t fence, uint32_t type) "fence 0x%" PRIx64 ", type 0x%x"'], map: null },
  virtio_gpu_fence_resp: { decl: ['virtio_gpu_fence_resp(uint64_t fence) "fence 0x%" PRIx64'], map: null },

  // ---- virtio-scsi (hw/scsi/trace-events): no vdev; a request is logged right after its chain is taken
  virtio_scsi_cmd_req: {
    decl: ['virtio_scsi_cmd_req(int lun, uint32_t tag, uint8_t cmd) "virtio_scsi_cmd_req lun=%u tag=0x%x cmd=0x%x"'],
    map: () => names(DEVICE_ID.scsi, 'virtio-scsi', 'chain'),
  },
  virtio_scsi_tmf_req: {
    decl: ['virtio_scsi_tmf_req(int lun, uint32_t tag, int subtype) "virtio_scsi_tmf_req lun=%u tag=0x%x subtype=%d"'],
    map: () => names(DEVICE_ID.scsi, 'virtio-scsi', 'chain'),
  },
  virtio_scsi_an_req: {
    decl: ['virtio_scsi_an_req(int lun, uint32_t event_requested) "virtio_scsi_an_req lun=%u event_requested=0x%x"'],
    map: () => names(DEVICE_ID.scsi, 'virtio-scsi', 'chain'),
  },
  // responses may come long after the chain was taken (the backend completes them)
  virtio_scsi_cmd_resp: { decl: ['virtio_scsi_cmd_resp(int lun, uint32_t tag, int response, uint8_t status) "virtio_scsi_cmd_resp lun=%u tag=0x%x response=%d status=0x%x"'], map: null },
  virtio_scsi_tmf_resp: { decl: ['virtio_scsi_tmf_resp(int lun, uint32_t tag, int response) "virtio_scsi_tmf_resp lun=%u tag=0x%x response=%d"'], map: null },
  virtio_scsi_an_resp: { decl: ['virtio_scsi_an_resp(int lun, int response) "virtio_scsi_an_resp lun=%u response=%d"'], map: null },
  virtio_scsi_event: { decl: ['virtio_scsi_event(int lun, int event, int reason) "virtio_scsi_event lun=%u event=%d reason=%d"'], map: null },

  // ---- virtio-balloon (hw/virtio/trace-events): no vdev; inflate/deflate pages are logged while a chain is handled
  virtio_balloon_handle_output: {
    decl: ['virtio_balloon_handle_output(const char *name, uint64_t gpa) "section name: %s gpa: 0x%" PRIx64'],
    map: () => names(DEVICE_ID.balloon, 'virtio-balloon', 'chain'),
  },
  virtio_balloon_bad_addr: { decl: ['virtio_balloon_bad_addr(uint64_t gpa) "0x%" PRIx64'], map: () => names(DEVICE_ID.balloon, 'virtio-balloon', 'chain') },
  virtio_balloon_get_config: { decl: ['virtio_balloon_get_config(uint32_t num_pages, uint32_t actual) "num_pages: %d actual: %d"'], map: null },
  virtio_balloon_set_config: { decl: ['virtio_balloon_set_config(uint32_t actual, uint32_t oldactual) "actual: %d oldactual: %d"'], map: null },
  virtio_balloon_to_target: { decl: ['virtio_balloon_to_target(uint64_t target, uint32_t num_pages) "balloon target: 0x%" PRIx64 " num_pages: %d"'], map: null },

  // ---- virtio-input (hw/input/trace-events): names no device and follows no chain
  virtio_input_queue_full: { decl: ['virtio_input_queue_full(void) "queue full"'], map: null },

  // ---- virtio-sound (QEMU >= 8.2, hw/audio/trace-events)
  virtio_snd_realize: { decl: ['virtio_snd_realize(void *snd) "snd %p: realize"'], map: null, provesType: { arg: 'snd', deviceId: 25, model: 'virtio-sound' } },
  virtio_snd_unrealize: { decl: ['virtio_snd_unrealize(void *snd) "snd %p: unrealize"'], map: null, provesType: { arg: 'snd', deviceId: 25, model: 'virtio-sound' } },
  virtio_snd_get_features: {
    decl: ['virtio_snd_get_features(void *vdev, uint64_t features) "snd %p: get_features 0x%"PRIx64'],
    map: (a) => ({ kind: 'features', dev: s(a.vdev), side: 'device', value: hex(a.features) }),
    provesType: { arg: 'vdev', deviceId: 25, model: 'virtio-sound' },
  },
  virtio_snd_get_config: {
    decl: ['virtio_snd_get_config(void *vdev, uint32_t jacks, uint32_t streams, uint32_t chmaps) "snd %p: get_config jacks=%"PRIu32" streams=%"PRIu32" chmaps=%"PRIu32""'],
    map: (a) => ({ kind: 'snd.config', dev: s(a.vdev), jacks: n(a.jacks), streams: n(a.streams), chmaps: n(a.chmaps) }),
    provesType: { arg: 'vdev', deviceId: 25, model: 'virtio-sound' },
  },
  virtio_snd_handle_ctrl: { decl: ['virtio_snd_handle_ctrl(void *vdev, void *vq) "snd %p: handle ctrl event for queue %p"'], map: null, provesType: { arg: 'vdev', deviceId: 25, model: 'virtio-sound' } },
  // One snd.ctrl per request: the four requests below are logged again, with their stream, by an
  // event of their own; PREPARE is not, so its stream is left to the sound model.
  virtio_snd_handle_code: {
    decl: ['virtio_snd_handle_code(uint32_t val, const char *code) "ctrl code msg val = %"PRIu32" == %s"'],
    map: (a) => (SND_CODES_WITH_STREAM_EVENT.has(n(a.val)) ? null : { kind: 'snd.ctrl', code: n(a.val) }),
  },
  // logged once per stream of a PCM_INFO query; handle_code stands for the request
  virtio_snd_handle_pcm_info: { decl: ['virtio_snd_handle_pcm_info(uint32_t stream) "VIRTIO_SND_R_PCM_INFO called for stream %"PRIu32'], map: null },
  virtio_snd_handle_pcm_set_params: {
    decl: ['virtio_snd_handle_pcm_set_params(uint32_t stream) "VIRTIO_SND_PCM_SET_PARAMS called for stream %"PRIu32'],
    map: (a) => ({ kind: 'snd.ctrl', code: SND_R.PCM_SET_PARAMS, stream: n(a.stream) }),
  },
  virtio_snd_handle_pcm_start_stop: {
    decl: ['virtio_snd_handle_pcm_start_stop(const char *code, uint32_t stream) "%s called for stream %"PRIu32'],
    map: (a) => ({ kind: 'snd.ctrl', code: s(a.code) === 'VIRTIO_SND_R_PCM_STOP' ? SND_R.PCM_STOP : SND_R.PCM_START, stream: n(a.stream) }),
  },
  virtio_snd_handle_pcm_release: {
    decl: ['virtio_snd_handle_pcm_release(uint32_t stream) "VIRTIO_SND_PCM_RELEASE called for stream %"PRIu32'],
    map: (a) => ({ kind: 'snd.ctrl', code: SND_R.PCM_RELEASE, stream: n(a.stream) }),
  },
  // handle_code names CHMAP_INFO already
  virtio_snd_handle_chmap_info: { decl: ['virtio_snd_handle_chmap_info(void) "VIRTIO_SND_CHMAP_INFO called"'], map: null },
  virtio_snd_handle_event: { decl: ['virtio_snd_handle_event(void) "event queue callback called"'], map: null },
  virtio_snd_pcm_stream_flush: { decl: ['virtio_snd_pcm_stream_flush(uint32_t stream) "flushing stream %"PRIu32'], map: null },
  virtio_snd_handle_tx_xfer: { decl: ['virtio_snd_handle_tx_xfer(void) "tx queue callback called"'], map: null },
  virtio_snd_handle_rx_xfer: { decl: ['virtio_snd_handle_rx_xfer(void) "rx queue callback called"'], map: null },
  virtio_snd_vm_state_running: { decl: ['virtio_snd_vm_state_running(void) "vm state running"'], map: null },
  virtio_snd_vm_state_stopped: { decl: ['virtio_snd_vm_state_stopped(void) "vm state stopped"'], map: null },

  // ---- the host's audio clock (audio/trace-events)
  audio_timer_start: { decl: ['audio_timer_start(int interval) "interval %d ms"'], map: (a) => ({ kind: 'audio.timer', op: 'start', interval_ms: n(a.interval) }) },
  audio_timer_stop: { decl: ['audio_timer_stop(void) ""'], map: () => ({ kind: 'audio.timer', op: 'stop', interval_ms: 0 }) },
  audio_timer_delayed: { decl: ['audio_timer_delayed(int interval) "interval %d ms"'], map: (a) => ({ kind: 'audio.timer', op: 'delayed', interval_ms: n(a.interval) }) },
};
