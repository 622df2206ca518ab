/**
 * A request span: one descriptor chain from the moment the device took it (pop) until it wrote
 * the used element (fill), with the device-specific meaning when known. Times are ns on the run's
 * clock; null where the trace does not show the step.
 */
export interface Span {
  vm: string;
  dev: string;
  queue: number | null;
  elem: string;
  /** blk: read/write/flush/...; gpu: command name; null when the device type has no request types */
  op: string | null;
  op_inferred: boolean;
  sector: number | null;
  nsectors: number | null;
  /** data bytes moved by the request, when known */
  bytes: number | null;
  /** device status of the request (blk: VIRTIO_BLK_S_*) */
  status: number | null;
  in_num: number;
  out_num: number;
  used_len: number;
  t_pop: number;
  t_submit: number | null;
  t_backend: number | null;
  t_complete: number | null;
  t_fill: number;
  t_used: number | null;
  t_notify: number | null;
  latency_ns: number;
  file: string | null;
  pop_line: number | null;
  fill_line: number | null;
}
