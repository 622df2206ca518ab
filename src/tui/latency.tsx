/**
 * Latency per device and op for block, GPU and audio: the percentile table, a histogram of the
 * selected row (log-spaced bins) and its latency over time as a sparkline (the largest in each
 * slice of the run); the audio view marks underruns (U) and overruns (O) under the time axis.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { Box, Text } from 'ink';
import { useKeys } from './input.ts';
import { useEffect, useRef, useState } from 'react';
import {
  LATENCY_SOURCES, latencyGroups, latencyGroupsQuery, latencyHistogram, latencyHistogramQuery, latencyOverTime, latencyOverTimeQuery,
  showQuery, xruns, type LatencyDomain, type LatencyGroup, type XrunMark,
} from '../api/explore.ts';
import { duration } from '../format.ts';
import { SqlView } from './sql-view.tsx';
import { useListKeys } from './list.ts';
import { bar, fit, right, seconds, sparkline, windowStart } from './text.ts';
import { accent, verdictColor, type Theme } from './theme.ts';

const DOMAINS: LatencyDomain[] = ['block', 'gpu', 'audio'];
const BINS = 6;

export interface LatencyProps {
  conn: DuckDBConnection;
  theme: Theme;
  width: number;
  height: number;
  active: boolean;
}

interface Detail {
  hist: { n: number; lo_ns: number }[];
  over: (number | null)[];
  marks: XrunMark[];
}

/** The U/O marks line: each xrun at the column of its start. */
function markLine(marks: XrunMark[], t0: number, t1: number, width: number): string {
  const cells = new Array(width).fill(' ');
  const span = Math.max(1, t1 - t0);
  for (const m of marks) {
    const i = Math.floor(((m.t_start - t0) / span) * width);
    if (i >= 0 && i < width) cells[i] = m.kind === 'overrun' ? 'O' : 'U';
  }
  return cells.join('');
}

export function Latency({ conn, theme, width, height, active }: LatencyProps) {
  const [domain, setDomain] = useState<LatencyDomain>('block');
  const [groups, setGroups] = useState<LatencyGroup[] | null>(null);
  const [cursor, setCursor] = useState(0);
  const [detail, setDetail] = useState<Detail | null>(null);
  const [sql, setSql] = useState(false);
  const spark = Math.max(10, width - 14);
  useEffect(() => {
    let live = true;
    setGroups(null);
    setCursor(0);
    void latencyGroups(conn, domain).then((g) => live && setGroups(g));
    return () => {
      live = false;
    };
  }, [conn, domain]);
  const g = groups?.[cursor];
  useEffect(() => {
    let live = true;
    setDetail(null);
    if (!g) return;
    void (async () => {
      const hist = await latencyHistogram(conn, domain, g, BINS);
      const over = await latencyOverTime(conn, domain, g, spark);
      const marks = domain === 'audio' ? (await xruns(conn, g.vm, g.dev)).filter((m) => `stream ${m.stream}` === g.op) : [];
      if (live) setDetail({ hist, over, marks });
    })();
    return () => {
      live = false;
    };
  }, [conn, domain, g?.vm, g?.dev, g?.op, spark]);
  const tableRows = Math.max(3, height - 13);
  useListKeys(cursor, setCursor, groups?.length ?? 0, tableRows, active && !sql);
  useKeys(
    (input, key) => {
      if (sql) {
        setSql(false);
        return;
      }
      const step = key.rightArrow || input === 'l' ? 1 : key.leftArrow || input === 'h' ? -1 : 0;
      if (step !== 0) setDomain(DOMAINS[(DOMAINS.indexOf(domain) + step + DOMAINS.length) % DOMAINS.length]!);
      else if (input === 's') setSql(true);
    },
    { isActive: active },
  );
  const offset = useRef(0);
  const top = (offset.current = windowStart(cursor, offset.current, tableRows, groups?.length ?? 0));
  const tabs = DOMAINS.map((d) => (d === domain ? `[${LATENCY_SOURCES[d].title}]` : ` ${LATENCY_SOURCES[d].title} `)).join(' ');
  if (sql) {
    const qs = [latencyGroupsQuery(domain), ...(g ? [latencyHistogramQuery(domain, g, BINS), latencyOverTimeQuery(domain, g, spark)] : [])];
    return <SqlView sql={qs.map(showQuery).join(';\n\n') + ';'} theme={theme} width={width} height={height} />;
  }
  const head = (
    <Text wrap="truncate" color={accent(theme)}>
      {fit(`${tabs}  ${LATENCY_SOURCES[domain].what}`, width)}
    </Text>
  );
  if (groups === null) return <Box flexDirection="column" height={height}>{head}<Text>reading the store…</Text></Box>;
  if (groups.length === 0) {
    return (
      <Box flexDirection="column" height={height}>
        {head}
        <Text>{`No ${LATENCY_SOURCES[domain].title} latency in this run (← → for the other kinds).`}</Text>
      </Box>
    );
  }
  const multiVm = new Set(groups.map((r) => r.vm)).size > 1;
  const opW = Math.min(24, Math.max(2, ...groups.map((r) => r.op.length)));
  const wide = width >= 90;
  const col = (s: string) => right(s, 8);
  const row = (vm: string, dev: string, op: string, n: string, q: string[]) =>
    `${multiVm ? fit(vm, 10) + ' ' : ''}${fit(dev, 15)} ${fit(op, opW)} ${right(n, 6)} ${q.filter((_, i) => wide || i !== 1).map(col).join(' ')}`;
  const lines: { text: string; inverse?: boolean; color?: string }[] = [];
  lines.push({ text: row('vm', 'device', 'op', 'n', ['p50', 'p90', 'p99', 'max']) });
  for (let i = top; i < Math.min(groups.length, top + tableRows); i++) {
    const r = groups[i]!;
    lines.push({ text: row(r.vm, r.dev, r.op, String(r.n), [r.p50_ns, r.p90_ns, r.p99_ns, r.max_ns].map(duration)), inverse: i === cursor });
  }
  while (lines.length < tableRows + 1) lines.push({ text: '' });
  if (g && detail) {
    lines.push({ text: `${g.op} of ${g.dev}: how many took at least (log-spaced bins)`, color: accent(theme) });
    const max = Math.max(...detail.hist.map((h) => h.n));
    for (const h of detail.hist) lines.push({ text: `${right(duration(h.lo_ns), 10)} ${right(String(h.n), 6)} ${bar(h.n, max, width - 20)}` });
    for (let i = detail.hist.length; i < BINS; i++) lines.push({ text: '' });
    lines.push({ text: `over time: the largest in each slice, ${seconds(g.t0)} s to ${seconds(g.t1)} s (max ${duration(g.max_ns)})`, color: accent(theme) });
    lines.push({ text: `${right('', 12)}${sparkline(detail.over)}` });
    if (domain === 'audio') {
      const n = (k: string) => detail.marks.filter((m) => m.kind === k).length;
      lines.push({ text: `${fit(`U ${n('underrun')} O ${n('overrun')}`, 12)}${markLine(detail.marks, g.t0, g.t1, spark)}`, color: detail.marks.length > 0 ? verdictColor(theme, 'FAIL') : undefined });
    }
  }
  return (
    <Box flexDirection="column" height={height}>
      {head}
      {lines.slice(0, height - 1).map((l, i) => (
        <Text key={i} wrap="truncate" inverse={l.inverse} color={l.color}>
          {fit(l.text, width)}
        </Text>
      ))}
    </Box>
  );
}
