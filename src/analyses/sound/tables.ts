/**
 * The sound analysis's tables. Times are BIGINT ns on the run clock, like the core tables. A stream
 * "session" is one configuration of a stream: from its SET_PARAMS to the next one that follows a
 * START (a SET_PARAMS repeated before any START stays in the same session).
 */
import type { TableDecl } from '../../perf/tables.ts';

type Nullable<T> = { [K in keyof T]: T[K] | null };

export interface PcmStreamRow {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  direction: string | null;
  inferred: boolean;
  t_first: number;
  t_last: number;
  buffer_bytes: number | null;
  period_bytes: number | null;
  period_frames: number | null;
  channels: number | null;
  format: number | null;
  rate_hz: number | null;
  nominal_period_ns: number | null;
  settled_period_ns: number | null;
  runs: number;
  periods_given: number;
  periods_returned: number;
  periods_flushed: number;
  bytes: number | null;
  underruns: number;
  overruns: number;
  starved_ns: number;
  bad_transitions: number;
  io_errors: number;
  file: string | null;
  line: number | null;
}

export type PcmPeriodRow = {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  run: number;
  ts: number;
  event: 'give' | 'return' | 'flush';
  level: number;
} & Nullable<{ tick: number; level_frames: number; bytes: number; latency_bytes: number; latency_frames: number; file: string; line: number }>;

export type PcmTickRow = {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  run: number;
  tick: number;
  ts: number;
  periods: number;
  level_before: number;
  level_after: number;
} & Nullable<{ interval_ns: number; timer_late_ms: number; file: string; line: number }>;

export type PcmXrunRow = {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  run: number;
  kind: 'underrun' | 'overrun';
  t_start: number;
  duration_ns: number;
  recovery: 'prepare' | 'refill' | 'resume' | 'none';
} & Nullable<{
  dry_running_ns: number;
  t_stop: number;
  t_release: number;
  t_prepare: number;
  t_restart: number;
  tick: number;
  file: string;
  line: number;
}>;

export type AudioTimerRow = {
  vm: string;
  ts: number;
  op: 'start' | 'stop' | 'delayed';
  interval_ms: number;
} & Nullable<{ nominal_ms: number; late_ms: number; file: string; line: number }>;

const where = {
  file: { type: 'VARCHAR', doc: 'trace file of the evidence line' },
  line: { type: 'BIGINT', doc: 'evidence line in that file' },
} as const;

const streamKey = {
  vm: { type: 'VARCHAR', doc: 'VM name' },
  dev: { type: 'VARCHAR', doc: 'sound device instance' },
  stream: { type: 'BIGINT', doc: 'PCM stream id' },
  session: { type: 'BIGINT', doc: 'configuration of the stream, from 1 (see pcm_streams)' },
} as const;

export const PCM_STREAMS: TableDecl<PcmStreamRow> = {
  name: 'pcm_streams',
  doc: 'One row per PCM stream session: one configuration of a stream, SET_PARAMS to the next SET_PARAMS after a START.',
  columns: {
    ...streamKey,
    direction: { type: 'VARCHAR', doc: "'output' (txq) or 'input' (rxq); null when no buffer moved" },
    inferred: { type: 'BOOLEAN', doc: 'buffers were given to this stream by direction and recency: the trace names no stream on them (QEMU)' },
    t_first: { type: 'BIGINT', doc: 'ns, first request of the session' },
    t_last: { type: 'BIGINT', doc: 'ns, last event of the session' },
    buffer_bytes: { type: 'BIGINT', doc: 'SET_PARAMS buffer_bytes, when logged' },
    period_bytes: { type: 'BIGINT', doc: 'SET_PARAMS period_bytes, when logged' },
    period_frames: { type: 'BIGINT', doc: 'frames per period, when the parameters are logged' },
    channels: { type: 'BIGINT', doc: 'SET_PARAMS channels, when logged' },
    format: { type: 'BIGINT', doc: 'SET_PARAMS VIRTIO_SND_PCM_FMT_* code, when logged' },
    rate_hz: { type: 'BIGINT', doc: 'frame rate, Hz, when logged' },
    nominal_period_ns: { type: 'BIGINT', doc: 'ns of one period by the parameters, when logged' },
    settled_period_ns: { type: 'BIGINT', doc: 'ns per period the device settled on: median over ticks of interval / periods returned' },
    runs: { type: 'BIGINT', doc: 'STARTs' },
    periods_given: { type: 'BIGINT', doc: 'buffers the device took (vq.pop on txq/rxq)' },
    periods_returned: { type: 'BIGINT', doc: 'buffers returned while RUNNING (played or recorded periods)' },
    periods_flushed: { type: 'BIGINT', doc: 'buffers returned while not RUNNING (e.g. completed at RELEASE)' },
    bytes: { type: 'BIGINT', doc: 'PCM bytes returned, where the trace shows them (rx used length, snd.xfer)' },
    underruns: { type: 'BIGINT', doc: 'underruns (see pcm_xruns)' },
    overruns: { type: 'BIGINT', doc: 'overruns (see pcm_xruns)' },
    starved_ns: { type: 'BIGINT', doc: 'ns, sum of the xruns\' durations' },
    bad_transitions: { type: 'BIGINT', doc: 'requests the PCM lifecycle does not allow after the previous one (§5.14.6.6)' },
    io_errors: { type: 'BIGINT', doc: 'I/O messages completed with VIRTIO_SND_S_IO_ERR (snd.xfer status)' },
    ...where,
  },
};

export const PCM_PERIODS: TableDecl<PcmPeriodRow> = {
  name: 'pcm_periods',
  doc: 'The queue level of each stream over time: one row per buffer handed to the device or returned by it.',
  columns: {
    ...streamKey,
    run: { type: 'BIGINT', doc: 'START ordinal in the session (0 before the first START)' },
    ts: { type: 'BIGINT', doc: 'ns' },
    event: { type: 'VARCHAR', doc: "'give' (device took a buffer), 'return' (returned while RUNNING), 'flush' (returned while not RUNNING)" },
    level: { type: 'BIGINT', doc: 'periods queued at the device after this event' },
    tick: { type: 'BIGINT', doc: 'returns: tick ordinal in the session (see pcm_ticks)' },
    level_frames: { type: 'BIGINT', doc: 'frames queued at the device after this event, when the parameters are logged (period-sized buffers)' },
    bytes: { type: 'BIGINT', doc: 'PCM bytes of a returned buffer, where shown' },
    latency_bytes: { type: 'BIGINT', doc: 'latency the device reported with the return (snd.xfer), bytes' },
    latency_frames: { type: 'BIGINT', doc: 'the same in frames, when the parameters are logged' },
    ...where,
  },
};

export const PCM_TICKS: TableDecl<PcmTickRow> = {
  name: 'pcm_ticks',
  doc: 'One row per device tick of a running stream: returns less than 1 ms apart are one tick.',
  columns: {
    ...streamKey,
    run: { type: 'BIGINT', doc: 'START ordinal in the session' },
    tick: { type: 'BIGINT', doc: 'ordinal in the session, from 1' },
    ts: { type: 'BIGINT', doc: 'ns, first return of the tick' },
    periods: { type: 'BIGINT', doc: 'periods returned in the tick' },
    level_before: { type: 'BIGINT', doc: 'periods queued before the tick' },
    level_after: { type: 'BIGINT', doc: 'periods queued right after the tick\'s last return' },
    interval_ns: { type: 'BIGINT', doc: 'ns since the previous tick of the run (the first: since START)' },
    timer_late_ms: { type: 'BIGINT', doc: 'ms the host audio timer was late (audio_timer_delayed) since the previous tick, if it was' },
    ...where,
  },
};

export const PCM_XRUNS: TableDecl<PcmXrunRow> = {
  name: 'pcm_xruns',
  doc: 'One row per underrun (output) or overrun (input).',
  columns: {
    ...streamKey,
    run: { type: 'BIGINT', doc: 'START ordinal of the run it happened in' },
    kind: { type: 'VARCHAR', doc: "'underrun' or 'overrun'" },
    t_start: { type: 'BIGINT', doc: 'ns: device ran dry (its last queued period returned), or the guest stopped the stream (capture)' },
    duration_ns: { type: 'BIGINT', doc: 'ns until audio flowed again (refill or restart) or the stream stopped for good' },
    recovery: { type: 'VARCHAR', doc: "'prepare' (STOP, [RELEASE,] PREPARE without SET_PARAMS, START), 'refill' (a buffer came while RUNNING), 'resume' (STOP, START), 'none' (the stream ended)" },
    dry_running_ns: { type: 'BIGINT', doc: 'ns the device was RUNNING with nothing queued (null: never)' },
    t_stop: { type: 'BIGINT', doc: 'ns, the STOP' },
    t_release: { type: 'BIGINT', doc: 'ns, RELEASE of the recovery' },
    t_prepare: { type: 'BIGINT', doc: 'ns, PREPARE of the recovery' },
    t_restart: { type: 'BIGINT', doc: 'ns, START of the recovery (or of the resume)' },
    tick: { type: 'BIGINT', doc: 'the tick that emptied the device (see pcm_ticks)' },
    ...where,
  },
};

export const AUDIO_TIMER: TableDecl<AudioTimerRow> = {
  name: 'audio_timer',
  doc: "The host's audio timer (QEMU audio_timer_*): starts, stops and late firings.",
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    ts: { type: 'BIGINT', doc: 'ns' },
    op: { type: 'VARCHAR', doc: "'start', 'stop' or 'delayed'" },
    interval_ms: { type: 'BIGINT', doc: 'start: the timer period; delayed: the interval it actually took, ms' },
    nominal_ms: { type: 'BIGINT', doc: 'delayed: the period of the last start, ms' },
    late_ms: { type: 'BIGINT', doc: 'delayed: interval_ms - nominal_ms' },
    ...where,
  },
};

export const SOUND_TABLES = [PCM_STREAMS, PCM_PERIODS, PCM_TICKS, PCM_XRUNS, AUDIO_TIMER];
