/** The GPU command analysis' table (views over it: queries/gpu.sql). Times: BIGINT ns on the run clock. */
import type { TableDecl } from '../../perf/tables.ts';

export interface GpuCommandRow {
  cmd_id: number;
  vm: string;
  guest_dev: string | null;
  host_dev: string | null;
  queue: number | null;
  type: number;
  type_name: string;
  ctx: number | null;
  resource: number | null;
  scanout: number | null;
  resp_type: number | null;
  resp_name: string | null;
  seen: string;
  type_match: boolean | null;
  t_queue: number | null;
  t_kick: number | null;
  t_notify: number | null;
  t_pop: number | null;
  t_process: number | null;
  t_fill: number | null;
  t_used: number | null;
  t_irq: number | null;
  t_interrupt: number | null;
  t_get_buf: number | null;
  t_response: number | null;
  guest_ns: number | null;
  host_ns: number | null;
  guest_file: string | null;
  queue_line: number | null;
  host_file: string | null;
  process_line: number | null;
}

export const GPU_COMMANDS: TableDecl<GpuCommandRow> = {
  name: 'gpu_commands',
  doc: 'One row per virtio-gpu command, as the guest queued and answered it and as QEMU processed it.',
  columns: {
    cmd_id: { type: 'BIGINT', doc: 'command number in the run, from 0' },
    vm: { type: 'VARCHAR', doc: 'VM name' },
    guest_dev: { type: 'VARCHAR', doc: 'guest device (virtioN)' },
    host_dev: { type: 'VARCHAR', doc: 'QEMU device instance' },
    queue: { type: 'BIGINT', doc: '0 control queue, 1 cursor queue' },
    type: { type: 'BIGINT', doc: 'VIRTIO_GPU_CMD_* (the guest\'s when it traced the command, else QEMU\'s)' },
    type_name: { type: 'VARCHAR', doc: 'its name (GET_DISPLAY_INFO, TRANSFER_TO_HOST_2D, ...)' },
    ctx: { type: 'BIGINT', doc: '3D context (ctx_id); 0 for 2D and cursor commands, which belong to none; null: not known' },
    resource: { type: 'BIGINT', doc: 'resource id, where QEMU logs it' },
    scanout: { type: 'BIGINT', doc: "SET_SCANOUT: its scanout; RESOURCE_FLUSH: the scanout its resource was last set on (QEMU's SET_SCANOUTs)" },
    resp_type: { type: 'BIGINT', doc: 'VIRTIO_GPU_RESP_* the guest received' },
    resp_name: { type: 'VARCHAR', doc: 'its name (RESP_OK_NODATA, ...)' },
    seen: { type: 'VARCHAR', doc: "'both', 'guest' (QEMU's part not in its trace) or 'host' (the guest's not in its trace)" },
    type_match: { type: 'BOOLEAN', doc: 'both sides name the same command (null: seen by one side)' },
    t_queue: { type: 'BIGINT', doc: 'ns, guest virtio_gpu_cmd_queue' },
    t_kick: { type: 'BIGINT', doc: 'ns, guest vq_notify after it' },
    t_notify: { type: 'BIGINT', doc: 'ns, QEMU virtio_queue_notify that followed the kick' },
    t_pop: { type: 'BIGINT', doc: 'ns, QEMU virtqueue_pop' },
    t_process: { type: 'BIGINT', doc: 'ns, QEMU virtio_gpu_cmd_* (processing starts)' },
    t_fill: { type: 'BIGINT', doc: 'ns, QEMU virtqueue_fill (response written)' },
    t_used: { type: 'BIGINT', doc: 'ns, QEMU virtqueue_flush publishing it' },
    t_irq: { type: 'BIGINT', doc: 'ns, QEMU notification after it' },
    t_interrupt: { type: 'BIGINT', doc: 'ns, guest vring_interrupt before the driver took it' },
    t_get_buf: { type: 'BIGINT', doc: 'ns, guest vq_get_buf returning it' },
    t_response: { type: 'BIGINT', doc: 'ns, guest virtio_gpu_cmd_response' },
    guest_ns: { type: 'BIGINT', doc: 'ns, guest view: queued → response handled' },
    host_ns: { type: 'BIGINT', doc: 'ns, host view: popped → response written' },
    guest_file: { type: 'VARCHAR', doc: 'guest trace' },
    queue_line: { type: 'BIGINT', doc: 'line of virtio_gpu_cmd_queue' },
    host_file: { type: 'VARCHAR', doc: 'host trace' },
    process_line: { type: 'BIGINT', doc: 'line of the virtio_gpu_cmd_* event' },
  },
};
