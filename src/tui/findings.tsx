/**
 * The findings list, a finding's evidence (the cited trace lines in context) and, under an
 * evidence line, the canonical events it became. The list's cursor and view live in the App, so
 * that `e` on the overview can land on a FAIL.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { Box, Text } from 'ink';
import { useKeys } from './input.ts';
import { useEffect, useRef, useState } from 'react';
import { evidenceContext, eventsAtLine, type EvidenceContext, type StoredEvent } from '../api/explore.ts';
import type { ReportFinding } from '../api/report.ts';
import { EventFields } from './event-fields.tsx';
import { moveCursor, useListKeys } from './list.ts';
import { fit, windowStart, wrap } from './text.ts';
import { accent, verdictColor, type Theme } from './theme.ts';

export type FindingsView = 'list' | 'evidence' | 'event';

/** Index of the next (dir 1) or previous (dir -1) FAIL from `from`, wrapping; -1 when there is none. */
export function nextFail(findings: ReportFinding[], from: number, dir: 1 | -1): number {
  const n = findings.length;
  for (let i = 1; i <= n; i++) {
    const j = (((from + dir * i) % n) + n) % n;
    if (findings[j]!.verdict === 'FAIL') return j;
  }
  return -1;
}

export interface FindingsProps {
  conn: DuckDBConnection;
  findings: ReportFinding[];
  cursor: number;
  setCursor: (c: number) => void;
  view: FindingsView;
  setView: (v: FindingsView) => void;
  theme: Theme;
  width: number;
  height: number;
  active: boolean;
}

export function Findings(p: FindingsProps) {
  const { findings, cursor, setCursor, view, setView, theme, width, height, active } = p;
  useListKeys(cursor, setCursor, findings.length, height - 1, active && view === 'list');
  useKeys(
    (input, key) => {
      if (input === 'e' || input === 'E') {
        const j = nextFail(findings, cursor, input === 'e' ? 1 : -1);
        if (j >= 0) setCursor(j);
      } else if (key.return && findings.length > 0) setView('evidence');
    },
    { isActive: active && view === 'list' },
  );
  const offset = useRef(0);
  const rows = height - 1;
  const top = (offset.current = windowStart(cursor, offset.current, rows, findings.length));
  const f = findings[cursor];
  if (view !== 'list' && f) return <Evidence {...p} finding={f} />;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate" bold>
        {fit(`${fit('verdict', 13)} ${fit('level', 6)} ${fit('requirement', 34)} ${fit('device', 22)} why`, width)}
      </Text>
      {findings.slice(top, top + rows).map((x, i) => {
        const sel = top + i === cursor;
        const dev = x.dev === null ? `VM ${x.vm}` : `${x.dev_type ?? '?'} ${x.dev}`;
        return (
          <Text key={top + i} wrap="truncate" inverse={sel} color={verdictColor(theme, x.verdict)}>
            {fit(`${fit(x.verdict, 13)} ${fit(x.level, 6)} ${fit(x.rule, 34)} ${fit(dev, 22)} ${x.message}`, width)}
          </Text>
        );
      })}
    </Box>
  );
}

interface EvLine {
  file: string;
  line: number | null;
  text: string;
  cited: boolean;
  header?: boolean;
}

/** The cited lines of a finding, file by file, each with `radius` lines around it. */
async function evidenceLines(conn: DuckDBConnection, f: ReportFinding, radius: number): Promise<EvLine[]> {
  const byFile = new Map<string, number[]>();
  for (const e of f.evidence) if (e.file !== null && e.line !== null) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e.line]);
  const out: EvLine[] = [];
  for (const [file, lines] of byFile) {
    const ctx: EvidenceContext = await evidenceContext(conn, file, lines, radius);
    out.push({ file, line: null, text: `${file}${ctx.from === 'store' ? ' (file not readable: the events the store kept of these lines)' : ''}`, cited: false, header: true });
    let prev = -1;
    for (const l of ctx.lines) {
      if (prev >= 0 && l.line > prev + 1) out.push({ file, line: null, text: '  …', cited: false, header: true });
      out.push({ file, line: l.line, text: l.text, cited: l.cited });
      prev = l.line;
    }
  }
  return out;
}

/** The selected line in full, on two rows. */
function selectedWhole(l: EvLine | undefined, width: number): string[] {
  return wrap(l && l.line !== null ? `${l.line}: ${l.text}` : '', width, 2);
}

function Evidence(p: FindingsProps & { finding: ReportFinding }) {
  const { conn, finding: f, view, setView, theme, width, height, active } = p;
  const [lines, setLines] = useState<EvLine[] | null>(null);
  const [cursor, setCursor] = useState(0);
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  useEffect(() => {
    let live = true;
    setLines(null);
    void evidenceLines(conn, f, 3).then((ls) => {
      if (!live) return;
      setLines(ls);
      setCursor(Math.max(0, ls.findIndex((l) => l.cited)));
    });
    return () => {
      live = false;
    };
  }, [conn, f]);
  const head = [
    { text: `${f.verdict} ${f.level} ${f.rule}: ${f.title}`, color: verdictColor(theme, f.verdict), bold: true },
    { text: `${f.dev === null ? `VM ${f.vm}` : `${f.dev_type ?? '?'} ${f.dev} (VM ${f.vm})`}  ${f.spec} ${f.source_ref}` },
    ...wrap(f.message, width, 2).map((text) => ({ text })),
  ];
  // the last two rows show the selected line whole: a trace line is often wider than the terminal
  const rows = height - head.length - 3;
  const total = lines?.length ?? 0;
  useKeys(
    (input, key) => {
      if (key.escape || key.leftArrow || input === 'h' || key.backspace || key.delete) {
        setView('list');
        return;
      }
      const c = moveCursor(input, key, cursor, total, rows);
      if (c !== null) setCursor(c);
      else if (key.return && lines) {
        const l = lines[cursor];
        if (l && l.line !== null) {
          setEvents(null);
          setView('event');
          void eventsAtLine(conn, l.file, l.line).then(setEvents);
        }
      }
    },
    { isActive: active && view === 'evidence' },
  );
  useKeys(
    (input, key) => {
      if (key.escape || key.leftArrow || input === 'h' || key.backspace || key.delete || key.return) setView('evidence');
    },
    { isActive: active && view === 'event' },
  );
  const offset = useRef(0);
  const top = (offset.current = windowStart(cursor, offset.current, rows, total));
  if (view === 'event' && lines) {
    const l = lines[cursor]!;
    return <EventFields title={`${l.file}:${l.line}: ${l.text}`} events={events} theme={theme} width={width} height={height} />;
  }
  return (
    <Box flexDirection="column" height={height}>
      {head.map((h, i) => (
        <Text key={i} wrap="truncate" color={h.color} bold={h.bold}>
          {fit(h.text, width)}
        </Text>
      ))}
      <Text wrap="truncate" color={accent(theme)}>
        {fit(f.evidence.length === 0 ? 'No trace line is cited: nothing in the trace bears on it.' : lines === null ? 'reading the trace…' : 'Evidence (> cited line; Enter: its events):', width)}
      </Text>
      {(lines ?? []).slice(top, top + rows).map((l, i) => (
        <Text key={top + i} wrap="truncate" inverse={top + i === cursor} bold={l.cited} color={l.cited ? verdictColor(theme, f.verdict) : undefined}>
          {fit(l.header ? l.text : `${l.cited ? '>' : ' '}${String(l.line).padStart(7)}  ${l.text}`, width)}
        </Text>
      ))}
      <Box flexGrow={1} />
      {selectedWhole(lines?.[cursor], width).map((t, i) => (
        <Text key={`w${i}`} wrap="truncate" color={accent(theme)}>
          {fit(t, width)}
        </Text>
      ))}
    </Box>
  );
}
