import { Option, type Command } from 'commander';
import { basename } from 'node:path';
import { audioPerf, type AudioPerf, type AudioXrunRow } from '../../perf/audio.ts';
import { duration, table } from '../../format.ts';
import { inputOptions, withInputs } from '../main.ts';

/** Seconds on the run clock: what the other times in the report are compared against. */
const at = (ns: number | null) => (ns === null ? '-' : `${(ns / 1e9).toFixed(3)} s`);
const where = (file: string | null, line: number | null) => (file === null ? '-' : `${basename(file)}:${line ?? '?'}`);
const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);

function recovery(x: AudioXrunRow): string {
  switch (x.recovery) {
    case 'prepare':
      return x.t_release !== null ? 'STOP, RELEASE, PREPARE, START' : 'STOP, PREPARE, START';
    case 'refill':
      return 'refilled while running';
    case 'resume':
      return 'STOP, START';
    case 'none':
      return 'none: the stream ended';
  }
}

function audioText(p: AudioPerf): string {
  const out: string[] = [];
  if (!p.timed) out.push('note: a trace carries no timestamps; times below are not measurable and read 0');
  if (p.streams.length === 0) return [...out, 'no PCM stream in the trace'].join('\n') + '\n';
  out.push('Times are seconds on the run clock (traces.origin_ns); a session is one configuration of a stream (SET_PARAMS).', '');
  for (const dev of new Set(p.streams.map((r) => `${r.vm}\t${r.dev}`))) {
    const [vm, d] = dev.split('\t');
    const mine = <T extends { vm: string; dev: string }>(rows: T[]) => rows.filter((r) => r.vm === vm && r.dev === d);
    out.push(`PCM streams of sound device ${d} (VM ${vm}), device side: periods given on txq/rxq and returned`);
    out.push(
      table(
        ['stream', 'session', 'dir', 'first', 'runs', 'period', 'periods', 'underruns', 'overruns', 'starved', 'bursts', 'jitter p50', 'p99', 'max', 'timer late'],
        mine(p.streams).map((s) => [
          s.stream, s.session, s.direction ?? '-', at(s.t_first), s.runs, duration(s.period_ns), s.periods_returned,
          s.underruns, s.overruns, s.starved_ns > 0 ? duration(s.starved_ns) : '-', s.bursts, duration(s.jitter_p50_ns), duration(s.jitter_p99_ns),
          duration(s.jitter_max_ns), ms(s.timer_late_max_ms),
        ]),
      ),
    );
    const xruns = mine(p.xruns);
    out.push('', xruns.length === 0 ? 'No underrun or overrun.' : 'Underruns and overruns (start: the device ran dry, or for capture the guest stopped the stream):');
    if (xruns.length > 0) {
      out.push(
        table(
          ['kind', 'stream/session', 'start', 'duration', 'dry running', 'guest recovery', 'until', 'burst', 'timer late', 'evidence'],
          xruns.map((x) => [
            x.kind, `${x.stream}/${x.session}`, at(x.t_start), duration(x.duration_ns), duration(x.dry_running_ns), recovery(x),
            at(x.end_ns), x.burst_periods === null ? '-' : `${x.burst_periods} periods`, ms(x.timer_late_ms), where(x.file, x.line),
          ]),
        ),
      );
    }
    const bursts = mine(p.bursts);
    out.push('', bursts.length === 0 ? 'No burst.' : 'Bursts (a tick returning two or more periods more than its interval accounts for):');
    if (bursts.length > 0) {
      out.push(
        table(
          ['stream/session', 'at', 'periods', 'expected', 'emptied the queue', 'timer late', 'evidence'],
          bursts.map((b) => [`${b.stream}/${b.session}`, at(b.ts), b.periods, b.expected, b.emptied ? 'yes' : 'no', ms(b.timer_late_ms), where(b.file, b.line)]),
        ),
      );
    }
    out.push('');
  }
  for (const vm of new Set(p.timer_delays.map((t) => t.vm))) {
    out.push(`Host audio timer fired late (VM ${vm}):`);
    out.push(
      table(
        ['at', 'interval', 'period', 'late', 'evidence'],
        p.timer_delays.filter((t) => t.vm === vm).map((t) => [at(t.ts), ms(t.interval_ms), ms(t.nominal_ms), ms(t.late_ms), where(t.file, t.line)]),
      ),
      '',
    );
  }
  return out.join('\n');
}

export function registerPerfAudio(perf: Command): void {
  inputOptions(
    perf
      .command('audio')
      .description('virtio-sound PCM streams: underruns, overruns, bursts, period jitter, host audio timer lateness')
      .argument('<inputs...>', 'trace files of one run, or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store, dbPath }) => {
        const p = await audioPerf(store.conn, dbPath ?? undefined);
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf audio', ...p }, null, 2) + '\n' : audioText(p));
      }),
    );
}
