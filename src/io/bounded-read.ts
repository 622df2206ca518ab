/**
 * Auxiliary files (budgets, and whatever small file a command reads whole) are read with a size
 * limit: `/dev/zero`, a FIFO that never ends or a runaway file is an error naming the file, not
 * memory growing without bound.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { InputError } from '../ingest/errors.ts';

/** Reads a whole file of at most `limit` bytes; `what` names it in errors ("device map"). */
export function readBytesBounded(file: string, limit: number, what: string): Buffer {
  let fd: number;
  try {
    if (statSync(file).isDirectory()) throw new InputError(`the ${what} is a directory`, file);
    fd = openSync(file, 'r');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  const buf = Buffer.allocUnsafe(limit + 1);
  let n = 0;
  try {
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > limit) throw new InputError(`the ${what} is larger than ${limit >> 10} KiB: not a ${what} avpscope writes or reads`, file);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  } finally {
    closeSync(fd);
  }
  return buf.subarray(0, n);
}

/** Reads a whole text file of at most `limit` bytes; `what` names it in errors ("budgets file"). */
export function readTextBounded(file: string, limit: number, what: string): string {
  const bytes = readBytesBounded(file, limit, what);
  if (bytes.includes(0)) throw new InputError(`binary data, not a ${what}`, file);
  return bytes.toString('utf8');
}
