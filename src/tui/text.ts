/** Small text helpers for terminal views: fixed-width cells, sparklines, bars. */

export function fit(s: string, width: number): string {
  if (width <= 0) return '';
  return s.length > width ? s.slice(0, Math.max(0, width - 1)) + '…' : s.padEnd(width);
}

export function right(s: string, width: number): string {
  return s.length >= width ? s : s.padStart(width);
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest; a missing value is a space. */
export function sparkline(values: (number | null)[]): string {
  const max = Math.max(0, ...values.map((v) => v ?? 0));
  return values.map((v) => (v === null ? ' ' : SPARKS[max === 0 ? 0 : Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

export function bar(n: number, max: number, width: number): string {
  const w = max === 0 ? 0 : Math.round((n / max) * width);
  return '█'.repeat(Math.max(n > 0 ? 1 : 0, w));
}

/** Seconds on the run clock, to the µs. */
export function seconds(ns: number): string {
  return (ns / 1e9).toFixed(6);
}

/** The first `height` lines from `offset`, keeping `cursor` visible. */
export function windowStart(cursor: number, offset: number, height: number, total: number): number {
  let o = offset;
  if (cursor < o) o = cursor;
  if (cursor >= o + height) o = cursor - height + 1;
  return Math.max(0, Math.min(o, Math.max(0, total - height)));
}

/** `s` on at most `rows` lines of `width`, broken at spaces where it can be; the last line may be cut (…). */
export function wrap(s: string, width: number, rows: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest.length > 0 && out.length < rows) {
    if (rest.length <= width) {
      out.push(rest);
      break;
    }
    if (out.length === rows - 1) {
      out.push(fit(rest, width));
      break;
    }
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 2 ? space : width;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  while (out.length < rows) out.push('');
  return out;
}
