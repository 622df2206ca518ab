/**
 * Debian's chromium, driven by playwright-core (which cannot download a browser here): for the
 * charts as PNG, and for the tests that open the report. Headless, offline, a fresh profile.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { InputError } from '../ingest/errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';

export const CHROMIUM = process.env.AVPSCOPE_CHROMIUM ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(opts: { scale?: number } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new InputError('chromium is needed to draw PNGs (Debian: apt-get install chromium; or set AVPSCOPE_CHROMIUM)', CHROMIUM);
  const profile = mkdtempSync(join(tmpdir(), 'avpscope-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    deviceScaleFactor: opts.scale ?? 1,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Each SVG as a PNG of its own size (at 2x for sharp text), each file written whole or not at all. */
export async function svgsToPng(svgs: { svg: string; file: string }[], inputs: readonly string[]): Promise<void> {
  const b = await openBrowser({ scale: 2 });
  try {
    const page = await b.context.newPage();
    for (const { svg, file } of svgs) {
      await page.setContent(`<!doctype html><body style="margin:0;background:white">${svg}</body>`);
      await writeFileAtomic(file, await page.locator('svg').first().screenshot(), inputs, 'report --png');
    }
  } finally {
    await b.close();
  }
}
