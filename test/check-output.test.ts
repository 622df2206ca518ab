/**
 * The check report as people and CI read it: grouped by whose duty, the exit code by --fail-on,
 * SARIF 2.1.0 and JUnit for CI, -o files written whole, and `avpscope rules`.
 */
import { AVPS_INDEX } from '../src/checks/avps-index.ts';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CATALOGUE } from '../src/checks/catalogue.ts';
import { SCHEMA_VERSION } from '../src/perf/tables.ts';
import { MICROVM_LEGACY, MICROVM_MODERN, lineOf, lines, tempDir, vdevOf, writeTrace } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');
function avpscope(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The parts of SARIF 2.1.0 (OASIS, sarif-schema-2.1.0.json) a code-scanning consumer relies on,
 * with the standard's own constraints: required properties, enumerations, 1-based lines.
 */
const Level = z.enum(['none', 'note', 'warning', 'error']);
const Location = z.object({
  physicalLocation: z.object({
    artifactLocation: z.object({ uri: z.string().min(1) }),
    region: z.object({ startLine: z.number().int().min(1), snippet: z.object({ text: z.string() }).optional() }).optional(),
  }),
  id: z.number().int().min(-1).optional(),
});
const SarifLog = z.object({
  $schema: z.string().url(),
  version: z.literal('2.1.0'),
  runs: z.array(
    z.object({
      tool: z.object({
        driver: z.object({
          name: z.string().min(1),
          version: z.string(),
          rules: z.array(
            z.object({
              id: z.string().min(1),
              shortDescription: z.object({ text: z.string().min(1) }),
              fullDescription: z.object({ text: z.string().min(1) }).optional(),
              defaultConfiguration: z.object({ level: Level }),
              properties: z.object({ target: z.enum(['device', 'driver', 'platform']), specReference: z.string().min(1) }).passthrough(),
            }),
          ),
        }),
      }),
      artifacts: z.array(z.object({ location: z.object({ uri: z.string() }) })),
      results: z.array(
        z.object({
          ruleId: z.string(),
          ruleIndex: z.number().int().min(0),
          kind: z.enum(['notApplicable', 'pass', 'fail', 'review', 'open', 'informational']),
          level: Level,
          message: z.object({ text: z.string().min(1) }),
          locations: z.array(Location).min(1),
          relatedLocations: z.array(Location).optional(),
        }),
      ),
    }),
  ).length(1),
});

describe('check output', () => {
  const cwd = tempDir();

  it('text: verdicts grouped by whose duty, the driver apart; assumptions listed as inferred rather than seen', () => {
    const r = avpscope(cwd, 'check', MICROVM_LEGACY, '--no-db');
    const device = r.out.indexOf('Device duties');
    const platform = r.out.indexOf('Platform duties (AVPS 2.0)');
    const driver = r.out.indexOf('Driver duties');
    expect(device).toBeGreaterThan(0);
    expect(platform).toBeGreaterThan(device);
    expect(driver).toBeGreaterThan(platform);
    expect(r.out.slice(driver)).toMatch(/virtio\.init-order/);
    expect(r.out.slice(device, platform)).not.toMatch(/virtio\.init-order/);
    expect(r.out).toMatch(/Inferred rather than seen:\n[\s\S]*- assumed: the driver is Linux's virtio drivers \(6\.1\), which accept VIRTIO_F_VERSION_1 whenever it is offered/);
    expect(r.out).toMatch(/- inferred: 0x[0-9a-f]+ is virtio-net: queue 0 takes writable-only chains/);
  });

  it('exit 1 only for device and platform MUSTs; driver failures count with --fail-on driver or all', () => {
    // microvm-modern without the block driver's DRIVER step: two driver MUSTs fail, nothing of the platform's
    const ls = lines(MICROVM_MODERN);
    const blk = vdevOf(ls, /virtio_blk_handle_write/);
    const echo = lineOf(ls, new RegExp(`virtio_set_status vdev ${blk} val 3$`));
    const file = writeTrace(tempDir(), 'no-driver-bit.trace', ls.filter((_, i) => i !== echo - 1 && i !== echo - 2));
    const dflt = avpscope(cwd, 'check', file, '--no-db');
    expect(dflt.code).toBe(0);
    expect(dflt.out).toMatch(/— no device or platform MUST requirement fails; the driver fails 2 MUST and 0 SHOULD requirement\(s\)\./);
    expect(avpscope(cwd, 'check', file, '--no-db', '--fail-on', 'driver').code).toBe(1);
    expect(avpscope(cwd, 'check', file, '--no-db', '--fail-on', 'all').code).toBe(1);
    expect(avpscope(cwd, 'check', MICROVM_MODERN, '--no-db', '--fail-on', 'all').code).toBe(0);
    expect(avpscope(cwd, 'check', file, '--no-db', '--fail-on', 'guest').code).toBe(2);
  });

  it('--format sarif: a SARIF 2.1.0 log; each verdict located at its evidence line; every rule described', () => {
    const r = avpscope(cwd, 'check', MICROVM_LEGACY, '--no-db', '--format', 'sarif');
    expect(r.code).toBe(1);
    const log = SarifLog.parse(JSON.parse(r.out));
    const run = log.runs[0]!;
    expect(run.tool.driver.rules.map((x) => x.id)).toEqual(CATALOGUE.map((x) => x.id));
    for (const res of run.results) expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(res.ruleId);
    const avps4 = run.results.find((x) => x.ruleId === 'AVPS-v2.0-4')!;
    expect(avps4).toMatchObject({ kind: 'fail', level: 'error' });
    const loc = avps4.locations[0]!.physicalLocation;
    expect(loc.artifactLocation.uri).toBe(MICROVM_LEGACY.startsWith('/') ? `file://${MICROVM_LEGACY}` : MICROVM_LEGACY);
    const ls = lines(MICROVM_LEGACY);
    expect(ls[loc.region!.startLine - 1]).toBe(loc.region!.snippet!.text);
    // a driver MUST is a warning, not an error: the platform is not judged by it
    expect(run.tool.driver.rules.find((x) => x.id === 'virtio.init-order')!.defaultConfiguration.level).toBe('warning');
    expect(run.results.filter((x) => x.kind === 'open').every((x) => x.level === 'none')).toBe(true);
  });

  it('--format junit: one suite per target; FAIL a failure, NOT-OBSERVED a skip', () => {
    const r = avpscope(cwd, 'check', MICROVM_LEGACY, '--no-db', '--format', 'junit');
    expect(r.out).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="avpscope check" tests="(\d+)" failures="11" errors="0" skipped="(\d+)">/);
    expect([...r.out.matchAll(/<testsuite name="(\w+) duties"/g)].map((m) => m[1])).toEqual(['device', 'platform', 'driver']);
    const cases = [...r.out.matchAll(/<testcase /g)].length;
    expect(cases).toBe(Number(/tests="(\d+)"/.exec(r.out)![1]));
    expect(r.out).toMatch(/<testcase classname="avpscope\.check\.platform\.microvm-legacy" name="AVPS-v2\.0-4 \[blk 0x[0-9a-f]+\]">\n\s+<failure message="MUST: 2 of \d+ device statements fail/);
    expect(r.out).not.toMatch(/[\u0000-\u0008]/);
  });

  it('-o writes each file whole, format by extension; an unwritable one is exit 2 with nothing left behind', () => {
    const dir = tempDir();
    const r = avpscope(dir, 'check', MICROVM_MODERN, '--no-db', '-o', 'r.sarif', 'r.json', 'r.xml', 'r.txt');
    expect(r.code).toBe(0);
    SarifLog.parse(JSON.parse(readFileSync(join(dir, 'r.sarif'), 'utf8')));
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).report).toBe('check');
    expect(readFileSync(join(dir, 'r.xml'), 'utf8')).toMatch(/^<\?xml/);
    expect(readFileSync(join(dir, 'r.txt'), 'utf8')).toBe(r.out);
    expect(readdirSync(dir).sort()).toEqual(['r.json', 'r.sarif', 'r.txt', 'r.xml']);
    mkdirSync(join(dir, 'taken.sarif'));
    const bad = avpscope(dir, 'check', MICROVM_MODERN, '--no-db', '-o', 'missing/r.sarif');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/missing\/r\.sarif: check -o: no such directory missing/);
    const taken = avpscope(dir, 'check', MICROVM_MODERN, '--no-db', '-o', 'taken.sarif');
    expect(taken.code).toBe(2);
    expect(taken.err).toMatch(/taken\.sarif: check -o: is a directory/);
    // an input is never an output
    copyFileSync(MICROVM_MODERN, join(dir, 't.trace.gz'));
    const own = avpscope(dir, 'check', 't.trace.gz', '--no-db', '-o', 't.trace.gz');
    expect(own.code).toBe(2);
    expect(own.err).toMatch(/is also an input/);
    expect(readFileSync(join(dir, 't.trace.gz'))).toEqual(readFileSync(MICROVM_MODERN));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('a store written by another schema version: exit 2, the store named', async () => {
    const dir = tempDir();
    const db = join(dir, 'old.duckdb');
    expect(avpscope(dir, 'ingest', MICROVM_MODERN, '--db', db).code).toBe(0);
    // what an avpscope of schema 1 left: the same tables, an older version in meta
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(db);
    const conn = await inst.connect();
    await conn.run("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    conn.closeSync();
    inst.closeSync();
    const r = avpscope(dir, 'check', db);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`avpscope: ${db}: the store was written by another avpscope version (schema 1, this one reads ${SCHEMA_VERSION}): ingest the traces again\n`);
  });

  it('avpscope rules: the catalogue with target, level, source, devices and events needed', () => {
    const text = avpscope(cwd, 'rules');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^id +target +level +source +devices +events needed +evidence: inputs\n/);
    expect(text.out).toMatch(/\nAVPS-v2\.0-4 +platform +MUST +AVPS 2\.0 line 416 +blk +roll-up of \d+ device statements/);
    expect(text.out).toMatch(/\nvirtio-mmio\.queue-num +driver +MUST +VIRTIO 1\.3 §4\.2\.2\.2, §2\.7 +any +mmio\.write, vq\.size_max *\n/);
    const json = JSON.parse(avpscope(cwd, 'rules', '--format', 'json').out);
    expect(json.rules.map((r: { id: string }) => r.id)).toEqual(CATALOGUE.map((r) => r.id));
    const avps4 = json.rules.find((r: { id: string }) => r.id === 'AVPS-v2.0-4');
    // the device statements of general, transport, virtqueue and blk, and no driver's or platform's
    const parts = CATALOGUE.filter((r) => avps4.rolls_up.includes(r.id));
    expect(parts.length).toBe(avps4.rolls_up.length);
    expect(parts.every((r) => r.target === 'device' && ['general', 'transport-mmio', 'transport-pci', 'virtqueue', 'blk'].includes(r.area))).toBe(true);
    expect(avps4.rolls_up).toEqual(expect.arrayContaining(['virtio.version-1', 'virtio-mmio.version-2', 'virtio.vq.completed-once', 'virtio-blk.status']));
    // every rule says which events it reads, but those only a declaration can answer (AVPS_INDEX: manifest alone)
    const declaredOnly = (id: string) => AVPS_INDEX.get(id)?.sources.inputs.every((i) => i === 'manifest') === true;
    for (const r of CATALOGUE) if (!declaredOnly(r.id)) expect(r.needs?.length ?? 0, r.id).toBeGreaterThan(0);
  });
});
