/** The SQL behind a view, as plain unframed text so that it copies cleanly from the terminal. */
import { Box, Text } from 'ink';
import { accent, type Theme } from './theme.ts';

export function SqlView({ sql, theme, width, height }: { sql: string; theme: Theme; width: number; height: number }) {
  const lines = sql.split('\n').flatMap((l) => (l.length <= width ? [l] : (l.match(new RegExp(`.{1,${width}}`, 'g')) ?? [l])));
  return (
    <Box flexDirection="column" height={height}>
      <Text color={accent(theme)} wrap="truncate">
        SQL of this view, values bound as parameters and shown in place (any key closes):
      </Text>
      {lines.slice(0, height - 1).map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
    </Box>
  );
}
