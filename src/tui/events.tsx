/**
 * The event browser over the events table. Only the visible rows are read: windows of the table by
 * keyset on seq (never OFFSET), so scrolling costs the same at row ten million as at row one.
 * Filters and the search text reach DuckDB as bound parameters (src/api/explore.ts).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { Box, Text, type Key } from 'ink';
import { useKeys } from './input.ts';
import { useEffect, useMemo, useRef, useState } from 'react';
import { countEvents, eventFacets, eventWindow, searchEvent, showQuery, type BoundQuery, type EventFilter, type StoredEvent, type WindowAt } from '../api/explore.ts';
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

interface State {
  filter: EventFilter;
  rows: StoredEvent[];
  cursor: number;
  prompt: { kind: 'search' | 'range'; text: string } | null;
  search: string;
  message: string;
  detail: StoredEvent | null;
  sql: boolean;
  /** the queries behind what is shown, as they last ran (s shows them) */
  queries: BoundQuery[];
}

export function Events({ conn, theme, width, height, active, setCapture }: EventsProps) {
  // Keys are handled one after the other on the latest state, each waiting for the queries of the
  // one before (a key typed while a window is read must not act on the old window).
  const st = useRef<State>({ filter: {}, rows: [], cursor: 0, prompt: null, search: '', message: '', detail: null, sql: false, queries: [] });
  const queue = useRef<Promise<void>>(Promise.resolve());
  const [, setTick] = useState(0);
  const [count, setCount] = useState<number | null>(null);
  // what the d and t filters cycle through, read once
  const facets = useMemo(() => eventFacets(conn), [conn]);
  const page = Math.max(1, height - 2);
  const s = st.current;
  const commit = (patch: Partial<State>) => {
    Object.assign(st.current, patch);
    setTick((t) => t + 1);
  };

  const filterKey = JSON.stringify(s.filter);
  useEffect(() => {
    setCount(null);
    void countEvents(conn, st.current.filter).then(setCount);
  }, [conn, filterKey]);

  /** Reads the window at `where` and puts the cursor on `pos` ('last': the last row). */
  const load = async (where: WindowAt, pos: number | 'last') => {
    const { events: got, query } = await eventWindow(conn, st.current.filter, where, page);
    commit({ rows: got, queries: [query], cursor: pos === 'last' ? Math.max(0, got.length - 1) : Math.min(pos, Math.max(0, got.length - 1)) });
  };
  const enqueue = (f: () => Promise<void>) => {
    queue.current = queue.current.then(f).catch((e: unknown) => commit({ message: `error: ${(e as Error).message}` }));
  };
  useEffect(() => {
    // a new filter or height reads the window again from where it was
    enqueue(() => load(st.current.rows.length > 0 ? { from: st.current.rows[0]!.seq } : 'start', st.current.cursor));
  }, [filterKey, page]);

  const setFilter = (f: EventFilter) => commit({ filter: f });

  const go = async (dir: 'next' | 'prev') => {
    const { search, rows, cursor, filter } = st.current;
    if (search === '') return commit({ message: 'no search yet: / to type one' });
    const from = rows[cursor]?.seq ?? (dir === 'next' ? -1 : Number.MAX_SAFE_INTEGER);
    const { event: hit, query } = await searchEvent(conn, filter, search, from, dir);
    if (!hit) return commit({ message: `"${search}": no ${dir === 'next' ? 'later' : 'earlier'} match`, queries: [query] });
    commit({ message: `"${search}": event #${hit.seq}` });
    await load({ from: hit.seq }, 0);
    commit({ queries: [...st.current.queries, query] });
  };

  const move = async (input: string, key: Key) => {
    const { rows, cursor, filter } = st.current;
    const first = rows[0];
    const last = rows.at(-1);
    if (input === 'j' || key.downArrow) {
      if (cursor < rows.length - 1) commit({ cursor: cursor + 1 });
      else if (first && rows.length === page) {
        const { events: got, query } = await eventWindow(conn, filter, { after: first.seq }, page);
        if (got.length === page) commit({ rows: got, queries: [query] });
      }
    } else if (input === 'k' || key.upArrow) {
      if (cursor > 0) commit({ cursor: cursor - 1 });
      else if (first) {
        const { events: got, query } = await eventWindow(conn, filter, { before: first.seq }, 1);
        if (got.length > 0) commit({ rows: [got[0]!, ...rows.slice(0, page - 1)], queries: [query] });
      }
    } else if (key.pageDown || input === ' ') {
      if (!last) return;
      const { events: got, query } = await eventWindow(conn, filter, { after: last.seq }, page);
      if (got.length === page) commit({ rows: got, queries: [query] });
      else await load('end', 'last');
    } else if (key.pageUp) {
      if (!first) return;
      const { events: got, query } = await eventWindow(conn, filter, { before: first.seq }, page);
      if (got.length === page) commit({ rows: got, queries: [query] });
      else await load('start', 0);
    } else if (input === 'g' || key.home) await load('start', 0);
    else if (input === 'G' || key.end) await load('end', 'last');
  };

  const handle = async (input: string, key: Key) => {
    const { prompt, filter, rows, cursor } = st.current;
    if (prompt) {
      if (key.escape) {
        commit({ prompt: null });
        setCapture(false);
      } else if (key.return) {
        commit({ prompt: null });
        setCapture(false);
        if (prompt.kind === 'search') {
          commit({ search: prompt.text });
          if (prompt.text === '') return;
          // the first match from the current row on
          const { event: hit, query } = await searchEvent(conn, filter, prompt.text, (rows[cursor]?.seq ?? 0) - 1, 'next');
          commit({ message: hit ? `"${prompt.text}": event #${hit.seq}` : `"${prompt.text}": no match`, queries: [query] });
          if (hit) {
            await load({ from: hit.seq }, 0);
            commit({ queries: [...st.current.queries, query] });
          }
        } else {
          const r = parseRange(prompt.text);
          if (r === null) return commit({ message: `not a time range: "${prompt.text}" (seconds: 1.5-2.25, 3-, -0.5)` });
          const { fromNs: _f, toNs: _t, ...rest } = filter;
          commit({ filter: { ...rest, ...r }, message: '' });
        }
      } else if (key.backspace || key.delete) commit({ prompt: { ...prompt, text: prompt.text.slice(0, -1) } });
      else if (input && !key.ctrl && !key.meta) commit({ prompt: { ...prompt, text: prompt.text + input } });
      return;
    }
    if (st.current.sql) return commit({ sql: false });
    if (st.current.detail) {
      if (key.escape || key.leftArrow || input === 'h' || key.return || key.backspace) commit({ detail: null });
      return;
    }
    if (input === '/' || input === 'r') {
      commit({ prompt: { kind: input === '/' ? 'search' : 'range', text: '' } });
      setCapture(true);
    } else if (input === 'n') await go('next');
    else if (input === 'N') await go('prev');
    else if (input === 'd') setFilter({ ...filter, dev: cycle((await facets).devs, filter.dev) });
    else if (input === 't') setFilter({ ...filter, kind: cycle((await facets).kinds, filter.kind) });
    else if (input === 'c') setFilter({});
    else if (input === 's') commit({ sql: true });
    else if (key.return && rows[cursor]) commit({ detail: rows[cursor]! });
    else await move(input, key);
  };

  useKeys(
    (input, key) => {
      // a prompt opens only when its key's turn comes in the queue, but the keys typed after it are
      // its text from now on: claim them at once, and settle when the queue gets there
      if (input === '/' || input === 'r') setCapture(true);
      enqueue(async () => {
        await handle(input, key);
        setCapture(st.current.prompt !== null);
      });
    },
    { isActive: active },
  );

  if (s.sql) return <SqlView sql={s.queries.map(showQuery).join(';\n\n') + ';'} theme={theme} width={width} height={height} />;
  if (s.detail) return <EventFields title={`event #${s.detail.seq} (Esc: back)`} events={[s.detail]} theme={theme} width={width} height={height} />;
  const status = s.prompt
    ? `${s.prompt.kind === 'search' ? '/' : 'time range (s): '}${s.prompt.text}█`
    : `${filterText(s.filter)}  ${count === null ? '' : `${count} events`}${s.search ? `  search "${s.search}"` : ''}${s.message ? `  ${s.message}` : ''}`;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate" color={s.prompt ? undefined : accent(theme)} inverse={s.prompt !== null}>
        {fit(status, width)}
      </Text>
      <Text wrap="truncate" bold>
        {fit(`${'#'.padStart(8)} ${fit('time (s)', 12)} ${fit('device', 15)} ${fit('kind', 16)} ${fit('line', 6)} fields`, width)}
      </Text>
      {s.rows.length === 0 ? <Text>{count === 0 ? 'No event matches the filter (c clears it).' : ''}</Text> : null}
      {s.rows.map((e, i) => (
        <Text key={e.seq} wrap="truncate" inverse={i === s.cursor} color={s.search && matches(e, s.search) ? verdictColor(theme, 'NOT-OBSERVED') : undefined}>
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
