/** One trace line's canonical events: every column of the events table and the kind's own fields. */
import { Box, Text } from 'ink';
import type { StoredEvent } from '../api/explore.ts';
import { fit, seconds } from './text.ts';
import { accent, type Theme } from './theme.ts';

export interface EventFieldsProps {
  title: string;
  events: StoredEvent[] | null;
  theme: Theme;
  width: number;
  height: number;
}

function eventFieldLines(events: StoredEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    out.push(
      `event #${e.seq}  kind ${e.kind}`,
      `  ts        ${e.ts} ns (${seconds(e.ts)} s on the run clock)`,
      `  vm        ${e.vm}`,
      `  dev       ${e.dev ?? '-'}${e.dev_inferred ? ' (inferred)' : ''}`,
      `  src       ${e.file ?? '-'}:${e.line ?? '-'}`,
    );
    for (const [k, v] of Object.entries(e.fields)) out.push(`  ${k.padEnd(9)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    out.push('');
  }
  return out;
}

export function EventFields({ title, events, theme, width, height }: EventFieldsProps) {
  const lines = events === null ? ['reading the store…'] : events.length === 0 ? ['No canonical event came from this line (the adapter skips it, or counts it as unknown).'] : eventFieldLines(events);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate" bold color={accent(theme)}>
        {fit(title, width)}
      </Text>
      {lines.slice(0, height - 1).map((l, i) => (
        <Text key={i} wrap="truncate">
          {fit(l, width)}
        </Text>
      ))}
    </Box>
  );
}
