import { Option, type Command } from 'commander';
import { failsCheck, loadReport, reportJson, reportText, type FailOn } from '../api/report.ts';
import { EXIT, inputOptions, withInputs } from './main.ts';

export function registerCheck(program: Command): void {
  inputOptions(
    program
      .command('check')
      .description('judge traces (or a store) against AVPS 2.0 and VIRTIO, requirement by requirement')
      .argument('<inputs...>', 'trace files of one run (QEMU log, guest ftrace, canonical JSONL; plain or .gz), or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--evidence <n>', 'evidence lines shown per verdict (FAIL shows at least 3)', (v) => Number.parseInt(v, 10), 1)
    .addOption(
      new Option('--fail-on <whose>', "failures that make the exit code 1: device and platform MUSTs; also the driver's MUSTs; or any FAIL")
        .choices(['device+platform', 'driver', 'all'])
        .default('device+platform'),
    )
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async (opened) => {
        const report = await loadReport(opened.store.conn);
        if (o.format === 'json') process.stdout.write(reportJson(report));
        else {
          process.stdout.write(reportText(report, { evidence: o.evidence, color: process.stdout.isTTY }));
          if (opened.ingested && opened.dbPath) process.stdout.write(`Store: ${opened.dbPath}\n`);
        }
        process.exitCode = failsCheck(report.summary, o.failOn as FailOn) ? EXIT.FAIL : EXIT.OK;
      }),
    );
}
