import type { Command } from 'commander';
import { registerPerfBlk } from './blk.ts';

/** `avpscope perf <analysis>`: one file per analysis. */
export function registerPerf(program: Command): void {
  const perf = program.command('perf').description('latency analyses from traces or a store');
  registerPerfBlk(perf);
}
