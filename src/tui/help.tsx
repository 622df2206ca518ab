/** The `?` screen: every key, from the same list as the bottom line. */
import { Box, Text } from 'ink';
import { KEYS } from './keys.ts';
import { fit } from './text.ts';
import { accent, type Theme } from './theme.ts';

export function Help({ theme, width, height }: { theme: Theme; width: number; height: number }) {
  const lines: { text: string; head?: boolean }[] = [];
  for (const s of KEYS) {
    lines.push({ text: s.section, head: true });
    for (const k of s.keys) lines.push({ text: `  ${k.keys.padEnd(13)} ${k.what}` });
  }
  return (
    <Box flexDirection="column" height={height}>
      {lines.slice(0, height).map((l, i) => (
        <Text key={i} wrap="truncate" bold={l.head} color={l.head ? accent(theme) : undefined}>
          {fit(l.text, width)}
        </Text>
      ))}
    </Box>
  );
}
