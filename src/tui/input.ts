/**
 * One keyboard listener for the whole explorer. ink subscribes a `useInput` in an effect, after
 * the frame that mounts it, so a key typed right after a view change (`e` then Enter) could reach
 * no one. Views instead register their handler during render, and the App's single listener hands
 * each key to the handlers of the current pane, always the ones of the latest render.
 */
import type { Key } from 'ink';
import { createContext, useContext, useEffect, useId } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

export interface KeyRouter {
  /** handlers by registration id, each tagged with its pane */
  handlers: Map<string, { pane: string; handle: KeyHandler }>;
}

export const KeyRouterContext = createContext<{ router: KeyRouter; pane: string } | null>(null);

export function useKeys(handler: KeyHandler, opts: { isActive?: boolean } = {}): void {
  const isActive = opts.isActive ?? true;
  const ctx = useContext(KeyRouterContext);
  const id = useId();
  if (ctx) {
    if (isActive) ctx.router.handlers.set(id, { pane: ctx.pane, handle: handler });
    else ctx.router.handlers.delete(id);
  }
  const router = ctx?.router;
  // on unmount only: the router lives as long as the App
  useEffect(
    () => () => {
      router?.handlers.delete(id);
    },
    [],
  );
}

export function dispatch(router: KeyRouter, pane: string, input: string, key: Key): void {
  for (const h of [...router.handlers.values()]) if (h.pane === pane) h.handle(input, key);
}

/**
 * ink hands a chunk of plain characters over as one input (that is how it sees pasted text), but
 * keys typed fast, or sent by `tmux send-keys e Enter`, arrive in one chunk too: the explorer
 * takes them one key at a time. Escape sequences (arrows, PgUp, ...) come one per chunk already.
 */
export function splitKeys(input: string, key: Key): [string, Key][] {
  if (input.length <= 1 || input.includes('\x1b')) return [[input, key]];
  const none = Object.fromEntries(Object.keys(key).map((k) => [k, false])) as unknown as Key;
  return [...input].map((c) => {
    if (c === '\r' || c === '\n') return ['\r', { ...none, return: true }];
    if (c === '\t') return ['', { ...none, tab: true }];
    if (c === '\x7f' || c === '\b') return ['', { ...none, backspace: true }];
    return [c, { ...none, shift: c !== c.toLowerCase() }];
  });
}
