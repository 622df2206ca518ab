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
