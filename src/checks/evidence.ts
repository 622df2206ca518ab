/**
 * Evidence shows the trace's own lines. Events do not carry their text through the pipeline (that
 * would cost memory on every line), so the lines a report cites are fetched afterwards, with one
 * streamed pass per file.
 */
import type { Ref } from '../model/observations.ts';
import { readLines } from '../ingest/lines.ts';

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
    const last = Math.max(...byLine.keys());
    try {
      for await (const b of readLines(file)) {
        for (let i = 0; i < b.lines.length; i++) {
          const hit = byLine.get(b.first + i);
          if (hit) for (const r of hit) r.raw = b.lines[i];
        }
        if (b.first + b.lines.length > last) break;
      }
    } catch {
      // the evidence keeps its file:line; a file that moved since ingest only loses the text
    }
  }
}
