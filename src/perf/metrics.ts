/**
 * The metrics budgets can name. Each is one SQL query over the store's views returning rows of
 * (labels..., value); a metric reduced from per-request samples also has the query for those
 * samples, so that a run can be compared with a baseline by a statistical test. A row is one
 * instance (a device, a queue, an op); a budget applies to every row its label filter selects.
 *
 * Adding a metric is one entry in METRICS (or one `distribution(...)` spread into it). A metric
 * whose views are not in a store, or that returns no rows, has no data there: the gate reports
 * it as such and never as passing. Counting metrics should therefore return a row with 0 for
 * each instance that had nothing to count (group a per-instance view), not no row at all.
 */
import type { Statistic } from './stats.ts';

/** ns: durations (budgets give ns/us/ms/s); ratio: 0..1 (budgets may give %); count, number: plain. */
export type Unit = 'ns' | 'ratio' | 'count' | 'number';

export interface Metric {
  name: string;
  unit: Unit;
  doc: string;
  /** the label columns, in order; every other column of `sql` is `value` */
  labels: readonly string[];
  /** tables and views the SQL reads: when one is missing the metric has no data */
  needs: readonly string[];
  /** rows (labels..., value) */
  sql: string;
  /** rows (labels..., sample) that `statistic` reduces to `value`, and what one sample is */
  samples?: { sql: string; statistic: Statistic; noun: string };
}

const QUANTILES = { p50: 0.5, p90: 0.9, p99: 0.99 } as const;

function aggregate(s: Statistic): string {
  if (s.kind === 'quantile') return `quantile_cont(sample, ${s.p})`;
  return s.kind === 'max' ? 'max(sample)' : 'avg(sample)';
}

/**
 * The p50/p90/p99/max metrics of one sample distribution, named `<base>.p50` etc. The value is
 * the store's own quantile of the samples (quantile_cont, the same definition as stats.ts), so
 * the figure a budget judges and the figure the baseline test resamples are one and the same.
 */
export function distribution(
  base: string,
  d: { unit: Unit; doc: string; labels: readonly string[]; needs: readonly string[]; samples: string; noun: string },
): Metric[] {
  const stats: [string, Statistic][] = [
    ...Object.entries(QUANTILES).map(([k, p]): [string, Statistic] => [k, { kind: 'quantile', p }]),
    ['max', { kind: 'max' }],
  ];
  const cols = d.labels.join(', ');
  return stats.map(([suffix, statistic]) => ({
    name: `${base}.${suffix}`,
    unit: d.unit,
    doc: `${d.doc}, ${suffix}`,
    labels: d.labels,
    needs: d.needs,
    sql: `SELECT ${cols}, ${aggregate(statistic)} AS value FROM (${d.samples}) GROUP BY ${cols} ORDER BY ${cols}`,
    samples: { sql: d.samples, statistic, noun: d.noun },
  }));
}

const BLK_DEV = ['vm', 'dev'] as const;

export const BLK_METRICS: Metric[] = [
  ...distribution('blk.latency', {
    unit: 'ns', doc: 'block request latency, pop to used element, per op', labels: [...BLK_DEV, 'op'], needs: ['blk_requests'], noun: 'requests',
    samples: 'SELECT vm, dev, op, CAST(latency_ns AS DOUBLE) AS sample FROM blk_requests',
  }),
  ...distribution('blk.queue.latency', {
    unit: 'ns', doc: 'block request latency per virtqueue, all ops', labels: [...BLK_DEV, 'queue'], needs: ['blk_requests'], noun: 'requests',
    samples: 'SELECT vm, dev, CAST(queue AS VARCHAR) AS queue, CAST(latency_ns AS DOUBLE) AS sample FROM blk_requests',
  }),
  ...distribution('blk.flush', {
    unit: 'ns', doc: 'FLUSH request latency', labels: BLK_DEV, needs: ['blk_requests'], noun: 'flushes',
    samples: "SELECT vm, dev, CAST(latency_ns AS DOUBLE) AS sample FROM blk_requests WHERE op = 'flush'",
  }),
  ...distribution('blk.time_to_durable', {
    unit: 'ns', doc: 'write completion to completion of the first FLUSH after it (never flushed: infinite)', labels: BLK_DEV,
    needs: ['blk_durable_wait'], noun: 'writes',
    samples: 'SELECT vm, dev, wait_ns AS sample FROM blk_durable_wait',
  }),
  // The guest view (queries/xlayer.sql, from the guest's ftrace): insert to block_rq_complete, as
  // the application's I/O sees it; dev is the QEMU device when the request was paired with it.
  ...distribution('blk.guest.latency', {
    unit: 'ns', doc: 'block request latency as the guest sees it, per op (guest view)', labels: [...BLK_DEV, 'op'],
    needs: ['xlayer_complete'], noun: 'requests',
    samples: 'SELECT vm, coalesce(host_dev, guest_dev) AS dev, op, CAST(total_ns AS DOUBLE) AS sample FROM xlayer_complete',
  }),
  {
    name: 'blk.never_flushed', unit: 'count', doc: 'completed writes no FLUSH followed', labels: BLK_DEV, needs: ['blk_durability'],
    sql: 'SELECT vm, dev, never_flushed AS value FROM blk_durability ORDER BY vm, dev',
  },
  {
    name: 'blk.flushes_per_mib', unit: 'number', doc: 'FLUSH requests per MiB written', labels: BLK_DEV, needs: ['blk_flush_rate'],
    sql: 'SELECT vm, dev, flushes_per_mib AS value FROM blk_flush_rate ORDER BY vm, dev',
  },
  {
    name: 'blk.queue.depth.max', unit: 'count', doc: 'most requests in flight at once on a queue', labels: [...BLK_DEV, 'queue'],
    needs: ['blk_queue_depth_summary'],
    sql: 'SELECT vm, dev, CAST(queue AS VARCHAR) AS queue, max_depth AS value FROM blk_queue_depth_summary ORDER BY vm, dev, queue',
  },
];

/** Over the sound analysis' views (queries/audio.sql): audio_metrics has one row per VM with a PCM stream. */
const perVm = (name: string, unit: Unit, column: string, doc: string): Metric => ({
  name, unit, doc, labels: ['vm'], needs: ['audio_metrics'], sql: `SELECT vm, ${column} AS value FROM audio_metrics ORDER BY vm`,
});

export const AUDIO_METRICS: Metric[] = [
  perVm('audio.underruns', 'count', 'underruns', 'PCM underruns, all stream sessions of the VM'),
  perVm('audio.overruns', 'count', 'overruns', 'PCM overruns, all stream sessions of the VM'),
  perVm('audio.bursts', 'count', 'bursts', 'device ticks that returned two or more periods more than their interval accounts for'),
  perVm('audio.starved', 'ns', 'starved_ns', 'total time of the underruns and overruns'),
  ...distribution('audio.jitter', {
    unit: 'ns', doc: '|tick interval - periods x period| per PCM stream session', labels: ['vm', 'dev', 'stream', 'session'],
    needs: ['audio_ticks'], noun: 'ticks',
    samples: 'SELECT vm, dev, CAST(stream AS VARCHAR) AS stream, CAST(session AS VARCHAR) AS session, CAST(abs(jitter_ns) AS DOUBLE) AS sample FROM audio_ticks WHERE jitter_ns IS NOT NULL',
  }),
];

/**
 * Over the GPU QoS views (queries/gpu_qos.sql, docs/gpu-qos.md): the QEMU view (virtqueue_pop → virtqueue_fill),
 * or the guest's (virtio_gpu_cmd_queue → virtio_gpu_cmd_response, needs its ftrace) where the name says guest.
 */
export const GPU_METRICS: Metric[] = [
  ...distribution('gpu.cmd', {
    unit: 'ns', doc: 'virtio-gpu command latency, QEMU view, per VM and queue', labels: ['vm', 'queue'], needs: ['gpu_cmd_sides'], noun: 'commands',
    samples: "SELECT vm, CAST(queue AS VARCHAR) AS queue, CAST(latency_ns AS DOUBLE) AS sample FROM gpu_cmd_sides WHERE side = 'host' AND latency_ns IS NOT NULL",
  }),
  ...distribution('gpu.guest.cmd', {
    unit: 'ns', doc: 'virtio-gpu command latency as the guest sees it, per VM and queue', labels: ['vm', 'queue'], needs: ['gpu_cmd_sides'], noun: 'commands',
    samples: "SELECT vm, CAST(queue AS VARCHAR) AS queue, CAST(latency_ns AS DOUBLE) AS sample FROM gpu_cmd_sides WHERE side = 'guest' AND latency_ns IS NOT NULL",
  }),
  {
    name: 'gpu.fairness', unit: 'ratio', doc: "Jain's index across VMs of served/submitted commands (demand-normalised: 1 when each VM is served what it asks)",
    labels: [], needs: ['gpu_fairness'], sql: "SELECT jain_demand AS value FROM gpu_fairness WHERE side = 'host'",
  },
  {
    name: 'gpu.fairness.device_time', unit: 'ratio', doc: "Jain's index across VMs of their device time (raw allocation: a 3:1 mix is 0.8)",
    labels: [], needs: ['gpu_fairness'], sql: "SELECT jain_device_time AS value FROM gpu_fairness WHERE side = 'host'",
  },
  {
    name: 'gpu.share', unit: 'ratio', doc: "the VM's share of all VMs' device time in their common window", labels: ['vm'], needs: ['gpu_share'],
    sql: "SELECT vm, share AS value FROM gpu_share WHERE side = 'host' ORDER BY vm",
  },
  {
    name: 'gpu.starvation.max', unit: 'ns', doc: 'longest wait with a GPU command outstanding while other VMs got completions', labels: ['vm'],
    needs: ['gpu_starvation'], sql: "SELECT vm, starved_ns AS value FROM gpu_starvation WHERE side = 'host' ORDER BY vm",
  },
  {
    name: 'gpu.guest.starvation.max', unit: 'ns', doc: 'the same, as the guests see their commands', labels: ['vm'],
    needs: ['gpu_starvation'], sql: "SELECT vm, starved_ns AS value FROM gpu_starvation WHERE side = 'guest' ORDER BY vm",
  },
  ...distribution('gpu.frame.interval', {
    unit: 'ns', doc: 'interval between RESOURCE_FLUSHes per VM and scanout', labels: ['vm', 'scanout'], needs: ['gpu_frames'], noun: 'frames',
    samples: 'SELECT vm, CAST(scanout AS VARCHAR) AS scanout, CAST(interval_ns AS DOUBLE) AS sample FROM gpu_frames WHERE interval_ns IS NOT NULL',
  }),
  {
    name: 'gpu.frames.missed', unit: 'count', doc: 'frame intervals longer than 1.5 refresh periods of 60 Hz (25 ms), per VM and scanout',
    labels: ['vm', 'scanout'], needs: ['gpu_frame_pacing'],
    sql: 'SELECT vm, CAST(scanout AS VARCHAR) AS scanout, missed AS value FROM gpu_frame_pacing(60) ORDER BY vm, scanout',
  },
];

/** Over the host KVM analysis (queries/kvm.sql): the host kernel's view, any KVM-based VMM. */
export const KVM_METRICS: Metric[] = [
  ...distribution('kvm.access', {
    unit: 'ns', doc: 'trapped register access served by the VMM, exit to userspace → vCPU resumed, per device (all registers)', labels: ['vm', 'dev'],
    needs: ['kvm_samples'], noun: 'accesses',
    samples: "SELECT vm, dev, CAST(dur_ns AS DOUBLE) AS sample FROM kvm_samples WHERE kind = 'access'",
  }),
  ...distribution('kvm.access.reg', {
    unit: 'ns', doc: 'the same per register (virtio-mmio names such as Status, virtio-pci common config names such as device_status)', labels: ['vm', 'dev', 'reg'],
    needs: ['kvm_samples'], noun: 'accesses',
    samples: "SELECT vm, dev, what AS reg, CAST(dur_ns AS DOUBLE) AS sample FROM kvm_samples WHERE kind = 'access'",
  }),
  ...distribution('kvm.doorbell', {
    unit: 'ns', doc: "queue notify write → the device's next interrupt for that queue, per queue", labels: ['vm', 'dev', 'queue'],
    needs: ['kvm_samples'], noun: 'doorbells',
    samples: "SELECT vm, dev, what AS queue, CAST(dur_ns AS DOUBLE) AS sample FROM kvm_samples WHERE kind = 'doorbell'",
  }),
  ...distribution('kvm.inject', {
    unit: 'ns', doc: "interrupt raised by the VMM → accepted by the guest's local APIC, per device", labels: ['vm', 'dev'],
    needs: ['kvm_samples'], noun: 'interrupts',
    samples: "SELECT vm, dev, CAST(dur_ns AS DOUBLE) AS sample FROM kvm_samples WHERE kind = 'inject'",
  }),
];

/** Every metric a budget can name. Analyses add theirs here. */
export const METRICS: readonly Metric[] = [...BLK_METRICS, ...AUDIO_METRICS, ...GPU_METRICS, ...KVM_METRICS];

export function findMetric(name: string): Metric | undefined {
  return METRICS.find((m) => m.name === name);
}
