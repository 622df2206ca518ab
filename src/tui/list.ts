/** The movement keys every list shares: j/k and the arrows, PgUp/PgDn, g/G. */
import type { Key } from 'ink';
import { useKeys } from './input.ts';

/** The cursor after a movement key, or null when the key is not one. */
export function moveCursor(input: string, key: Key, cursor: number, total: number, page: number): number | null {
  const last = Math.max(0, total - 1);
  if (input === 'j' || key.downArrow) return Math.min(last, cursor + 1);
  if (input === 'k' || key.upArrow) return Math.max(0, cursor - 1);
  if (key.pageDown || input === ' ') return Math.min(last, cursor + page);
  if (key.pageUp) return Math.max(0, cursor - page);
  if (input === 'g' || key.home) return 0;
  if (input === 'G' || key.end) return last;
  return null;
}

export function useListKeys(cursor: number, setCursor: (c: number) => void, total: number, page: number, isActive: boolean): void {
  useKeys(
    (input, key) => {
      const c = moveCursor(input, key, cursor, total, page);
      if (c !== null && c !== cursor) setCursor(c);
    },
    { isActive },
  );
}
