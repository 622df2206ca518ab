/** The overview pane: the run's traces, VMs and devices, verdict counts by target, input problems. */
import { Box, Text } from 'ink';
import { useState } from 'react';
import type { Report } from '../api/report.ts';
import { verdictRank } from '../api/explore.ts';
import { fit } from './text.ts';
import { useListKeys } from './list.ts';
import { accent, verdictColor, type Theme } from './theme.ts';

export interface OverviewProps {
  report: Report;
  /** null while they are read */
  counts: { target: string; verdict: string; n: number }[] | null;
  theme: Theme;
  width: number;
  height: number;
  active: boolean;
}

type Line = { text: string; color?: string; bold?: boolean };

function countsText(rows: { verdict: string; n: number }[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.verdict, (by.get(r.verdict) ?? 0) + r.n);
  const verdicts = [...by.keys()].sort((a, b) => verdictRank(a) - verdictRank(b) || a.localeCompare(b));
  return verdicts.map((v) => `${by.get(v)} ${v}`).join(', ') || 'none';
}

function overviewLines(r: Report, counts: OverviewProps['counts'], t: Theme): Line[] {
  const out: Line[] = [];
  for (const s of r.sources) out.push({ text: `trace ${s.file}: ${s.format} (${s.view} view), VM ${s.vm}, ${s.lines} lines, ${s.events} events` });
  const fails = r.findings.filter((f) => f.verdict === 'FAIL');
  out.push({ text: `Verdicts: ${counts === null ? 'reading…' : countsText(counts)}`, bold: true, color: fails.length > 0 ? verdictColor(t, 'FAIL') : verdictColor(t, 'PASS') });
  for (const target of [...new Set((counts ?? []).map((c) => c.target))]) out.push({ text: `  ${target.padEnd(9)} ${countsText(counts!.filter((c) => c.target === target))}` });
  if (fails.length > 0) out.push({ text: `  e: jump to the first FAIL (${fails[0]!.rule}), then Enter: its evidence`, color: accent(t) });
  for (const vm of [...new Set([...r.sources.map((s) => s.vm), ...r.devices.map((d) => d.vm)])]) {
    out.push({ text: '' }, { text: `VM ${vm}`, bold: true });
    out.push({ text: `  ${fit('device', 15)} ${fit('type', 8)} ${fit('how known', 9)} ${fit('transport', 9)} ${fit('events', 6)} verdicts` });
    for (const d of r.devices.filter((x) => x.vm === vm)) {
      const mine = r.findings.filter((f) => f.vm === vm && f.dev === d.dev);
      const transport = d.transport === null ? '-' : d.transport + (d.mmio_version !== null ? ` v${d.mmio_version}` : '');
      // every verdict the store holds, known ones first: a verdict added later is counted too
      const verdicts = [...new Set(mine.map((f) => f.verdict as string))]
        .sort((a, b) => verdictRank(a) - verdictRank(b) || a.localeCompare(b))
        .map((v) => [v, mine.filter((f) => f.verdict === v).length] as const)
        .map(([v, n]) => `${n} ${v === 'NOT-OBSERVED' ? 'N-O' : v}`)
        .join(' ');
      out.push({
        text: `  ${fit(d.dev, 15)} ${fit(d.type ?? '?', 8)} ${fit(d.type_how ?? '-', 9)} ${fit(transport, 9)} ${fit(String(d.events), 6)} ${verdicts || '-'}`,
        color: mine.some((f) => f.verdict === 'FAIL') ? verdictColor(t, 'FAIL') : undefined,
      });
    }
  }
  const problems = r.stats.filter((s) => s.severity !== 'info' && s.count > 0);
  out.push({ text: '' }, { text: `Input problems: ${problems.length === 0 ? 'none' : ''}`, bold: true });
  for (const p of problems) {
    const s = p.samples[0];
    out.push({ text: `  ${p.count} ${p.name} (${p.severity})${s ? `, first ${s.file}:${s.line}: ${s.detail}` : ''}`, color: verdictColor(t, 'NOT-OBSERVED') });
  }
  const info = r.stats.filter((s) => s.severity === 'info' && s.count > 0);
  for (const p of info) out.push({ text: `  (info) ${p.count} ${p.name}` });
  return out;
}

export function Overview({ report, counts, theme, width, height, active }: OverviewProps) {
  const lines = overviewLines(report, counts, theme);
  const [top, setTop] = useState(0);
  useListKeys(top, setTop, Math.max(1, lines.length - height + 1), height, active);
  return (
    <Box flexDirection="column" height={height}>
      {lines.slice(top, top + height).map((l, i) => (
        <Text key={i} wrap="truncate" color={l.color} bold={l.bold}>
          {fit(l.text, width)}
        </Text>
      ))}
    </Box>
  );
}
