import { Option, type Command } from 'commander';
import { InputError } from '../ingest/errors.ts';
import { convert } from '../api/convert.ts';
import { ADAPTERS } from '../ingest/registry.ts';
import { openAtomic } from '../io/atomic-write.ts';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('write a trace in a canonical format: JSON Lines or Arrow IPC (see README: canonical format)')
    .argument('<traces...>', 'trace files of one run')
    .addOption(new Option('--to <format>', 'output format').choices(['jsonl', 'arrow']).makeOptionMandatory())
    .option('-o, --output <file>', 'write here instead of standard output')
    .option('--raw', 'keep each event\'s original trace line in a "raw" field')
    .option('--vm <name...>', 'VM name per trace file (default: the file name)')
    .addOption(new Option('--input-format <name>', 'read the traces as this format instead of sniffing').choices(ADAPTERS.map((a) => a.name)))
    .action(async (traces: string[], o) => {
      if (o.to === 'arrow' && !o.output && process.stdout.isTTY) throw new InputError('Arrow is binary: give -o FILE or redirect standard output');
      const opts = { files: traces, vms: o.vm, format: o.inputFormat, raw: o.raw ?? false, to: o.to };
      if (!o.output) {
        await convert(opts, process.stdout);
        return;
      }
      const file = await openAtomic(o.output, traces, '-o');
      try {
        await convert(opts, file.stream);
        await file.commit();
      } catch (e) {
        file.abort();
        throw e;
      }
    });
}
