/** Report files written whole or not at all: a reader never sees half a report, a failed run never leaves one. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../ingest/errors.ts';

export function writeWhole(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new InputError(`cannot write the report: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
}
