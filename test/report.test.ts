/**
 * `avpscope report`: the page from real traces, its notebooks, several stores side by side, --png,
 * and the page opened in headless chromium (Debian's, which .ci/run installs: without it the
 * browser test fails, it is never skipped). Screenshots are kept under tmp/ as CI artefacts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, openBrowser } from '../src/report/browser.ts';
import { loadNotebooks, parseNotebook } from '../src/report/notebook.ts';
import { InputError } from '../src/ingest/errors.ts';
import { MICROVM_LEGACY, MICROVM_MODERN, real, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'avpscope.js');
const ARTEFACTS = join(ROOT, 'tmp', 'report-screenshots');

function avpscope(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tempDir() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = tempDir();
const page = (name: string) => join(dir, `${name}.html`);
/** name → the inputs of a real run whose report the tests read */
const RUNS: Record<string, string[]> = {
  legacy: [MICROVM_LEGACY],
  sound: [real('qemu-10.0-sound/none-duplex.trace.gz')],
  gpu: ['cluster', 'ivi', 'rear'].map((v) => real(`gpu-multi/${v}.trace.gz`)).concat(['cluster', 'ivi', 'rear'].map((v) => real(`gpu-multi/${v}.guest-ftrace.txt.gz`))),
  xlayer: [real('guest-ftrace/microvm-modern.qemu.trace.gz'), real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz')],
};

beforeAll(() => {
  for (const [name, inputs] of Object.entries(RUNS)) {
    const r = avpscope('report', ...inputs, '--db', join(dir, `${name}.duckdb`), '-o', page(name));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }
});

describe('notebooks', () => {
  it('every notebook in notebooks/ parses: named queries, charts of data sets a query names, prose on how to read them', () => {
    const nbs = loadNotebooks();
    expect(nbs.map((n) => n.id)).toEqual(['audio', 'blk', 'gpu', 'verdicts', 'xlayer']);
    for (const nb of nbs) {
      const charts = nb.parts.filter((p) => p.kind === 'chart');
      expect(charts.length).toBeGreaterThan(0);
      expect(nb.parts.filter((p) => p.kind === 'prose' && /How to read it/.test(p.text)).length).toBe(charts.length);
    }
  });

  it('a broken notebook is an error naming its file and line', () => {
    const bad = (text: string) => {
      try {
        parseNotebook('nb.md', text);
      } catch (e) {
        return e instanceof InputError ? e.describe() : String(e);
      }
      return 'no error';
    };
    expect(bad('# t\n\n```sql\nSELECT 1\n```\n')).toBe('nb.md:3: a sql block needs a name: ```sql name=...');
    expect(bad('```sql name=a\nSELECT 1\n```\n```vega-lite data=b\n{}\n```\n')).toBe('nb.md:4: the chart plots "b", which no sql block names');
    expect(bad('```sql name=a\nSELECT 1\n```\n```vega-lite data=a\n{mark: 1}\n```\n')).toMatch(/^nb\.md:4: vega-lite spec is not JSON/);
    expect(bad('```sql name=a\nSELECT 1\n')).toBe('nb.md:1: code block opened here is never closed');
  });
});

describe('the page', () => {
  it('legacy run: summary, verdict matrix linking each FAIL to its evidence, block charts, and notebooks without data saying so', () => {
    const html = readFileSync(page('legacy'), 'utf8');
    expect(html).toContain('<span class="v-fail">11 FAIL</span><span class="v-not-observed">39 NOT-OBSERVED</span><span class="v-not-applicable">17 NOT-APPLICABLE</span><span class="v-pass">49 PASS</span>');
    expect(html).toContain('<strong>10 MUST requirement(s) fail</strong>');
    // the matrix cell of virtio.version-1 on the block device links to that finding, which cites the GuestPageSize write
    const cell = /<th class="rule">virtio\.version-1 <small>MUST<\/small><\/th>(.*?)<\/tr>/.exec(html)![1]!;
    const links = [...cell.matchAll(/<td class="v-fail"><a href="#(f-0-\d+)"/g)].map((m) => m[1]!);
    expect(links).toHaveLength(4);
    const finding = new RegExp(`id="${links[0]}">([\\s\\S]*?)</div></div>`).exec(html)![1]!;
    expect(finding).toContain('virtio.version-1');
    expect(finding).toMatch(/microvm-legacy\.trace\.gz:24<\/code> <code>\d+@[\d.]+:virtio_mmio_write_offset virtio_mmio_write offset 0x28 value 0x1000/);
    for (const id of ['blk-1', 'blk-2', 'blk-3', 'verdicts-1']) expect(html).toMatch(new RegExp(`<figure class="chart" id="${id}"><svg`));
    for (const nb of ['audio', 'gpu', 'xlayer']) expect(html).toMatch(new RegExp(`id="nb-${nb}">[^\\n]*\\n<p class="nodata">No data for this run`));
    // self-contained: no script, no external reference
    expect(html).not.toMatch(/<script|<link|src="http|href="http|url\(/i);
  });

  it('each kind of run draws its own notebooks: sound (xruns), GPU (per-VM boxes, device share), cross-layer bars', () => {
    const sound = readFileSync(page('sound'), 'utf8');
    expect(sound).toMatch(/<figure class="chart" id="audio-1"><svg/);
    expect(sound).toContain('underrun');
    const gpu = readFileSync(page('gpu'), 'utf8');
    for (const vm of ['cluster', 'ivi', 'rear']) expect(gpu).toContain(`>${vm}</text>`);
    expect(gpu).toMatch(/<figure class="chart" id="gpu-2"><svg/);
    const x = readFileSync(page('xlayer'), 'utf8');
    expect(x).toMatch(/<figure class="chart" id="xlayer-1"><svg/);
    for (const layer of ['backend', 'inject', 'queue']) expect(x).toContain(`>${layer}</text>`);
  });

  it('several stores side by side: one section per run, distributions overlaid with each run in the legend', () => {
    const a = join(dir, 'legacy.duckdb');
    const b = join(tempDir(), 'modern.duckdb');
    expect(avpscope('ingest', MICROVM_MODERN, '--db', b).code).toBe(0);
    const out = join(dir, 'both.html');
    const r = avpscope('report', a, b, '-o', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('2 run(s) (legacy, modern)');
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('<h2 id="run-0">Run legacy</h2>');
    expect(html).toContain('<h2 id="run-1">Run modern</h2>');
    const cdf = /<figure class="chart" id="blk-1">([\s\S]*?)<\/figure>/.exec(html)![1]!;
    expect(cdf).toContain('>legacy</text>');
    expect(cdf).toContain('>modern</text>');
  });

  it('-o is replaced only by a complete page: a failed report leaves the old file as it was', () => {
    const out = join(tempDir(), 'r.html');
    writeFileSync(out, 'old page');
    const r = avpscope('report', join(tempDir(), 'missing.trace.gz'), '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.trace\.gz: no such file/);
    expect(readFileSync(out, 'utf8')).toBe('old page');
    expect(readdirSync(join(out, '..'))).toEqual(['r.html']);
  });
});

describe('in a real browser (headless chromium)', () => {
  it('chromium is installed (.ci/run installs Debian\'s package)', () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`).toBe(true);
  });

  it('every chart has rendered marks, the page makes no network request and logs no console error; screenshots kept', async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    const b = await openBrowser();
    try {
      for (const name of Object.keys(RUNS)) {
        const p = await b.context.newPage();
        const url = pathToFileURL(page(name)).href;
        const requests: string[] = [];
        const errors: string[] = [];
        p.on('request', (r) => {
          if (r.url() !== url) requests.push(r.url());
        });
        p.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        p.on('pageerror', (e) => errors.push(e.message));
        await p.setViewportSize({ width: 1200, height: 900 });
        await p.goto(url, { waitUntil: 'load' });
        const charts = await p.$$eval('figure.chart', (figs) =>
          figs.map((f) => ({
            id: f.id,
            // vega's SVG: one g.role-mark per mark, with the shapes it drew
            marks: [...f.querySelectorAll('g.role-mark')].reduce((n, g) => n + g.querySelectorAll('path, rect, line, circle, text').length, 0),
            width: f.querySelector('svg')!.getBoundingClientRect().width,
          })),
        );
        expect(charts.length, name).toBeGreaterThan(0);
        for (const c of charts) {
          expect(c.marks, `${name} ${c.id}`).toBeGreaterThan(0);
          expect(c.width, `${name} ${c.id}`).toBeGreaterThan(100);
        }
        expect(requests, name).toEqual([]);
        expect(errors, name).toEqual([]);
        await p.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage: true });
        await p.close();
      }
    } finally {
      await b.close();
    }
    for (const name of Object.keys(RUNS)) expect(readFileSync(join(ARTEFACTS, `${name}.png`)).subarray(1, 4).toString()).toBe('PNG');
  });

  it('--png writes each drawn chart as a PNG', () => {
    const pngs = join(tempDir(), 'png');
    const r = avpscope('report', join(dir, 'legacy.duckdb'), '-o', join(dir, 'again.html'), '--png', pngs);
    expect(r.code).toBe(0);
    expect(readdirSync(pngs).sort()).toEqual(['blk-1.png', 'blk-2.png', 'blk-3.png', 'verdicts-1.png']);
    for (const f of readdirSync(pngs)) expect(readFileSync(join(pngs, f)).subarray(1, 4).toString()).toBe('PNG');
  });
});
