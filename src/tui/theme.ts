/**
 * Colours of the explorer. NO_COLOR (https://no-color.org) set to anything turns every colour off;
 * the selection stays visible as inverse video, which is not a colour.
 */
export interface Theme {
  color: boolean;
}

export function themeFromEnv(env: NodeJS.ProcessEnv = process.env): Theme {
  return { color: env.NO_COLOR === undefined };
}

const VERDICT_COLORS: Record<string, string> = { FAIL: 'red', PASS: 'green', 'NOT-OBSERVED': 'yellow', DECLARED: 'cyan', 'NOT-APPLICABLE': 'gray' };

/** The colour of a verdict; an unknown verdict string gets none. */
export function verdictColor(t: Theme, verdict: string): string | undefined {
  return t.color ? VERDICT_COLORS[verdict] : undefined;
}

export function accent(t: Theme): string | undefined {
  return t.color ? 'cyan' : undefined;
}
