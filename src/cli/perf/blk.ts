import { Option, type Command } from 'commander';
import { parseLimit } from '../../gate/budgets.ts';
import { InputError } from '../../ingest/errors.ts';
import { blkPerf, type BlkPerf } from '../../perf/blk.ts';
import { bytes, duration, table } from '../../format.ts';
import { inputOptions, withInputs } from '../main.ts';

function blkText(p: BlkPerf): string {
  const out: string[] = [];
  if (!p.timed) out.push('note: a trace carries no timestamps; latencies below are not measurable and read 0');
  if (p.latency.length === 0) return [...out, 'no block requests in the trace'].join('\n') + '\n';
  for (const dev of new Set(p.latency.map((r) => `${r.vm}\t${r.dev}`))) {
    const [vm, d] = dev.split('\t');
    const rows = p.latency.filter((r) => r.vm === vm && r.dev === d);
    out.push(`Block requests of ${d} (VM ${vm}), device side: pop → used element written`);
    out.push(
      table(
        ['op', 'n', 'p50', 'p90', 'p99', 'max', 'bytes'],
        rows.map((r) => [r.op + (r.inferred ? ' (inferred)' : ''), r.n, duration(r.p50_ns), duration(r.p90_ns), duration(r.p99_ns), duration(r.max_ns), bytes(r.bytes)]),
      ),
    );
    const dur = p.durability.find((x) => x.vm === vm && x.dev === d);
    if (dur) {
      out.push('', 'Time to durable (write completed → completion of the first FLUSH submitted after it; assumes a writeback cache):');
      out.push(
        table(
          ['writes', 'covered', 'never flushed', 'p50', 'p99', 'max'],
          [[dur.writes, dur.covered, dur.never_flushed, duration(dur.p50_ns), duration(dur.p99_ns), duration(dur.max_ns)]],
        ),
      );
      const w = p.durable_window.find((x) => x.vm === vm && x.dev === d);
      if (w) {
        const worst = w.worst_ns === Number.POSITIVE_INFINITY ? 'never (a write was never flushed)' : duration(w.worst_ns);
        out.push(`Durable within ${duration(w.window_ns)}: ${w.within} of ${w.writes} writes (${w.late} later, ${w.never_flushed} never flushed); worst ${worst}`);
      }
      const never = p.unflushed.filter((u) => u.vm === vm && u.dev === d);
      for (const u of never.slice(0, 10)) out.push(`  never flushed: sector ${u.sector ?? '?'} (+${u.nsectors ?? '?'}), completed at ${u.file}:${u.write_line}`);
      if (never.length > 10) out.push(`  ... and ${never.length - 10} more`);
    }
    const rate = p.flush_rate.find((x) => x.vm === vm && x.dev === d);
    if (rate) {
      const per = rate.flushes_per_mib === null ? 'nothing written' : `${rate.flushes_per_mib.toPrecision(3)} per MiB written`;
      out.push(`Flushes: ${rate.flushes} for ${bytes(rate.written_bytes)} written (${per})`);
    }
    const queues = p.queues.filter((q) => q.vm === vm && q.dev === d);
    if (new Set(queues.map((q) => q.queue)).size > 1) {
      out.push('', 'Per queue:');
      out.push(table(['queue', 'op', 'n', 'p50', 'p90', 'p99', 'max'], queues.map((q) => [q.queue, q.op, q.n, duration(q.p50_ns), duration(q.p90_ns), duration(q.p99_ns), duration(q.max_ns)])));
    }
    for (const q of p.depth.filter((x) => x.vm === vm && x.dev === d)) {
      const mean = q.mean_busy_depth === null ? '-' : q.mean_busy_depth.toFixed(2);
      out.push(`Queue ${q.queue} depth: at most ${q.max_depth} in flight, ${mean} on average while busy; busy ${duration(q.busy_ns)} of ${duration(q.span_ns)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function registerPerfBlk(perf: Command): void {
  inputOptions(
    perf
      .command('blk')
      .description('block request latency per op and queue, queue depth, flush latency and rate, time-to-durable per write')
      .argument('<inputs...>', 'trace files of one run, or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--durable-window <duration>', 'count the writes not durable within this time (e.g. 50ms)', '100ms')
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store }) => {
        const windowNs = parseLimit(o.durableWindow, 'ns');
        if (typeof windowNs === 'string') throw new InputError(`--durable-window: ${windowNs}`);
        const p = await blkPerf(store.conn, { durableWindowNs: windowNs });
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf blk', ...p }, null, 2) + '\n' : blkText(p));
      }),
    );
}
