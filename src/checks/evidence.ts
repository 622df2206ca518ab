/**
 * Evidence shows the trace's own lines. Events do not carry their text through the pipeline (that
 * would cost memory on every line), so the lines a report cites are fetched afterwards, with one
 * streamed pass per file up to the last line cited. The pass reads bytes and decodes only the cited
 * lines: on a large trace it reads as fast as the file comes.
 */
import type { Ref } from '../model/observations.ts';
import { readByteLines } from '../ingest/lines.ts';

export async function attachRawLines(refs: Ref[]): Promise<void> {
  const wanted = new Map<string, Map<number, Ref[]>>();
  for (const r of refs) {
    if (r.raw !== undefined || !r.src) continue;
    let byLine = wanted.get(r.src.file);
    if (!byLine) wanted.set(r.src.file, (byLine = new Map()));
    const list = byLine.get(r.src.line);
    if (list) list.push(r);
    else byLine.set(r.src.line, [r]);
  }
  for (const [file, byLine] of wanted) {
    const lines = [...byLine.keys()].sort((a, b) => a - b);
    let next = 0;
    try {
      for await (const b of readByteLines(file)) {
        for (; next < lines.length && lines[next]! < b.first + b.count; next++) {
          const i = lines[next]! - b.first;
          let end = b.ends[i]!;
          if (end > 0 && b.bytes[end - 1] === 13) end--; // CR LF: the text readers drop the CR
          const raw = b.bytes.toString('utf8', i === 0 ? 0 : b.ends[i - 1]! + 1, end);
          for (const r of byLine.get(lines[next]!)!) r.raw = raw;
        }
        if (next === lines.length) break;
      }
    } catch {
      // the evidence keeps its file:line; a file that moved since ingest only loses the text
    }
  }
}
