/**
 * The avpscope command line: a thin shell over src/api. Exit codes: 0 all good, 1 a MUST
 * requirement fails (or a budget is breached), 2 bad usage or unusable input, 3 a bug in avpscope.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { InputError } from '../ingest/errors.ts';
import { ADAPTERS } from '../ingest/registry.ts';
import { TOOL_VERSION } from '../api/ingest.ts';
import { openInputs, type Opened } from '../api/inputs.ts';
import { registerAlign } from './align.ts';
import { registerCheck } from './check.ts';
import { registerConvert } from './convert.ts';
import { registerExplore } from './explore.ts';
import { registerReport } from './report.ts';
import { registerGate } from './gate.ts';
import { registerIngest } from './ingest.ts';
import { registerPerf } from './perf/index.ts';
import { progressDisplay } from './progress.ts';
import { registerSchema } from './schema.ts';
import { registerSimulate } from './simulate.ts';
import { registerRules } from './rules.ts';
import { ownedFiles, removeOwned } from '../io/temp-files.ts';
import { stopStoreWorkers } from '../perf/store-client.ts';

export const EXIT = { OK: 0, FAIL: 1, INPUT: 2, BUG: 3 } as const;

/**
 * Ctrl-C and SIGTERM stop the command with one line and leave no temporary file (the store being
 * built, a half-written -o, a copy of a stream); the exit code is the shell's 128 + signal.
 */
let cleanUpInstalled = false;
/** set by a signal: the work it stopped fails on the way out, and that is no error to report */
let interrupted = false;
function cleanUpOnExit(): void {
  if (cleanUpInstalled) return;
  cleanUpInstalled = true;
  process.once('exit', () => removeOwned());
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      interrupted = true;
      // the store's worker first: exiting under a running DuckDB worker aborts instead of exiting with `code`
      // counted before the workers stop: stopping one removes its own unfinished store
      const before = ownedFiles();
      const stopped = Promise.race([stopStoreWorkers(), new Promise((r) => setTimeout(r, 2000))]);
      void stopped.finally(() => {
        removeOwned();
        const removed = before.filter((f) => !existsSync(f));
        process.stderr.write(`avpscope: interrupted by ${sig}: stopped${removed.length > 0 ? `, ${removed.length} temporary file(s) removed` : ''}; no output was replaced\n`);
        process.exit(code);
      });
    });
  }
}

/** Options every command that reads traces shares. */
export function inputOptions(cmd: Command): Command {
  return cmd
    .option('--db <file>', 'DuckDB store to write (default: <trace>.duckdb next to the first trace)')
    .option('--no-db', 'keep the store in memory only')
    .option('--vm <name...>', 'VM name per trace file (default: the file name)')
    .addOption(new Option('--input-format <name>', 'read the traces as this format instead of sniffing').choices(ADAPTERS.map((a) => a.name)))
    .option('--strict', 'fail (exit 2) on any bad line instead of counting it')
    .option('--device-map <file>', "host KVM traces: virtio-mmio windows from a device tree blob's virtio,mmio nodes or a JSON list (for traces that begin after the probe)")
    .addOption(
      new Option('--assume-driver <driver>', 'driver behaviour assumed when judging offered features').choices(['linux', 'none']).default('linux'),
    )
    .option('--manifest <file>', 'platform manifest (YAML or JSON) declaring what no trace shows: DECLARED verdicts')
    .addOption(new Option('--profile <name>', 'production: a console present in the trace FAILs AVPS-v2.0-48').choices(['development', 'production']).default('development'));
}

/** Opens the inputs a command got (ingesting traces, or opening a store), runs `fn`, closes. */
export async function withInputs(inputs: string[], o: Record<string, unknown>, fn: (opened: Opened) => Promise<void>): Promise<void> {
  const progress = progressDisplay(inputs);
  const opened = await openInputs(inputs, {
    db: o.db as string | false | undefined,
    vm: o.vm as string[] | undefined,
    format: o.inputFormat as string | undefined,
    strict: o.strict as boolean | undefined,
    deviceMap: o.deviceMap as string | undefined,
    assumeDriver: o.assumeDriver as 'linux' | 'none' | undefined,
    manifest: o.manifest as string | undefined,
    profile: o.profile as 'development' | 'production' | undefined,
    onProgress: progress?.update,
  }).finally(() => progress?.done());
  if (opened.swept.length > 0) process.stderr.write(`avpscope: removed ${opened.swept.length} temporary file(s) left by a killed avpscope run: ${opened.swept.join(', ')}\n`);
  try {
    await fn(opened);
  } finally {
    opened.store.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('avpscope')
    .description('Verify and measure virtual platforms (AVPS 2.0, VIRTIO) from their traces')
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerCheck(program);
  registerIngest(program);
  registerPerf(program);
  registerConvert(program);
  registerAlign(program);
  registerGate(program);
  registerSchema(program);
  registerSimulate(program);
  registerRules(program);
  registerExplore(program);
  registerReport(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  cleanUpOnExit();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (e) {
    // the signal's handler ends the process with its own line and code once the workers are stopped
    if (interrupted) return new Promise<number>(() => {});
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.OK : EXIT.INPUT;
    }
    if (e instanceof InputError) {
      process.stderr.write(`avpscope: ${e.describe()}\n`);
      return EXIT.INPUT;
    }
    process.stderr.write(`avpscope: internal error (a bug in avpscope, please report it): ${(e as Error).message}\n`);
    if (process.env.AVPSCOPE_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return EXIT.BUG;
  }
}
