import { Option, type Command } from 'commander';
import type { AlignmentRow } from '../analyses/alignment.ts';
import { planClocks, type GuestAlignment } from '../align/sources.ts';
import { InputError } from '../ingest/errors.ts';
import { Stats } from '../ingest/stats.ts';
import { openSources } from '../pipeline.ts';
import { ADAPTERS } from '../ingest/registry.ts';
import { duration } from '../format.ts';

const ppm = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)} ppm`;
const seconds = (ns: string) => `${ns.slice(0, -9)}.${ns.slice(-9)}`;

/** The full account of one guest trace's alignment. */
export function alignmentText(g: GuestAlignment): string {
  const a = g.alignment;
  const out = [`Guest ${g.guestFile} on host ${g.hostFiles.join(', ') || '(none)'} (VM ${g.vm})`];
  if (!a.available) {
    out.push(`  alignment unavailable: ${a.reason}`, '  the guest trace keeps its own clock: only per-side analyses apply');
    return out.join('\n') + '\n';
  }
  const u = a.unmatched;
  out.push(
    `  offset     ${a.offsetNs} ns (host − guest, at guest time ${seconds(a.refNs!)} s)`,
    `  drift      ${ppm(a.driftPpm!)}`,
    `  pairs      ${a.pairs.notify} kicks (vq_notify ↔ virtio_queue_notify), ${a.pairs.blk} block requests (block_rq_issue ↔ virtio_blk_handle_read/write)`,
    `  spread     kicks above the envelope: p50 ${duration(a.spread!.p50Ns)}, p90 ${duration(a.spread!.p90Ns)}, max ${duration(a.spread!.maxNs)}`,
    `  devices    ${a.deviceMap.map((d) => `${d.guest} = ${d.host} (${d.pairs} kicks)`).join(', ') || 'none mapped'}`,
    `  unmatched  guest: ${u.guest.notify} kicks, ${u.guest.blk} block requests; host: ${u.host.notify} kicks (${u.host.notifyOutsideGuest} outside the guest trace), ${u.host.blk} block requests`,
  );
  return out.join('\n') + '\n';
}

/** One line for the reports that rest on an alignment read back from a store. */
export function alignmentBrief(r: AlignmentRow): string {
  if (!r.available) return `clocks of ${r.guest_file}: alignment unavailable (${r.reason}); guest steps only`;
  return (
    `clocks of ${r.guest_file}: host = guest ${r.offset_ns! >= 0 ? '+' : '−'} ${duration(Math.abs(r.offset_ns!))}, drift ${ppm(r.drift_ppm!)}, ` +
    `from ${r.notify_pairs} kick and ${r.blk_pairs} block request pairs (spread p50 ${duration(r.spread_p50_ns)})`
  );
}

export function registerAlign(program: Command): void {
  program
    .command('align')
    .description("measure a guest trace's clock against the host trace of the same run: offset, drift, device map")
    .argument('<traces...>', 'the host trace (QEMU log) and the guest trace (ftrace) of one run')
    .option('--vm <name...>', 'VM name per trace file (default: the file name)')
    .addOption(new Option('--input-format <name>', 'read the traces as this format instead of sniffing').choices(ADAPTERS.map((a) => a.name)))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (traces: string[], o) => {
      if (traces.length < 2) throw new InputError('align takes the host trace and the guest trace of one run');
      const stats = new Stats();
      const plan = await planClocks(await openSources({ files: traces, vms: o.vm, format: o.inputFormat }, stats), o.vm ?? []);
      for (const p of stats.problems()) {
        const first = p.samples[0];
        process.stderr.write(`avpscope: warning: ${p.count} ${p.name}${first ? `; first: ${first.file}:${first.line}: ${first.detail}` : ''}\n`);
      }
      if (!plan) throw new InputError('none of the traces is a guest trace (Linux ftrace text): nothing to align', traces.at(-1));
      if (o.format === 'json') process.stdout.write(JSON.stringify({ tool: 'avpscope', report: 'align', alignments: plan.alignments }, null, 2) + '\n');
      else process.stdout.write(plan.alignments.map(alignmentText).join('\n'));
    });
}
