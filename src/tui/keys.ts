/** The explorer's keys: the help screen and the bottom line are both made from this list. */
export type PaneName = 'overview' | 'findings' | 'latency' | 'events';

export const PANES: { name: PaneName; title: string }[] = [
  { name: 'overview', title: 'Overview' },
  { name: 'findings', title: 'Findings' },
  { name: 'latency', title: 'Latency' },
  { name: 'events', title: 'Events' },
];

export interface KeyHelp {
  keys: string;
  what: string;
  /** shown on the bottom line of these views as `short` (the help lists every key) */
  bottom?: (PaneName | 'evidence' | 'event')[];
  short?: string;
}

export const KEYS: { section: string; keys: KeyHelp[] }[] = [
  {
    section: 'Everywhere',
    keys: [
      { keys: 'Tab / S-Tab', what: 'next / previous pane (1-4 jump to one)', short: 'Tab pane', bottom: ['overview', 'findings', 'latency', 'events'] },
      { keys: 'j k  ↓ ↑', what: 'down / up one line', short: 'j/k move', bottom: ['overview', 'findings', 'latency', 'events', 'evidence'] },
      { keys: 'PgDn PgUp', what: 'down / up one screen' },
      { keys: 'g G', what: 'first / last line' },
      { keys: '?', what: 'this help (any key closes it)', short: '? keys', bottom: ['overview', 'findings', 'latency', 'events', 'evidence', 'event'] },
      { keys: 'q', what: 'quit', short: 'q quit', bottom: ['overview', 'findings', 'latency', 'events', 'evidence', 'event'] },
    ],
  },
  {
    section: 'Overview and findings',
    keys: [
      { keys: 'e E', what: 'next / previous FAIL (from the overview: the first / last FAIL)', short: 'e/E next/prev FAIL', bottom: ['overview', 'findings'] },
      { keys: 'Enter', what: "open the finding's evidence: the cited trace lines in context", short: 'Enter evidence', bottom: ['findings'] },
      { keys: 'Enter', what: "(on an evidence line) that line's canonical events and their fields", short: 'Enter event fields', bottom: ['evidence'] },
      { keys: 'Esc ← h', what: 'back', short: 'Esc back', bottom: ['evidence', 'event'] },
    ],
  },
  {
    section: 'Latency',
    keys: [
      { keys: '← → h l', what: 'block, GPU, audio', short: '←/→ block/GPU/audio', bottom: ['latency'] },
      { keys: 's', what: 'show the SQL behind the view', short: 's SQL', bottom: ['latency', 'events'] },
    ],
  },
  {
    section: 'Events',
    keys: [
      { keys: '/', what: 'search kind, device and fields (n / N: next / previous match)', short: '/ search n/N', bottom: ['events'] },
      { keys: 'd', what: 'filter by device (cycles through them)', short: 'd dev', bottom: ['events'] },
      { keys: 't', what: 'filter by kind (cycles through them)', short: 't kind', bottom: ['events'] },
      { keys: 'r', what: 'filter by time range: seconds "1.5-2.25", "3-" or "-0.5"', short: 'r time', bottom: ['events'] },
      { keys: 'c', what: 'clear every filter' },
      { keys: 'Enter', what: "the event's canonical fields" },
    ],
  },
];

/** The bottom line of a view: its main keys, in their short form. */
export function bottomLine(view: PaneName | 'evidence' | 'event'): string {
  return KEYS.flatMap((s) => s.keys)
    .filter((k) => k.bottom?.includes(view))
    .map((k) => k.short ?? k.keys)
    .join('  ');
}
