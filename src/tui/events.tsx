/**
 * The event browser over the events table. Only the visible rows are read: windows of the table by
 * keyset on seq (never OFFSET), so scrolling costs the same at row ten million as at row one.
 * Filters and the search text reach DuckDB as bound parameters (src/api/explore.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { Box, Text, useInput } from 'ink';
import { useCallback, useEffect, useState } from 'react';
import {
  countEvents, eventFacets, eventWindow, eventWindowQuery, searchEvent, searchQuery, showQuery,
  type EventFilter, type StoredEvent, type WindowAt,
} from '../api/explore.ts';
import { EventFields } from './event-fields.tsx';
import { SqlView } from './sql-view.tsx';
import { fit, seconds } from './text.ts';
import { accent, verdictColor, type Theme } from './theme.ts';

export interface EventsProps {
  conn: DuckDBConnection;
  theme: Theme;
  width: number;
  height: number;
  active: boolean;
  /** tells the App that typed keys are text (a prompt is open), not commands */
  setCapture: (on: boolean) => void;
}

/** "1.5-2.25", "3-", "-0.5" (seconds on the run clock) to ns bounds; null: not a range. */
export function parseRange(s: string): { fromNs?: number; toNs?: number } | null {
  const m = /^\s*([0-9.]*)\s*-\s*([0-9.]*)\s*$/.exec(s);
  if (!m) return null;
  const num = (x: string) => (x === '' ? undefined : Number(x));
  const a = num(m[1]!);
  const b = num(m[2]!);
  if ((a !== undefined && Number.isNaN(a)) || (b !== undefined && Number.isNaN(b))) return null;
  return { ...(a !== undefined ? { fromNs: Math.round(a * 1e9) } : {}), ...(b !== undefined ? { toNs: Math.round(b * 1e9) } : {}) };
}

function cycle(list: string[], cur: string | undefined): string | undefined {
  if (list.length === 0) return undefined;
  const i = cur === undefined ? -1 : list.indexOf(cur);
  return i + 1 >= list.length ? undefined : list[i + 1];
}

function filterText(f: EventFilter): string {
  const range = f.fromNs === undefined && f.toNs === undefined ? 'all' : `${f.fromNs !== undefined ? seconds(f.fromNs) : ''}-${f.toNs !== undefined ? seconds(f.toNs) : ''} s`;
  return `dev ${f.dev ?? 'all'}  kind ${f.kind ?? 'all'}  time ${range}`;
}

export function Events({ conn, theme, width, height, active, setCapture }: EventsProps) {
  const [filter, setFilter] = useState<EventFilter>({});
  const [rows, setRows] = useState<StoredEvent[]>([]);
  const [at, setAt] = useState<WindowAt>('start');
  const [cursor, setCursor] = useState(0);
  const [count, setCount] = useState<number | null>(null);
  const [facets, setFacets] = useState<{ devs: string[]; kinds: string[] }>({ devs: [], kinds: [] });
  const [prompt, setPrompt] = useState<{ kind: 'search' | 'range'; text: string } | null>(null);
  const [search, setSearch] = useState('');
  const [message, setMessage] = useState('');
  const [detail, setDetail] = useState<StoredEvent | null>(null);
  const [sql, setSql] = useState(false);
  const page = Math.max(1, height - 2);

  useEffect(() => {
    void eventFacets(conn).then(setFacets);
  }, [conn]);
  useEffect(() => {
    setCount(null);
    void countEvents(conn, filter).then(setCount);
  }, [conn, filter]);

  /** Reads the window at `where` and puts the cursor on `pos` ('last': the last row). */
  const load = useCallback(
    async (where: WindowAt, pos: number | 'last') => {
      const got = await eventWindow(conn, filter, where, page);
      setAt(where);
      setRows(got);
      setCursor(pos === 'last' ? Math.max(0, got.length - 1) : Math.min(pos, Math.max(0, got.length - 1)));
      return got;
    },
    [conn, filter, page],
  );
  useEffect(() => {
    void load(rows.length > 0 ? { from: rows[0]!.seq } : 'start', cursor);
    // a new filter or height reads the window again; moves read their own
  }, [filter, page]);

  const go = async (dir: 'next' | 'prev') => {
    if (search === '') return setMessage('no search yet: / to type one');
    const from = rows[cursor]?.seq ?? (dir === 'next' ? -1 : Number.MAX_SAFE_INTEGER);
    const hit = await searchEvent(conn, filter, search, from, dir);
    if (!hit) return setMessage(`"${search}": no ${dir === 'next' ? 'later' : 'earlier'} match`);
    setMessage(`"${search}": event #${hit.seq}`);
    await load({ from: hit.seq }, 0);
  };

  const move = async (input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]) => {
    const first = rows[0];
    const last = rows.at(-1);
    if (input === 'j' || key.downArrow) {
      if (cursor < rows.length - 1) setCursor(cursor + 1);
      else if (first && rows.length === page) {
        const got = await eventWindow(conn, filter, { after: first.seq }, page);
        if (got.at(-1)?.seq !== last?.seq) {
          setRows(got);
          setAt({ from: got[0]!.seq });
        }
      }
    } else if (input === 'k' || key.upArrow) {
      if (cursor > 0) setCursor(cursor - 1);
      else if (first) {
        const got = await eventWindow(conn, filter, { before: first.seq }, 1);
        if (got.length > 0) {
          setRows([got[0]!, ...rows.slice(0, page - 1)]);
          setAt({ from: got[0]!.seq });
        }
      }
    } else if (key.pageDown || input === ' ') {
      if (!last) return;
      const got = await eventWindow(conn, filter, { after: last.seq }, page);
      if (got.length === page) await load({ from: got[0]!.seq }, cursor);
      else await load('end', 'last');
    } else if (key.pageUp) {
      if (!first) return;
      const got = await eventWindow(conn, filter, { before: first.seq }, page);
      if (got.length === page) await load({ from: got[0]!.seq }, cursor);
      else await load('start', 0);
    } else if (input === 'g' || key.home) await load('start', 0);
    else if (input === 'G' || key.end) await load('end', 'last');
  };

  useInput(
    (input, key) => {
      if (prompt) {
        if (key.escape) {
          setPrompt(null);
          setCapture(false);
        } else if (key.return) {
          setPrompt(null);
          setCapture(false);
          if (prompt.kind === 'search') {
            setSearch(prompt.text);
            if (prompt.text !== '') {
              // the first match from the current row on
              void searchEvent(conn, filter, prompt.text, (rows[cursor]?.seq ?? 0) - 1, 'next').then((hit) => {
                setMessage(hit ? `"${prompt.text}": event #${hit.seq}` : `"${prompt.text}": no match`);
                if (hit) void load({ from: hit.seq }, 0);
              });
            }
          } else {
            const r = parseRange(prompt.text);
            if (r === null) setMessage(`not a time range: "${prompt.text}" (seconds: 1.5-2.25, 3-, -0.5)`);
            else {
              const { fromNs: _f, toNs: _t, ...rest } = filter;
              setFilter({ ...rest, ...r });
              setMessage('');
            }
          }
        } else if (key.backspace || key.delete) setPrompt({ ...prompt, text: prompt.text.slice(0, -1) });
        else if (input && !key.ctrl && !key.meta) setPrompt({ ...prompt, text: prompt.text + input });
        return;
      }
      if (sql) return setSql(false);
      if (detail) {
        if (key.escape || key.leftArrow || input === 'h' || key.return || key.backspace) setDetail(null);
        return;
      }
      if (input === '/') {
        setPrompt({ kind: 'search', text: '' });
        setCapture(true);
      } else if (input === 'r') {
        setPrompt({ kind: 'range', text: '' });
        setCapture(true);
      } else if (input === 'n') void go('next');
      else if (input === 'N') void go('prev');
      else if (input === 'd') setFilter({ ...filter, dev: cycle(facets.devs, filter.dev) });
      else if (input === 't') setFilter({ ...filter, kind: cycle(facets.kinds, filter.kind) });
      else if (input === 'c') setFilter({});
      else if (input === 's') setSql(true);
      else if (key.return && rows[cursor]) setDetail(rows[cursor]!);
      else void move(input, key);
    },
    { isActive: active },
  );

  if (sql) {
    const qs = [eventWindowQuery(filter, at, page), ...(search ? [searchQuery(filter, search, rows[cursor]?.seq ?? 0, 'next')] : [])];
    return <SqlView sql={qs.map(showQuery).join(';\n\n') + ';'} theme={theme} width={width} height={height} />;
  }
  if (detail) return <EventFields title={`event #${detail.seq} (Esc: back)`} events={[detail]} theme={theme} width={width} height={height} />;
  const status = prompt
    ? `${prompt.kind === 'search' ? '/' : 'time range (s): '}${prompt.text}█`
    : `${filterText(filter)}  ${count === null ? '' : `${count} events`}${search ? `  search "${search}"` : ''}${message ? `  ${message}` : ''}`;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate" color={prompt ? undefined : accent(theme)} inverse={prompt !== null}>
        {fit(status, width)}
      </Text>
      <Text wrap="truncate" bold>
        {fit(`${'#'.padStart(8)} ${fit('time (s)', 12)} ${fit('device', 15)} ${fit('kind', 16)} ${fit('line', 6)} fields`, width)}
      </Text>
      {rows.length === 0 ? <Text>{count === 0 ? 'No event matches the filter (c clears it).' : ''}</Text> : null}
      {rows.map((e, i) => (
        <Text key={e.seq} wrap="truncate" inverse={i === cursor} color={search && matches(e, search) ? verdictColor(theme, 'NOT-OBSERVED') : undefined}>
          {fit(`${String(e.seq).padStart(8)} ${fit(seconds(e.ts), 12)} ${fit(e.dev ?? '-', 15)} ${fit(e.kind, 16)} ${fit(String(e.line ?? '-'), 6)} ${JSON.stringify(e.fields)}`, width)}
        </Text>
      ))}
    </Box>
  );
}

function matches(e: StoredEvent, text: string): boolean {
  const t = text.toLowerCase();
  return e.kind.toLowerCase().includes(t) || (e.dev ?? '').toLowerCase().includes(t) || JSON.stringify(e.fields).toLowerCase().includes(t);
}
