/** PCM stream health, read from the store's views (queries/audio.sql). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { InputError } from '../ingest/errors.ts';
import { queryRows } from './store.ts';

export interface AudioStreamRow {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  direction: string | null;
  t_first: number;
  runs: number;
  period_ns: number | null;
  nominal_period_ns: number | null;
  periods_returned: number;
  underruns: number;
  overruns: number;
  xruns: number;
  starved_ns: number;
  bursts: number;
  ticks: number | null;
  jitter_p50_ns: number | null;
  jitter_p99_ns: number | null;
  jitter_max_ns: number | null;
  timer_late_max_ms: number | null;
  bad_transitions: number;
}

export interface AudioXrunRow {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  kind: 'underrun' | 'overrun';
  t_start: number;
  duration_ns: number;
  end_ns: number;
  dry_running_ns: number | null;
  recovery: 'prepare' | 'refill' | 'resume' | 'none';
  t_stop: number | null;
  t_release: number | null;
  t_prepare: number | null;
  t_restart: number | null;
  burst_periods: number | null;
  timer_late_ms: number | null;
  file: string | null;
  line: number | null;
}

export interface AudioBurstRow {
  vm: string;
  dev: string;
  stream: number;
  session: number;
  ts: number;
  periods: number;
  expected: number;
  emptied: boolean;
  timer_late_ms: number | null;
  file: string | null;
  line: number | null;
}

export interface AudioTimerDelayRow {
  vm: string;
  ts: number;
  interval_ms: number;
  nominal_ms: number | null;
  late_ms: number | null;
  file: string | null;
  line: number | null;
}

export interface AudioPerf {
  timed: boolean;
  streams: AudioStreamRow[];
  xruns: AudioXrunRow[];
  bursts: AudioBurstRow[];
  timer_delays: AudioTimerDelayRow[];
}

export async function audioPerf(conn: DuckDBConnection, where = 'the store'): Promise<AudioPerf> {
  const views = await queryRows(conn, "SELECT count(*) AS n FROM duckdb_views() WHERE view_name = 'audio_streams'");
  if (views[0]?.n === 0) throw new InputError('the store has no PCM stream tables: it was written before the sound analysis; ingest the traces again', where);
  const rows = async <T>(sql: string) => (await queryRows(conn, sql)) as unknown as T[];
  const timed = ((await queryRows(conn, 'SELECT bool_and(timed) AS t FROM traces'))[0]?.t ?? false) as boolean;
  return {
    timed,
    streams: await rows<AudioStreamRow>(
      `SELECT vm, dev, stream, session, direction, t_first, runs, period_ns, nominal_period_ns, periods_returned,
              underruns, overruns, xruns, starved_ns, bursts, ticks, jitter_p50_ns, jitter_p99_ns, jitter_max_ns,
              timer_late_max_ms, bad_transitions
       FROM audio_streams`,
    ),
    xruns: await rows<AudioXrunRow>(
      `SELECT vm, dev, stream, session, kind, t_start, duration_ns, end_ns, dry_running_ns, recovery, t_stop, t_release,
              t_prepare, t_restart, burst_periods, timer_late_ms, file, line
       FROM audio_xruns`,
    ),
    bursts: await rows<AudioBurstRow>('SELECT vm, dev, stream, session, ts, periods, expected, emptied, timer_late_ms, file, line FROM audio_bursts'),
    timer_delays: await rows<AudioTimerDelayRow>('SELECT * FROM audio_timer_delays'),
  };
}
