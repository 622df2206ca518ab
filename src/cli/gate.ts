import { Option, type Command } from 'commander';
import { openInputs } from '../api/inputs.ts';
import { loadBudgets } from '../gate/budgets.ts';
import { evaluateBudgets, type GateOptions } from '../gate/evaluate.ts';
import { formatForFile, formatGate, type GateFormat, type RunNames } from '../gate/report.ts';
import { InputError } from '../ingest/errors.ts';
import { checkOutputPath, writeFileAtomic } from '../io/atomic-write.ts';
import { METRICS } from '../perf/metrics.ts';
import { table } from '../format.ts';
import { EXIT, inputOptions, withInputs } from './main.ts';

/** `10%` -> 0.1; a plain number is a fraction already. */
function fraction(flag: string, v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
  if (!m) throw new InputError(`${flag}: expected a percentage like 10% or a fraction like 0.1, not '${v}'`);
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

function metricList(): string {
  return (
    table(
      ['metric', 'unit', 'labels', 'baseline test', 'what'],
      METRICS.map((m) => [m.name, m.unit, m.labels.join(','), m.samples ? (m.samples.statistic.kind === 'max' ? 'mann-whitney' : 'bootstrap') : '-', m.doc]),
      'lllll',
    ) + '\n'
  );
}

export function registerGate(program: Command): void {
  inputOptions(
    program
      .command('gate')
      .description('judge a run against budgets (and a baseline run); exit 1 on a breach or a significant regression')
      .argument('[inputs...]', 'trace files of one run, or one .duckdb store'),
  )
    .option('--budgets <file>', 'budgets file: lines `metric{label=value} OP limit`, or JSON (see docs/gates.md)')
    .option('--baseline <inputs...>', 'the run to compare with: trace files or one .duckdb store (traces are read into memory)')
    .option('--tolerance <pct>', 'a regression must exceed this relative change', '10%')
    .option('--alpha <p>', 'significance level of the regression test', '0.05')
    .addOption(new Option('--test <test>', 'regression test: auto = bootstrap for quantiles, Mann-Whitney U for maxima').choices(['auto', 'bootstrap', 'mann-whitney']).default('auto'))
    .option('--allow-no-data', 'a budget with nothing to judge does not fail the gate (default: it does)')
    .addOption(new Option('--format <format>', 'output format on stdout').choices(['text', 'json', 'junit', 'markdown']).default('text'))
    .option('-o, --output <files...>', 'also write the report to these files, format by extension: .json, .xml (JUnit), .md, else text')
    .option('--list-metrics', 'list the metrics budgets can name, and exit')
    .action(async (inputs: string[], o) => {
      if (o.listMetrics) {
        process.stdout.write(metricList());
        return;
      }
      if (!o.budgets) throw new InputError('--budgets FILE is required');
      if (inputs.length === 0) throw new InputError('no input: give trace files or a .duckdb store');
      const outputs = (o.output as string[] | undefined) ?? [];
      const readFrom = [...inputs, o.budgets as string, ...((o.baseline as string[] | undefined) ?? [])];
      for (const f of outputs) checkOutputPath(f, readFrom, '-o');
      const budgets = loadBudgets(o.budgets);
      const alpha = Number(o.alpha);
      if (!(alpha > 0 && alpha < 1)) throw new InputError(`--alpha: expected a number between 0 and 1, not '${o.alpha}'`);
      const opts: Partial<GateOptions> = { tolerance: fraction('--tolerance', o.tolerance), alpha, test: o.test, allowNoData: Boolean(o.allowNoData) };
      const baseline = o.baseline as string[] | undefined;
      const base = baseline ? await openInputs(baseline, { db: false, format: o.inputFormat, assumeDriver: o.assumeDriver }) : undefined;
      try {
        await withInputs(inputs, o, async ({ store }) => {
          const result = await evaluateBudgets(store.conn, budgets, { ...opts, baseline: base?.store.conn });
          const names: RunNames = { inputs, budgets: o.budgets, baseline };
          process.stdout.write(formatGate(result, names, o.format as GateFormat));
          for (const f of outputs) await writeFileAtomic(f, formatGate(result, names, formatForFile(f)), readFrom, '-o');
          process.exitCode = result.passed ? EXIT.OK : EXIT.FAIL;
        });
      } finally {
        base?.store.close();
      }
    });
}
