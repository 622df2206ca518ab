/** The cross-layer analysis' tables (views over them: queries/xlayer.sql). Times: BIGINT ns on the run clock. */
import type { TableDecl } from '../../perf/tables.ts';
import { POINTS, type Point } from './layers.ts';

export type XlayerRequestRow = {
  req_id: number;
  vm: string;
  guest_dev: string | null;
  host_dev: string | null;
  disk: string;
  op: string;
  rwbs: string;
  sector: number;
  nsectors: number;
  token: string | null;
  elem: string | null;
  outcome: string;
  total_ns: number | null;
  guest_file: string | null;
  issue_line: number | null;
  done_line: number | null;
  host_file: string | null;
  pop_line: number | null;
} & { [K in Point as `t_${K}`]: number | null };

export interface XlayerLayerRow {
  req_id: number;
  vm: string;
  op: string;
  layer: string;
  ord: number;
  ns: number;
}

const T_DOC: Record<Point, string> = {
  insert: 'guest block_rq_insert',
  issue: 'guest block_rq_issue',
  add: 'guest vq_add_sgs (driver places the buffer)',
  kick: 'guest vq_notify',
  notify: 'QEMU virtio_queue_notify that followed the kick',
  pop: 'QEMU virtqueue_pop',
  backend: 'QEMU virtio_blk_rw_complete (flush, discard: the status write)',
  complete: 'QEMU virtio_blk_req_complete (status written)',
  used: 'QEMU virtqueue_flush publishing the used element (else its virtqueue_fill)',
  irq: 'QEMU virtio_notify / virtio_notify_irqfd after it',
  interrupt: 'guest vring_interrupt that found it',
  get_buf: 'guest vq_get_buf returning its token',
  done: 'guest block_rq_complete',
};

export const XLAYER_REQUESTS: TableDecl<XlayerRequestRow> = {
  name: 'xlayer_requests',
  doc: 'One row per guest block request, with every step both traces show of it.',
  columns: {
    req_id: { type: 'BIGINT', doc: 'request number in the run, from 0' },
    vm: { type: 'VARCHAR', doc: 'VM name' },
    guest_dev: { type: 'VARCHAR', doc: 'guest virtio device (virtioN), from the buffer the driver added' },
    host_dev: { type: 'VARCHAR', doc: 'QEMU device instance it maps to' },
    disk: { type: 'VARCHAR', doc: 'guest block device MAJ,MIN' },
    op: { type: 'VARCHAR', doc: 'read, write, flush, discard, secure_erase, other (from rwbs)' },
    rwbs: { type: 'VARCHAR', doc: "Linux rwbs text (R, W, WS, FF, DS, ...)" },
    sector: { type: 'BIGINT', doc: 'first 512-byte sector' },
    nsectors: { type: 'BIGINT', doc: 'sectors' },
    token: { type: 'VARCHAR', doc: "guest driver's buffer token" },
    elem: { type: 'VARCHAR', doc: "QEMU's element pointer" },
    outcome: { type: 'VARCHAR', doc: "'complete', or how it ended one-sided: 'never-popped', 'never-used', 'never-completed'; 'in-flight' at the end of a trace" },
    ...(Object.fromEntries(POINTS.map((p) => [`t_${p}`, { type: 'BIGINT', doc: `ns, ${T_DOC[p]}` }])) as { [K in Point as `t_${K}`]: { type: 'BIGINT'; doc: string } }),
    total_ns: { type: 'BIGINT', doc: 'ns from insert (else issue) to block_rq_complete; the layers add up to it' },
    guest_file: { type: 'VARCHAR', doc: 'guest trace' },
    issue_line: { type: 'BIGINT', doc: 'line of block_rq_issue' },
    done_line: { type: 'BIGINT', doc: 'line of block_rq_complete' },
    host_file: { type: 'VARCHAR', doc: 'host trace' },
    pop_line: { type: 'BIGINT', doc: 'line of virtqueue_pop' },
  },
};

export const XLAYER_LAYERS: TableDecl<XlayerLayerRow> = {
  name: 'xlayer_layers',
  doc: 'One row per request and layer it crossed (see src/analyses/xlayer/layers.ts).',
  columns: {
    req_id: { type: 'BIGINT', doc: 'xlayer_requests.req_id' },
    vm: { type: 'VARCHAR', doc: 'VM name' },
    op: { type: 'VARCHAR', doc: 'request op' },
    layer: { type: 'VARCHAR', doc: 'queue, driver, kick, exit, fetch, backend, complete, used, irq, inject, reap, end' },
    ord: { type: 'BIGINT', doc: 'position of the layer along the request, from 0' },
    ns: { type: 'BIGINT', doc: 'ns spent in the layer' },
  },
};
