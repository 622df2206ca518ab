/**
 * The period a stream settles on: the median time per period returned, over the stream's ticks.
 * A median, so that the odd late tick or burst does not move it; kept as a histogram of 10 µs bins
 * so that memory does not grow with the length of the stream.
 */
const BIN_NS = 10_000;

export class PeriodClock {
  private readonly bins = new Map<number, number>();
  private n = 0;

  /** A tick that returned `periods` periods `intervalNs` after the previous one. */
  add(intervalNs: number, periods: number): void {
    if (periods <= 0 || intervalNs <= 0) return;
    const bin = Math.round(intervalNs / periods / BIN_NS);
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + periods);
    this.n += periods;
  }

  /** ns per period, or undefined before the first tick with an interval. */
  median(): number | undefined {
    if (this.n === 0) return undefined;
    const sorted = [...this.bins.entries()].sort((a, b) => a[0] - b[0]);
    let seen = 0;
    for (const [bin, count] of sorted) {
      seen += count;
      if (seen * 2 >= this.n) return bin * BIN_NS;
    }
    return undefined;
  }
}
