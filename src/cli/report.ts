import type { Command } from 'commander';
import { inputOptions } from './main.ts';
import { progressDisplay } from './progress.ts';

export function registerReport(program: Command): void {
  inputOptions(
    program
      .command('report')
      .description('one self-contained HTML page of a run (or of several stores side by side): summary, verdict matrix with evidence, every notebook with data')
      .argument('<inputs...>', 'trace files of one run, one .duckdb store, or several stores to compare'),
  )
    .requiredOption('-o, --out <file>', 'the HTML file to write (replaced only when complete)')
    .option('--png <dir>', 'also write each chart as a PNG into this directory (needs chromium)')
    .action(async (inputs: string[], o) => {
      // vega and the browser driver load only for this command
      const { writeReport } = await import('../report/index.ts');
      const progress = progressDisplay(inputs);
      const w = await writeReport({
        inputs,
        out: o.out,
        pngDir: o.png,
        db: o.db,
        vm: o.vm,
        format: o.inputFormat,
        strict: o.strict,
        assumeDriver: o.assumeDriver,
        onProgress: progress?.update,
      }).finally(() => progress?.done());
      const empty = w.notebooks.filter((n) => !n.hasData).map((n) => n.id);
      process.stdout.write(
        `${w.out}: ${w.runs.length} run(s) (${w.runs.join(', ')}), ${w.charts} charts${empty.length > 0 ? `; no data for notebook(s) ${empty.join(', ')}` : ''}\n` +
          (w.pngs.length > 0 ? `PNGs: ${w.pngs.length} in ${o.png}\n` : ''),
      );
    });
}
