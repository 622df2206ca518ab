import { Option, type Command } from 'commander';
import { blkPerf, type BlkPerf } from '../../perf/blk.ts';
import { bytes, duration, table } from '../format.ts';
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
      const never = p.unflushed.filter((u) => u.vm === vm && u.dev === d);
      for (const u of never.slice(0, 10)) out.push(`  never flushed: sector ${u.sector ?? '?'} (+${u.nsectors ?? '?'}), completed at ${u.file}:${u.write_line}`);
      if (never.length > 10) out.push(`  ... and ${never.length - 10} more`);
    }
    out.push('');
  }
  return out.join('\n');
}

export function registerPerfBlk(perf: Command): void {
  inputOptions(
    perf
      .command('blk')
      .description('block request latency per op, flush latency and time-to-durable per write')
      .argument('<inputs...>', 'trace files of one run, or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store }) => {
        const p = await blkPerf(store.conn);
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf blk', ...p }, null, 2) + '\n' : blkText(p));
      }),
    );
}
