import type { Command } from 'commander';
import { registerPerfAudio } from './audio.ts';
import { registerPerfBlk } from './blk.ts';
import { registerPerfGpu } from './gpu.ts';
import { registerPerfKvm } from './kvm.ts';
import { registerPerfXlayer } from './xlayer.ts';

/** `avpscope perf <analysis>`: one file per analysis. */
export function registerPerf(program: Command): void {
  const perf = program.command('perf').description('latency analyses from traces or a store');
  registerPerfBlk(perf);
  registerPerfAudio(perf);
  registerPerfXlayer(perf);
  registerPerfGpu(perf);
  registerPerfKvm(perf);
}
