/**
 * The explorer: an ink application over one store, read through src/api. Panes: overview,
 * findings (with evidence and events under them), latency, events. The top line names the panes,
 * the bottom line shows the keys of the current view, `?` all of them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { Box, Text, useApp, useInput, useStdout, type Key } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { verdictCounts } from '../api/explore.ts';
import type { Report } from '../api/report.ts';
import { Events } from './events.tsx';
import { Findings, nextFail, type FindingsView } from './findings.tsx';
import { Help } from './help.tsx';
import { dispatch, KeyRouterContext, splitKeys, type KeyHandler, type KeyRouter } from './input.ts';
import { bottomLine, PANES, type PaneName } from './keys.ts';
import { Latency } from './latency.tsx';
import { Overview } from './overview.tsx';
import { fit } from './text.ts';
import { accent, themeFromEnv, type Theme } from './theme.ts';

export interface AppProps {
  conn: DuckDBConnection;
  report: Report;
  theme?: Theme;
  /** the terminal's size; default: stdout's, following resizes */
  size?: { cols: number; rows: number };
}

function useTermSize(fixed?: { cols: number; rows: number }): { cols: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const on = () => setSize(read());
    stdout.on('resize', on);
    return () => {
      stdout.off('resize', on);
    };
  }, [stdout, fixed]);
  return fixed ?? size;
}

export function App({ conn, report, theme = themeFromEnv(), size }: AppProps) {
  const { exit } = useApp();
  const { cols, rows } = useTermSize(size);
  const [pane, setPane] = useState<PaneName>('overview');
  const [help, setHelp] = useState(false);
  const [capture, setCapture] = useState(false);
  const [counts, setCounts] = useState<{ target: string; verdict: string; n: number }[] | null>(null);
  const [fCursor, setFCursor] = useState(0);
  const [fView, setFView] = useState<FindingsView>('list');
  useEffect(() => {
    void verdictCounts(conn).then(setCounts);
  }, [conn]);

  const router = useRef<KeyRouter>({ handlers: new Map() });
  // the handler of the latest render, called by one listener subscribed once (see input.ts)
  const onKey = useRef<KeyHandler>(() => {});
  onKey.current = (input, key) => {
    if (capture) return dispatch(router.current, pane, input, key);
    if (help) return setHelp(false);
    if (input === 'q') return exit();
    if (input === '?') return setHelp(true);
    const i = PANES.findIndex((p) => p.name === pane);
    if (key.tab) return setPane(PANES[(i + (key.shift ? PANES.length - 1 : 1)) % PANES.length]!.name);
    if (/^[1-4]$/.test(input)) return setPane(PANES[Number(input) - 1]!.name);
    if (pane === 'overview' && (input === 'e' || input === 'E')) {
      // from the overview: the first (e) or last (E) FAIL, in the findings list
      const j = nextFail(report.findings, input === 'e' ? -1 : 0, input === 'e' ? 1 : -1);
      if (j >= 0) {
        setFCursor(j);
        setFView('list');
        setPane('findings');
      }
      return;
    }
    dispatch(router.current, pane, input, key);
  };
  // keys of one chunk are handled one at a time, each by the handlers of the render that the one
  // before caused: the next key waits for that render's effects (a timer alone can fire before the
  // render on a loaded machine, and the key would reach the previous pane)
  const pending = useRef<[string, Key][]>([]);
  const [keyTurn, setKeyTurn] = useState(0);
  const pump = useCallback(() => {
    const next = pending.current.shift();
    if (!next) return;
    onKey.current(...next);
    if (pending.current.length > 0) setKeyTurn((t) => t + 1);
  }, []);
  useEffect(() => {
    if (keyTurn > 0 && pending.current.length > 0) pump();
  }, [keyTurn, pump]);
  useInput(
    useCallback(
      (input, key) => {
        const idle = pending.current.length === 0;
        pending.current.push(...splitKeys(input, key));
        if (idle) pump();
      },
      [pump],
    ),
  );

  const width = cols;
  const height = Math.max(3, rows - 2);
  const body = !help && pane;
  const view = pane === 'findings' && fView !== 'list' ? fView : pane;
  const tabs = PANES.map((p, i) => (p.name === pane ? `[${i + 1} ${p.title}]` : ` ${i + 1} ${p.title} `)).join('');
  const fails = report.findings.filter((f) => f.verdict === 'FAIL').length;
  return (
    <Box flexDirection="column" width={cols} height={rows}>
      <Text wrap="truncate" bold color={accent(theme)}>
        {fit(`avpscope ${tabs}  ${fails} FAIL`, width)}
      </Text>
      <KeyRouterContext.Provider value={{ router: router.current, pane }}>
      <Box height={height} flexDirection="column">
        {help ? <Help theme={theme} width={width} height={height} /> : null}
        {body === 'overview' ? <Overview report={report} counts={counts} theme={theme} width={width} height={height} active /> : null}
        {body === 'findings' ? (
          <Findings conn={conn} findings={report.findings} cursor={fCursor} setCursor={setFCursor} view={fView} setView={setFView} theme={theme} width={width} height={height} active />
        ) : null}
        {body === 'latency' ? <Latency conn={conn} theme={theme} width={width} height={height} active /> : null}
        {body === 'events' ? <Events conn={conn} theme={theme} width={width} height={height} active setCapture={setCapture} /> : null}
      </Box>
      </KeyRouterContext.Provider>
      <Text wrap="truncate" inverse>
        {fit(help ? 'any key: back' : bottomLine(view), width)}
      </Text>
    </Box>
  );
}
