/**
 * The explorer, driven key by key with ink-testing-library on stores of real traces: the legacy
 * microvm run (FAILs), the QEMU 10 sound run (real underruns) and the three-VM GPU run. Expected
 * verdict counts are read from the store's findings with SQL, so the tests follow the rules.
 */
// colours on, so that NO_COLOR's effect is visible in the frames (set before ink loads chalk)
process.env.FORCE_COLOR = '1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreHandle } from '../src/perf/store.ts';
import type { Report } from '../src/api/report.ts';
import { MICROVM_LEGACY, real } from './helpers.ts';

const { render } = await import('ink-testing-library');
const { App } = await import('../src/tui/app.tsx');
const { ingest } = await import('../src/api/ingest.ts');
const { loadReport } = await import('../src/api/report.ts');
const { eventWindow, eventWindowQuery, searchQuery } = await import('../src/api/explore.ts');
const { queryRows } = await import('../src/perf/store.ts');

const ORDER = ['FAIL', 'NOT-OBSERVED', 'DECLARED', 'NOT-APPLICABLE', 'PASS'];
/** "N FAIL, N NOT-OBSERVED, ..." of the findings matching `where`, in the explorer's order. */
async function countsLine(run: Run, where = 'TRUE'): Promise<string> {
  const rows = await queryRows(run.store.conn, `SELECT verdict, count(*) AS n FROM findings WHERE ${where} GROUP BY verdict`);
  const rank = (v: string) => (ORDER.indexOf(v) < 0 ? ORDER.length : ORDER.indexOf(v));
  return rows
    .sort((a, b) => rank(a.verdict as string) - rank(b.verdict as string))
    .map((r) => `${r.n} ${r.verdict}`)
    .join(', ');
}

const ESC = '\x1b';
const KEY = { enter: '\r', esc: ESC, tab: '\t', shiftTab: `${ESC}[Z`, pgDn: `${ESC}[6~`, pgUp: `${ESC}[5~`, left: `${ESC}[D`, right: `${ESC}[C` };

interface Run {
  store: StoreHandle;
  report: Report;
}

async function open(files: string[]): Promise<Run> {
  const { store } = await ingest({ files, db: ':memory:' });
  return { store, report: await loadReport(store.conn) };
}

// eslint-free ANSI strip: colour and inverse codes
const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;]*m/g, '');

async function until(frame: () => string | undefined, ok: (f: string) => boolean, what: string): Promise<string> {
  const end = Date.now() + 8000;
  while (Date.now() < end) {
    const f = plain(frame());
    if (ok(f)) return f;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}; last frame:\n${plain(frame())}`);
}

async function press(stdin: { write(s: string): void }, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    stdin.write(k);
    // ink parses input per chunk: let each key be handled before the next
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** The App as a terminal user meets it: drawn, and listening (ink subscribes after the first frame). */
async function started(run: Run, size = { cols: 80, rows: 24 }, color = false) {
  const t = render(<App conn={run.store.conn} report={run.report} size={size} theme={{ color }} />);
  await until(t.lastFrame, (x) => /Verdicts: \d/.test(x), 'the overview');
  await new Promise((r) => setTimeout(r, 100));
  return t;
}

let legacy: Run;
let sound: Run;
let gpu: Run;
beforeAll(async () => {
  legacy = await open([MICROVM_LEGACY]);
  sound = await open([real('qemu-10.0-sound/none-duplex.trace.gz')]);
  gpu = await open(['cluster', 'ivi', 'rear'].map((v) => real(`gpu-multi/${v}.trace.gz`)));
});
afterAll(() => {
  for (const r of [legacy, sound, gpu]) r?.store.close();
});

describe('overview', () => {
  it('shows the trace, the verdict counts by target, each device with type, how known and transport, and input problems', async () => {
    const all = await countsLine(legacy);
    const device = await countsLine(legacy, "target = 'device'");
    expect(all).toMatch(/^\d+ FAIL, /);
    const t = await started(legacy, { cols: 120, rows: 40 });
    const f = await until(t.lastFrame, (x) => x.includes(`Verdicts: ${all}`), 'verdict counts');
    expect(f).toContain('trace ');
    expect(f).toContain('microvm-legacy.trace.gz');
    expect(f).toMatch(new RegExp(`device\\s+${device}`));
    expect(f).toMatch(/0x55b9d8333cf0\s+blk\s+seen\s+mmio v1/);
    expect(f).toMatch(/0x55b9d8c3bd80\s+net\s+inferred\s+mmio v1/);
    expect(f).toContain('Input problems: none');
    t.unmount();
  });

  it('fits 80x24 exactly: 24 lines, none wider than 80, the bottom line showing the main keys', async () => {
    const t = await started(legacy);
    const f = await until(t.lastFrame, (x) => x.includes('Verdicts'), 'overview');
    const lines = f.split('\n');
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[23]).toContain('Tab pane');
    expect(lines[23]).toContain('q quit');
    expect(lines[23]).toContain('? keys');
    t.unmount();
  });

  it('follows a resize: a larger terminal shows more lines and wider cells', async () => {
    const t = await started(legacy);
    await until(t.lastFrame, (x) => x.includes('Verdicts'), 'overview');
    t.rerender(<App conn={legacy.store.conn} report={legacy.report} size={{ cols: 120, rows: 40 }} theme={{ color: false }} />);
    const f = await until(t.lastFrame, (x) => x.split('\n').length === 40, '40 lines');
    expect(Math.max(...f.split('\n').map((l) => l.length))).toBeGreaterThan(80);
    t.unmount();
  });
});

describe('verdicts the explorer does not know yet', () => {
  it('counts and lists them as they are, by target (DECLARED, and a verdict it does not know)', async () => {
    const run = await open([MICROVM_LEGACY]);
    try {
      await run.store.conn.run("UPDATE findings SET verdict = 'DECLARED' WHERE rule = 'AVPS-v2.0-4'");
      await run.store.conn.run("UPDATE findings SET verdict = 'SOMETHING-NEW' WHERE rule = 'AVPS-v2.0-5'");
      run.report = await loadReport(run.store.conn);
      const all = await countsLine(run);
      expect(all).toContain('SOMETHING-NEW');
      const t = await started(run, { cols: 120, rows: 30 });
      const f = await until(t.lastFrame, (x) => x.includes('SOMETHING-NEW'), 'the new verdicts');
      expect(f).toContain(`Verdicts: ${all}`);
      for (const target of ['device', 'driver', 'platform']) {
        expect(f).toMatch(new RegExp(`^  ${target}\\s+${await countsLine(run, `target = '${target}'`)}$`, 'm'));
      }
      t.unmount();
    } finally {
      run.store.close();
    }
  });
});

describe('findings and evidence', () => {
  it("reaches a FAIL's evidence from the overview in two keys (e, Enter), the cited line marked", async () => {
    const t = await started(legacy, { cols: 120, rows: 30 });
    await until(t.lastFrame, (x) => x.includes('Verdicts'), 'overview');
    await press(t.stdin, 'e', KEY.enter);
    const f = await until(t.lastFrame, (x) => x.includes('Evidence'), 'evidence');
    expect(f).toContain('FAIL MUST virtio.version-1');
    // the GuestPageSize write (offset 0x28) of the legacy transport, cited, with lines around it
    expect(f).toMatch(/>\s+24\s+\S+virtio_mmio_write_offset virtio_mmio_write offset 0x28/);
    expect(f).toMatch(/^\s+23\s/m);
    expect(f).toMatch(/^\s+25\s/m);
    t.unmount();
  });

  it('keys that arrive in one chunk (typed fast, or tmux send-keys e Enter) act one by one', async () => {
    const t = await started(legacy, { cols: 120, rows: 30 });
    t.stdin.write('e\r');
    const f = await until(t.lastFrame, (x) => x.includes('Evidence'), 'evidence');
    expect(f).toMatch(/>\s+24\s/);
    t.unmount();
  });

  it("Enter on an evidence line shows that line's canonical event with every field; Esc goes back", async () => {
    const t = await started(legacy);
    await until(t.lastFrame, (x) => x.includes('Verdicts'), 'overview');
    await press(t.stdin, 'e', KEY.enter);
    await until(t.lastFrame, (x) => x.includes('>     24'), 'evidence');
    await press(t.stdin, KEY.enter);
    const f = await until(t.lastFrame, (x) => x.includes('kind mmio.write'), 'event fields');
    expect(f).toMatch(/offset\s+40/);
    expect(f).toMatch(/value\s+4096/);
    expect(f).toContain('dev       0x55b9d8333cf0 (inferred)');
    await press(t.stdin, KEY.esc);
    await until(t.lastFrame, (x) => x.includes('Evidence'), 'back to the evidence');
    await press(t.stdin, KEY.esc);
    await until(t.lastFrame, (x) => x.includes('requirement'), 'back to the list');
    t.unmount();
  });

  it('e and E walk the FAILs forwards and backwards, wrapping; j/k, g/G and PgDn/PgUp move the cursor', async () => {
    const fails = legacy.report.findings.map((f, i) => [f, i] as const).filter(([f]) => f.verdict === 'FAIL');
    const { n } = (await queryRows(legacy.store.conn, "SELECT count(*) AS n FROM findings WHERE verdict = 'FAIL'"))[0]!;
    expect(fails.length).toBe(n);
    expect(fails.length).toBeGreaterThan(1);
    // a terminal tall enough for every finding: PgUp from the last row then lands on the first
    const rows = legacy.report.findings.length + 20;
    const t = await started(legacy, { cols: 120, rows });
    await press(t.stdin, '2');
    const selected = async () => {
      // the selected row is the inverse one: read it from the coloured frame
      await new Promise((r) => setTimeout(r, 60));
      const row = (t.lastFrame() ?? '').split('\n').find((l) => l.includes('\x1b[7m'));
      return plain(row).trim();
    };
    await until(t.lastFrame, (x) => x.includes('requirement'), 'findings');
    await press(t.stdin, 'e');
    const first = await selected();
    expect(first).toMatch(/^FAIL/);
    await press(t.stdin, 'e');
    const second = await selected();
    expect(second).toMatch(/^FAIL/);
    expect(second).not.toBe(first);
    await press(t.stdin, 'E');
    expect(await selected()).toBe(first);
    await press(t.stdin, 'g');
    expect(await selected()).toContain(legacy.report.findings[0]!.rule);
    await press(t.stdin, 'j');
    expect(await selected()).toContain(legacy.report.findings[1]!.rule);
    await press(t.stdin, 'k');
    expect(await selected()).toContain(legacy.report.findings[0]!.rule);
    await press(t.stdin, 'G');
    expect(await selected()).toContain(legacy.report.findings.at(-1)!.rule);
    await press(t.stdin, KEY.pgUp);
    expect(await selected()).toContain(legacy.report.findings[0]!.rule);
    await press(t.stdin, KEY.pgDn);
    await press(t.stdin, KEY.pgDn);
    expect(await selected()).toContain(legacy.report.findings.at(-1)!.rule);
    t.unmount();
  });
});

describe('evidence when the trace file is gone', () => {
  it("shows the store's events of the cited lines instead, and says so", async () => {
    const { copyFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tempDir } = await import('./helpers.ts');
    const { evidenceContext } = await import('../src/api/explore.ts');
    const copy = join(tempDir(), 'legacy.trace.gz');
    copyFileSync(MICROVM_LEGACY, copy);
    const run = await open([copy]);
    try {
      rmSync(copy);
      const ctx = await evidenceContext(run.store.conn, copy, [24], 2);
      expect(ctx.from).toBe('store');
      // line 25 (virtio_mmio_guest_page) became no event: the store has nothing of it
      expect(ctx.lines.map((l) => l.line)).toEqual([22, 23, 24, 26]);
      expect(ctx.lines.find((l) => l.cited)).toEqual({ line: 24, text: 'mmio.write 0x55b9d8333cf0 {"offset":40,"value":4096}', cited: true });
    } finally {
      run.store.close();
    }
  });
});

describe('panes, help and colour', () => {
  it('Tab and Shift-Tab cycle the panes, 1-4 jump to one; ? shows every key and any key closes it', async () => {
    const t = await started(legacy);
    const tab = async (name: string) => until(t.lastFrame, (x) => x.split('\n')[0]!.includes(`[${name}]`), name);
    await tab('1 Overview');
    await press(t.stdin, KEY.tab);
    await tab('2 Findings');
    await press(t.stdin, KEY.tab);
    await tab('3 Latency');
    await press(t.stdin, KEY.shiftTab);
    await tab('2 Findings');
    await press(t.stdin, '4');
    await tab('4 Events');
    await press(t.stdin, '?');
    const h = await until(t.lastFrame, (x) => x.includes('Everywhere'), 'help');
    for (const k of ['e E', '/', 'PgDn PgUp', 'g G', 'Tab / S-Tab', 'q']) expect(h).toContain(`  ${k}`);
    await press(t.stdin, 'x');
    await until(t.lastFrame, (x) => x.includes('time (s)'), 'back to events');
    t.unmount();
  });

  it('colours verdicts, and with NO_COLOR (theme without colour) writes no colour code, only inverse for the selection', async () => {
    const { themeFromEnv } = await import('../src/tui/theme.ts');
    expect(themeFromEnv({ NO_COLOR: '1' }).color).toBe(false);
    expect(themeFromEnv({}).color).toBe(true);
    const colored = await started(legacy, { cols: 80, rows: 24 }, true);
    await press(colored.stdin, '2');
    await until(colored.lastFrame, (x) => x.includes('requirement'), 'findings');
    expect(colored.lastFrame()).toMatch(/\x1b\[3[1-7]m/);
    colored.unmount();
    const mono = await started(legacy, { cols: 80, rows: 24 }, false);
    await press(mono.stdin, '2');
    await until(mono.lastFrame, (x) => x.includes('requirement'), 'findings');
    const codes = new Set((mono.lastFrame() ?? '').match(/\x1b\[[0-9;]*m/g));
    for (const c of codes) expect(['\x1b[7m', '\x1b[27m', '\x1b[1m', '\x1b[22m', '\x1b[39m', '\x1b[0m']).toContain(c);
    mono.unmount();
  });
});

describe('latency', () => {
  it('block: the percentile table per device and op, a histogram and the latency over time of the selected row', async () => {
    const t = await started(legacy);
    await press(t.stdin, '3');
    const f = await until(t.lastFrame, (x) => x.includes('over time'), 'block latency');
    expect(f).toContain('[block]');
    expect(f).toMatch(/0x55b9d8333cf0\s+discard_or_write_zeroes\s+1\s+64\.0 µs/);
    expect(f).toMatch(/write\s+257\s/);
    await press(t.stdin, 'G');
    const w = await until(t.lastFrame, (x) => x.includes('write of 0x55b9d8333cf0: how many took at least'), 'write histogram');
    // 257 writes spread over the bins, and a sparkline of them
    expect(w).toMatch(/█/);
    expect(w).toMatch(/[▁▂▃▄▅▆▇█]{5}/);
    t.unmount();
  });

  it('GPU: per VM, side and command type', async () => {
    const t = await started(gpu, { cols: 100, rows: 30 });
    await press(t.stdin, '3', 'l');
    const f = await until(t.lastFrame, (x) => x.includes('[GPU]') && x.includes('RESOURCE_FLUSH'), 'GPU latency');
    expect(f).toMatch(/cluster\s+host\s+GET_DISPLAY_INFO/);
    t.unmount();
  });

  it('audio: period returns per stream with the underruns (U) and overruns (O) marked on the time axis', async () => {
    const t = await started(sound, { cols: 100, rows: 30 });
    await press(t.stdin, '3', 'h');
    const f = await until(t.lastFrame, (x) => x.includes('[audio]') && /U \d+ O \d+/.test(x), 'audio latency');
    expect(f).toMatch(/stream 0\s+731/);
    // stream 0 has the three underruns perf audio lists, stream 1 the overrun
    expect(f).toContain('U 3 O 0');
    const marks = f.split('\n').find((l) => l.startsWith('U 3 O 0'))!;
    expect(marks.slice(12).replace(/ /g, '')).toBe('UUU');
    await press(t.stdin, 'j');
    const g = await until(t.lastFrame, (x) => x.includes('U 0 O 1'), 'stream 1');
    expect(g.split('\n').find((l) => l.startsWith('U 0 O 1'))!.slice(12).trim()).toBe('O');
    t.unmount();
  });

  it('no data says so; s shows the SQL behind the view', async () => {
    const t = await started(legacy);
    await press(t.stdin, '3', 'h');
    await until(t.lastFrame, (x) => x.includes('No audio latency in this run'), 'no audio');
    await press(t.stdin, 'l', 's');
    const f = await until(t.lastFrame, (x) => x.includes('SQL of this view'), 'SQL');
    expect(f).toContain('FROM blk_requests');
    t.unmount();
  });
});

describe('events', () => {
  it('lists only a window of rows, scrolls with j/k/PgDn/PgUp/g/G, Enter shows the fields', async () => {
    const t = await started(legacy);
    await press(t.stdin, '4');
    const rowsOf = (f: string) => f.split('\n').filter((l) => /^\s+\d+ \d+\.\d{6} /.test(l));
    const f = await until(t.lastFrame, (x) => x.includes('4482 events') && rowsOf(x).length > 0, 'events');
    // header, column names, 20 rows, bottom line: only the visible rows are there
    expect(rowsOf(f)).toHaveLength(20);
    await press(t.stdin, 'G');
    await until(t.lastFrame, (x) => /^\s+4481 /m.test(x), 'last event');
    await press(t.stdin, 'g');
    await until(t.lastFrame, (x) => /^\s+0 /m.test(x), 'first event');
    await press(t.stdin, KEY.pgDn);
    await until(t.lastFrame, (x) => /^\s+20 /m.test(x) && !/^\s+0 /m.test(x), 'second page');
    await press(t.stdin, KEY.pgUp);
    await until(t.lastFrame, (x) => /^\s+0 /m.test(x), 'first page again');
    for (let i = 0; i < 20; i++) await press(t.stdin, 'j');
    await until(t.lastFrame, (x) => /^\s+20 /m.test(x) && !/^\s+0 /m.test(x), 'scrolled by one');
    await press(t.stdin, KEY.enter);
    await until(t.lastFrame, (x) => x.includes('event #20'), 'fields of event 20');
    t.unmount();
  });

  it('/ searches, n and N go to the next and previous match', async () => {
    const t = await started(legacy);
    await press(t.stdin, '4');
    await until(t.lastFrame, (x) => x.includes('4482 events'), 'events');
    await press(t.stdin, '/', ...'vq.pop', KEY.enter);
    const first = (await eventWindow(legacy.store.conn, { kind: 'vq.pop' }, 'start', 2)).events.map((e) => e.seq);
    await until(t.lastFrame, (x) => x.includes(`"vq.pop": event #${first[0]}`), 'first match');
    await press(t.stdin, 'n');
    await until(t.lastFrame, (x) => x.includes(`"vq.pop": event #${first[1]}`), 'next match');
    await press(t.stdin, 'N');
    await until(t.lastFrame, (x) => x.includes(`"vq.pop": event #${first[0]}`), 'previous match');
    t.unmount();
  });

  it('d, t and r filter by device, kind and time range; c clears; s shows the SQL with the values in place', async () => {
    const t = await started(legacy, { cols: 140, rows: 30 });
    await press(t.stdin, '4');
    await until(t.lastFrame, (x) => x.includes('4482 events'), 'events');
    await press(t.stdin, 'd');
    const dev = legacy.report.devices[0]!.dev;
    const rowsOf = (x: string) => x.split('\n').filter((l) => /^\s+\d+ \d+\.\d{6} /.test(l));
    // the window is read again under the filter: every row shown is the device's
    await until(t.lastFrame, (x) => x.includes(`dev ${dev}`) && rowsOf(x).length > 0 && rowsOf(x).every((r) => r.includes(dev)), 'device filter');
    await press(t.stdin, 't');
    await until(t.lastFrame, (x) => /kind \S+/.test(x) && !x.includes('kind all'), 'kind filter');
    await press(t.stdin, 'c', 'r', ...'3-3.5', KEY.enter);
    const times = (f: string) => f.split('\n').filter((l) => /^\s+\d+ \d+\.\d{6} /.test(l)).map((l) => Number(l.trim().split(/\s+/)[1]));
    // the window is read again under the new filter: every row shown is in the range
    await until(t.lastFrame, (x) => x.includes('time 3.000000-3.500000 s') && times(x).length > 0 && times(x).every((v) => v >= 3 && v <= 3.5), 'time filter');
    await press(t.stdin, 's');
    const s = await until(t.lastFrame, (x) => x.includes('SQL of this view'), 'SQL');
    expect(s).toContain('ts >= 3000000000 AND ts <= 3500000000');
    t.unmount();
  });

  it('binds every filter value: a quote in a device name is data, not SQL', async () => {
    const evil = "x' OR '1'='1";
    const q = eventWindowQuery({ dev: evil, kind: evil }, { dir: 'next', seq: -1 }, 10, 100);
    expect(q.sql).not.toContain(evil);
    expect(Object.values(q.params)).toContain(evil);
    expect(searchQuery({}, evil, { dir: 'next', seq: 0 }, 100).sql).not.toContain(evil);
    expect((await eventWindow(legacy.store.conn, { dev: evil }, 'start', 10)).events).toEqual([]);
  });
});
