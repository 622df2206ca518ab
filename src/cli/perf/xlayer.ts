import { Option, type Command } from 'commander';
import { basename } from 'node:path';
import { LAYERS } from '../../analyses/xlayer/layers.ts';
import { xlayerPerf, type XlayerPerf } from '../../perf/xlayer.ts';
import { alignmentBrief } from '../align.ts';
import { duration, table } from '../../format.ts';
import { inputOptions, withInputs } from '../main.ts';

const OP_ORDER = ['read', 'write', 'flush', 'discard', 'secure_erase', 'other'];
const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);
const where = (file: string | null, line: number | null) => (file === null ? '-' : `${basename(file)}:${line ?? '?'}`);

function xlayerText(p: XlayerPerf): string {
  const out: string[] = [];
  if (p.alignments.length === 0 && p.latency.length === 0) out.push('no guest block request in the input: give the guest\'s ftrace with the host trace (avpscope perf xlayer HOST GUEST)');
  else if (p.alignments.length === 0) out.push("note: the guest's trace alone, no host trace aligned with it: 'inject' spans all from the kick to the guest's interrupt");
  for (const vm of new Set([...p.alignments.map((a) => a.vm), ...p.latency.map((r) => r.vm)])) {
    for (const a of p.alignments.filter((x) => x.vm === vm)) out.push(alignmentBrief(a));
    const devs = p.deviceMap.filter((d) => d.vm === vm).map((d) => `${d.guest_dev} = ${d.host_dev}`);
    if (devs.length > 0) out.push(`devices: ${devs.join(', ')}`);
    const ops = p.latency.filter((r) => r.vm === vm).sort((a, b) => OP_ORDER.indexOf(a.op) - OP_ORDER.indexOf(b.op));
    if (ops.length === 0) out.push(`VM ${vm}: no guest block request completed in the trace`);
    for (const op of ops) {
      const both = op.both_sides === op.n ? 'all seen by both sides' : `${op.both_sides} of them seen by both sides`;
      out.push('', `${op.op} (VM ${vm}): ${op.n} request${op.n === 1 ? '' : 's'}, ${both}; from block_rq_insert (else _issue) to block_rq_complete`);
      const layers = p.layers.filter((l) => l.vm === vm && l.op === op.op);
      out.push(
        table(
          ['layer', 'side', 'p50', 'p99', 'max', 'share'],
          [
            ...layers.map((l) => [l.layer, LAYERS.find((x) => x.name === l.layer)?.side ?? '', duration(l.p50_ns), duration(l.p99_ns), duration(l.max_ns), pct(l.share)]),
            ['total', '', duration(op.p50_ns), duration(op.p99_ns), duration(op.max_ns), '100%'],
          ],
        ),
      );
    }
    const lost = p.oneSided.filter((r) => r.vm === vm);
    const interrupts = p.findings.filter((f) => f.vm === vm && f.rule === 'xlayer.interrupt-sent');
    if (p.alignments.some((a) => a.vm === vm && a.available)) {
      out.push('', lost.length === 0 && interrupts.length === 0 ? 'One-sided: none (every request and interrupt seen by both sides)' : 'One-sided:');
      for (const r of lost) {
        out.push(`  ${r.outcome}: ${r.op} ${r.rwbs} sector ${r.sector} +${r.nsectors} of ${r.guest_dev ?? r.disk}, issued at ${where(r.guest_file, r.issue_line)}${r.pop_line !== null ? `, popped at ${where(r.host_file, r.pop_line)}` : ''}`);
      }
      for (const f of p.findings.filter((x) => x.vm === vm)) {
        out.push(`  ${f.rule} (${f.dev}): ${f.message}`);
        for (const e of f.evidence) out.push(`      ${where(e.file, e.line)}: ${e.raw ?? ''}`);
      }
    }
    out.push('');
  }
  if (p.latency.length > 0) {
    out.push('Layers (each ends at the step named; a step a trace does not show hands its time to the next layer shown):');
    for (const l of LAYERS) out.push(`  ${l.name.padEnd(9)}${l.what}`);
  }
  return out.join('\n') + '\n';
}

export function registerPerfXlayer(perf: Command): void {
  inputOptions(
    perf
      .command('xlayer')
      .description('block request latency per layer, guest and host: where the time of a read, write, flush and discard goes')
      .argument('<inputs...>', 'the host and guest traces of one run, or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store, dbPath }) => {
        const p = await xlayerPerf(store.conn, dbPath ?? 'the store');
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf xlayer', ...p }, null, 2) + '\n' : xlayerText(p));
      }),
    );
}
