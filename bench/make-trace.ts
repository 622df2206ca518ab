/**
 * Builds a large trace from a real one by repeating it: each copy moved later in time by the
 * trace's own span, its element pointers moved to fresh addresses and its block sectors moved
 * forward, so that every request is a new request. Device and queue pointers stay: one VM that
 * keeps running (and resetting its devices, as the real trace does at its end).
 *
 * Works on QEMU logs (`pid@sec.usec:`) and Linux ftrace text (`... sec.usec: event:`).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { lines } from '../test/helpers.ts';

export type TraceFormat = 'qemu' | 'ftrace';

const QEMU_TIME = /^(\d+@)(\d+)\.(\d{6}):/;
const FTRACE_TIME = / (\d+)\.(\d{6}): /;
const ELEM = /(elem|req) 0x([0-9a-f]+)/g;
const SECTOR = /sector (\d+)/;

export async function makeTrace(source: string, format: TraceFormat, out: string, minLines: number): Promise<number> {
  const base = lines(source);
  const timeRe = format === 'qemu' ? QEMU_TIME : FTRACE_TIME;
  const secs = base.map((l) => timeRe.exec(l)).filter((m) => m !== null).map((m) => Number(m[format === 'qemu' ? 2 : 1]));
  const span = Math.max(...secs) - Math.min(...secs) + 1;
  const copies = Math.ceil(minLines / base.length);
  const w = createWriteStream(out);
  let written = 0;
  for (let c = 0; c < copies; c++) {
    const shiftSec = c * span;
    const chunk: string[] = [];
    for (const l of base) {
      let x = l;
      if (c > 0) {
        x = format === 'qemu'
          ? x.replace(QEMU_TIME, (_m, p, s, u) => `${p}${Number(s) + shiftSec}.${u}:`)
          : x.replace(FTRACE_TIME, (_m, s, u) => ` ${Number(s) + shiftSec}.${u}: `);
        x = x.replace(ELEM, (_m, k, hex) => `${k} 0x${(BigInt('0x' + hex) + BigInt(c) * 0x100000000n).toString(16)}`);
        x = x.replace(SECTOR, (_m, s) => `sector ${Number(s) + c * 65536}`);
      }
      chunk.push(x);
    }
    written += chunk.length;
    if (!w.write(chunk.join('\n') + '\n')) await once(w, 'drain');
  }
  await new Promise<void>((res, rej) => w.end((e?: Error | null) => (e ? rej(e) : res())));
  return written;
}
