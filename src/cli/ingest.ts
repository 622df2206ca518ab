import type { Command } from 'commander';
import { queryRows } from '../perf/store.ts';
import { inputOptions, withInputs } from './main.ts';

export function registerIngest(program: Command): void {
  inputOptions(
    program
      .command('ingest')
      .description('read trace files of one run into a DuckDB store (events, devices, spans, findings)')
      .argument('<traces...>', 'trace files of one run (QEMU log, guest ftrace, canonical JSONL; plain or .gz)'),
  ).action((traces: string[], o) =>
    withInputs(traces, o, async (opened) => {
      const [c] = await queryRows(
        opened.store.conn,
        `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM devices) AS devices,
                (SELECT count(*) FROM spans) AS spans, (SELECT count(*) FROM findings) AS findings,
                (SELECT coalesce(sum(count), 0) FROM input_stats WHERE severity <> 'info') AS bad`,
      );
      const where = opened.dbPath ?? 'memory (--no-db)';
      process.stdout.write(`${where}: ${c!.events} events, ${c!.devices} devices, ${c!.spans} request spans, ${c!.findings} verdicts; ${c!.bad} bad input lines\n`);
      const t = opened.timings;
      if (t) {
        const perS = (x: number) => (x / t.total >= 1e5 ? `${(x / t.total / 1e6).toFixed(2)} M` : `${Math.round(x / t.total)}`);
        process.stdout.write(`read ${(t.bytes / 1e6).toFixed(2)} MB in ${t.total.toFixed(2)} s: ${(t.bytes / 1e6 / t.total).toFixed(t.bytes / 1e6 / t.total >= 10 ? 1 : 2)} MB/s, ${perS(Number(c!.events))} events/s\n`);
      }
    }),
  );
}
