import { Option, type Command } from 'commander';
import { reportJunit, reportSarif } from '../api/report-ci.ts';
import { failsCheck, loadReport, reportJson, reportText, type FailOn, type Report } from '../api/report.ts';
import { InputError } from '../ingest/errors.ts';
import { EXIT, inputOptions, withInputs } from './main.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';

type CheckFormat = 'text' | 'json' | 'sarif' | 'junit';

/** The format a report file's name asks for: .sarif (or .sarif.json), .json, .xml (JUnit); text otherwise. */
export function checkFormatForFile(file: string): CheckFormat {
  return /\.sarif(\.json)?$/.test(file) ? 'sarif' : file.endsWith('.json') ? 'json' : file.endsWith('.xml') ? 'junit' : 'text';
}

function render(r: Report, format: CheckFormat, evidence: number, color: boolean): string {
  if (format === 'json') return reportJson(r);
  if (format === 'sarif') return reportSarif(r);
  if (format === 'junit') return reportJunit(r);
  return reportText(r, { evidence, color });
}

export function registerCheck(program: Command): void {
  inputOptions(
    program
      .command('check')
      .description('judge traces (or a store) against AVPS 2.0 and VIRTIO, requirement by requirement')
      .argument('<inputs...>', 'trace files of one run (QEMU log, guest ftrace, canonical JSONL; plain or .gz), or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format on stdout').choices(['text', 'json', 'sarif', 'junit']).default('text'))
    .option('-o, --output <files...>', 'also write the report to these files, format by extension: .sarif, .json, .xml (JUnit), else text')
    .option('--evidence <n>', 'evidence lines shown per verdict (FAIL shows at least 3)', (v) => Number.parseInt(v, 10), 1)
    .addOption(
      new Option('--fail-on <whose>', "failures that make the exit code 1: device and platform MUSTs; also the driver's MUSTs; or any FAIL")
        .choices(['device+platform', 'driver', 'all'])
        .default('device+platform'),
    )
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async (opened) => {
        // a store from another avpscope version is named by its path
        const report = await loadReport(opened.store.conn).catch((e: unknown) => {
          throw e instanceof InputError && e.file === undefined && opened.dbPath ? new InputError(e.message, opened.dbPath) : e;
        });
        const format = o.format as CheckFormat;
        // files first: a report that cannot be written is an error before anything is printed
        for (const f of (o.output as string[] | undefined) ?? []) await writeFileAtomic(f, render(report, checkFormatForFile(f), o.evidence, false), inputs, 'check -o');
        process.stdout.write(render(report, format, o.evidence, format === 'text' && Boolean(process.stdout.isTTY)));
        if (format === 'text' && opened.ingested && opened.dbPath) process.stdout.write(`Store: ${opened.dbPath}\n`);
        process.exitCode = failsCheck(report.summary, o.failOn as FailOn) ? EXIT.FAIL : EXIT.OK;
      }),
    );
}
