/**
 * The clock alignment of each guest trace (measured by src/align before the replay), kept in the
 * store so that a report read from it later says what the cross-layer numbers rest on.
 */
import type { TableDecl } from '../perf/tables.ts';
import type { Analysis } from './analysis.ts';

export interface AlignmentRow {
  vm: string;
  guest_file: string;
  host_files: string;
  available: boolean;
  reason: string | null;
  offset_ns: number | null;
  drift_ppm: number | null;
  ref_ns: string | null;
  notify_pairs: number;
  blk_pairs: number;
  spread_p50_ns: number | null;
  spread_p90_ns: number | null;
  spread_max_ns: number | null;
  unmatched_guest_notify: number;
  unmatched_guest_blk: number;
  unmatched_host_notify: number;
  unmatched_host_notify_outside: number;
  unmatched_host_blk: number;
}

export interface DeviceMapRow {
  vm: string;
  guest_dev: string;
  host_dev: string;
  pairs: number;
}

export const ALIGNMENT: TableDecl<AlignmentRow> = {
  name: 'clock_alignment',
  doc: "One row per guest trace: its clock against its VM's host trace (host = guest + offset + drift·(guest − ref)).",
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    guest_file: { type: 'VARCHAR', doc: 'guest trace' },
    host_files: { type: 'VARCHAR', doc: 'JSON list of the host traces it was aligned with' },
    available: { type: 'BOOLEAN', doc: 'false when too few events pair up: the guest keeps its own clock' },
    reason: { type: 'VARCHAR', doc: 'why the alignment is unavailable' },
    offset_ns: { type: 'BIGINT', doc: 'host − guest clock, ns, at ref_ns' },
    drift_ppm: { type: 'DOUBLE', doc: 'guest clock rate error, ppm' },
    ref_ns: { type: 'VARCHAR', doc: 'guest clock ns (decimal text) where offset_ns holds' },
    notify_pairs: { type: 'BIGINT', doc: 'guest vq_notify paired with QEMU virtio_queue_notify' },
    blk_pairs: { type: 'BIGINT', doc: 'guest block_rq_issue paired with QEMU virtio_blk_handle_read/write' },
    spread_p50_ns: { type: 'BIGINT', doc: 'ns, median distance of the kick pairs above the envelope' },
    spread_p90_ns: { type: 'BIGINT', doc: 'ns, 90th percentile of it' },
    spread_max_ns: { type: 'BIGINT', doc: 'ns, largest' },
    unmatched_guest_notify: { type: 'BIGINT', doc: 'guest kicks without a QEMU partner' },
    unmatched_guest_blk: { type: 'BIGINT', doc: 'guest read/write issues without a QEMU partner' },
    unmatched_host_notify: { type: 'BIGINT', doc: 'QEMU kicks without a guest partner' },
    unmatched_host_notify_outside: { type: 'BIGINT', doc: 'of which outside the span of the guest trace' },
    unmatched_host_blk: { type: 'BIGINT', doc: 'QEMU reads/writes without a guest partner' },
  },
};

export const DEVICE_MAP: TableDecl<DeviceMapRow> = {
  name: 'guest_device_map',
  doc: 'Guest virtio devices (virtioN) and the QEMU device instance each is, found by pairing their kicks.',
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    guest_dev: { type: 'VARCHAR', doc: 'guest device (virtioN)' },
    host_dev: { type: 'VARCHAR', doc: 'QEMU device instance (vdev pointer)' },
    pairs: { type: 'BIGINT', doc: 'kicks paired between the two' },
  },
};

export const alignmentAnalysis: Analysis = {
  name: 'alignment',
  tables: [ALIGNMENT, DEVICE_MAP] as TableDecl<never>[],
  start(ctx, sink) {
    for (const g of ctx.alignments) {
      const a = g.alignment;
      sink.add(ALIGNMENT, {
        vm: g.vm, guest_file: g.guestFile, host_files: JSON.stringify(g.hostFiles), available: a.available, reason: a.reason,
        offset_ns: a.offsetNs, drift_ppm: a.driftPpm, ref_ns: a.refNs, notify_pairs: a.pairs.notify, blk_pairs: a.pairs.blk,
        spread_p50_ns: a.spread?.p50Ns ?? null, spread_p90_ns: a.spread?.p90Ns ?? null, spread_max_ns: a.spread?.maxNs ?? null,
        unmatched_guest_notify: a.unmatched.guest.notify, unmatched_guest_blk: a.unmatched.guest.blk,
        unmatched_host_notify: a.unmatched.host.notify, unmatched_host_notify_outside: a.unmatched.host.notifyOutsideGuest,
        unmatched_host_blk: a.unmatched.host.blk,
      });
      for (const d of a.deviceMap) sink.add(DEVICE_MAP, { vm: g.vm, guest_dev: d.guest, host_dev: d.host, pairs: d.pairs });
    }
    return { onEvent() {}, finish() {} };
  },
};
