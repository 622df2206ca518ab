import type { Command } from 'commander';
import { loadReport } from '../api/report.ts';
import { InputError } from '../ingest/errors.ts';
import { inputOptions, withInputs } from './main.ts';

export function registerExplore(program: Command): void {
  inputOptions(
    program
      .command('explore')
      .description('explore a run in the terminal: overview, findings and their evidence, latency, events (? for the keys)')
      .argument('<inputs...>', 'trace files of one run, or one .duckdb store'),
  ).action((inputs: string[], o) =>
    withInputs(inputs, o, async ({ store }) => {
      // ink reads keys in raw mode, which a pipe cannot give
      if (!process.stdin.isTTY || !process.stdout.isTTY) throw new InputError('explore needs a terminal on stdin and stdout; for a pipe use check, perf or report');
      const report = await loadReport(store.conn);
      // ink draws only the last frame when CI is set (it reads that once, at load): on a terminal
      // with a user at its keys the explorer is interactive, whatever the environment says
      delete process.env.CI;
      delete process.env.CONTINUOUS_INTEGRATION;
      // ink and React load only for this command
      const [{ render }, { createElement }, { App }] = await Promise.all([import('ink'), import('react'), import('../tui/app.tsx')]);
      // the alternate screen: the shell's screen comes back as it was on quit
      process.stdout.write('\x1b[?1049h\x1b[H');
      try {
        // 60 frames/s: a key's frame within ~16 ms of its rows; only changed lines are redrawn (cheap over SSH)
        const app = render(createElement(App, { conn: store.conn, report }), { exitOnCtrlC: true, patchConsole: false, maxFps: 60, incrementalRendering: true });
        await app.waitUntilExit();
      } finally {
        process.stdout.write('\x1b[?1049l');
      }
    }),
  );
}
