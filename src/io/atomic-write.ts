/**
 * Every file avpscope writes (`-o` of every command, the store) is written to a temporary file in
 * the same directory and renamed over the target only when complete: a failed or interrupted
 * command leaves the earlier file as it was, and no partial file. An input is never an output.
 */
import { createWriteStream, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../ingest/errors.ts';
import { removeTemp, release, sweepStale, tempBeside } from './temp-files.ts';

/** dev:ino of an existing file, or undefined. */
function identity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Refuses an output path that names one of the inputs (the same file, however named: a hard link,
 * a symlink, `./x` and `x` share device and inode), or that cannot be a file: a directory, a
 * missing directory.
 * `what` names the option (`-o`, `--db`).
 */
export function checkOutputPath(out: string, inputs: readonly string[], what: string): void {
  let st;
  try {
    st = statSync(out);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new InputError(`${what}: is a directory; give a file name`, out);
  if (st && !st.isFile()) throw new InputError(`${what}: not a regular file (a device, FIFO or socket); give a file name`, out);
  const dir = dirname(out);
  try {
    if (!statSync(dir).isDirectory()) throw new InputError(`${what}: ${dir} is not a directory`, out);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: no such directory ${dir}`, out);
  }
  const id = identity(out);
  if (id === undefined) return;
  for (const i of inputs) {
    if (i !== '-' && identity(i) === id) throw new InputError(`${what}: is also an input (${i}); an input is never overwritten: give another output file`, out);
  }
}

export interface AtomicFile {
  /** where the bytes go until commit */
  stream: WriteStream;
  /** flushes, closes and renames the temporary file over the target */
  commit(): Promise<void>;
  /** closes and removes the temporary file; the target is untouched */
  abort(): void;
}

/** Opens `target` for an atomic write (see the module comment). */
export async function openAtomic(target: string, inputs: readonly string[], what: string): Promise<AtomicFile> {
  checkOutputPath(target, inputs, what);
  sweepStale(target);
  const tmp = tempBeside(target);
  const stream = createWriteStream(tmp, { flags: 'wx' });
  await new Promise<void>((res, rej) => {
    stream.once('open', () => res());
    stream.once('error', (e) => rej(new InputError(`${what}: cannot write beside it (${(e as NodeJS.ErrnoException).code ?? e.message})`, target)));
  });
  let done = false;
  return {
    stream,
    async commit() {
      await new Promise<void>((res, rej) => stream.end((e?: Error | null) => (e ? rej(e) : res())));
      try {
        renameSync(tmp, target);
      } catch (e) {
        removeTemp(tmp);
        throw new InputError(`${what}: cannot replace it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, target);
      }
      release(tmp);
      done = true;
    },
    abort() {
      if (done) return;
      stream.destroy();
      removeTemp(tmp);
    },
  };
}

/** Writes a whole text (or bytes) atomically. */
export async function writeFileAtomic(target: string, text: string | Uint8Array, inputs: readonly string[], what: string): Promise<void> {
  const f = await openAtomic(target, inputs, what);
  try {
    if (!f.stream.write(text)) await new Promise<void>((res) => f.stream.once('drain', () => res()));
    await f.commit();
  } catch (e) {
    f.abort();
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, target);
  }
}
