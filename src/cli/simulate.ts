import { writeFileAtomic } from '../io/atomic-write.ts';
import type { Command } from 'commander';
import { InputError } from '../ingest/errors.ts';
import { toJsonl } from '../sim/build.ts';
import { SCENARIOS, scenario } from '../sim/scenarios.ts';

function listing(): string {
  return SCENARIOS.map((s) => `${s.name}: ${s.description}\n${Object.entries(s.faults).map(([f, x]) => `  --fault ${f}: ${x.what} (FAILs ${x.rule})`).join('\n')}`).join('\n') + '\n';
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('write a simulated run as canonical JSON Lines: a scenario, clean or with a named fault (--list shows them)')
    .argument('[scenario]', 'scenario name')
    .option('--fault <name>', 'break the run on purpose (each fault names the rule it makes FAIL)')
    .option('-o, --output <file>', 'write here instead of standard output')
    .option('--list', 'list the scenarios and their faults')
    .action(async (name: string | undefined, o: { fault?: string; output?: string; list?: boolean }) => {
      if (o.list || name === undefined) {
        process.stdout.write(listing());
        return;
      }
      const s = scenario(name);
      if (!s) throw new InputError(`unknown scenario '${name}' (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
      if (o.fault !== undefined && !(o.fault in s.faults)) {
        throw new InputError(`scenario ${name} has no fault '${o.fault}' (known: ${Object.keys(s.faults).join(', ')})`);
      }
      const text = toJsonl(s.name, s.build(o.fault));
      if (o.output) await writeFileAtomic(o.output, text, [], 'simulate -o');
      else process.stdout.write(text);
    });
}
