/**
 * The trace lines a report cites are read back from the file after the replay (src/checks/evidence.ts):
 * each cited line's text exactly as the text readers give it, whatever chunk it falls in.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { attachRawLines } from '../src/checks/evidence.ts';
import type { Ref } from '../src/model/observations.ts';
import { tempDir } from './helpers.ts';

// ~600 KiB: several read chunks; CRLF and LF ends, multi-byte UTF-8, an invalid byte, an empty line
const lines = Array.from({ length: 9000 }, (_, i) => (i % 7 === 3 ? '' : `${i}@1.${String(i).padStart(6, '0')}:virtio_notify vdev 0x55d0 vq 0x55d1 — ü€ ${'x'.repeat(i % 50)}`));
const text = lines.map((l, i) => l + (i % 3 === 0 ? '\r\n' : '\n')).join('');
const bytes = Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0x0a]), Buffer.from('last line, no newline')]);
const expected = [...text.split('\n').slice(0, -1).map((l) => l.replace(/\r$/, '')), '\ufffd', 'last line, no newline'];

describe('evidence lines read back from the trace', () => {
  it.each([['plain', bytes], ['gzip', gzipSync(bytes)]] as const)('%s', async (kind, data) => {
    const file = join(tempDir(), `t.${kind}`);
    writeFileSync(file, data);
    const cited = [1, 2, 4, 1000, 1000, 4470, 8999, 9000, 9001, 9002];
    const refs: Ref[] = cited.map((line) => ({ ts: 0, src: { file, line } }));
    await attachRawLines(refs);
    expect(refs.map((r) => r.raw)).toEqual(cited.map((l) => expected[l - 1]));
  });

  it('a file gone since the ingest only loses the text', async () => {
    const refs: Ref[] = [{ ts: 0, src: { file: join(tempDir(), 'gone.trace'), line: 3 } }];
    await attachRawLines(refs);
    expect(refs[0]!.raw).toBeUndefined();
  });
});
