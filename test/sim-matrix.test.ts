/**
 * The rule × scenario matrix: every rule has a simulated clean run where it PASSes and a faulty
 * run where it FAILs with no other rule failing but the roll-ups or aggregates of it (or a rule the
 * fault names as failing by necessity, with why: one fact that breaks two statements). A rule
 * without one fails this test unless it is exempt, with the reason. The matrix is printed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../src/checks/catalogue.ts';
import { rulesJson } from '../src/cli/rules.ts';
import { toJsonl } from '../src/sim/build.ts';
import { SCENARIOS } from '../src/sim/scenarios.ts';
import { reportOf, tempDir } from './helpers.ts';

const MAY = 'a MAY: never fails';
const DECLARED = 'no trace can FAIL it: a manifest declaring it unmet does (test/avps-platform.test.ts)';
/** Rules no simulated run can or need make FAIL, and why. */
const EXEMPT: Record<string, string> = {
  'AVPS-v2.0-2': MAY, 'AVPS-v2.0-14': MAY, 'AVPS-v2.0-23': MAY, 'AVPS-v2.0-24': MAY, 'AVPS-v2.0-31': MAY, 'AVPS-v2.0-34': MAY, 'AVPS-v2.0-38': MAY,
  'AVPS-v2.0-1': DECLARED, 'AVPS-v2.0-9': DECLARED, 'AVPS-v2.0-15': DECLARED, 'AVPS-v2.0-25': DECLARED, 'AVPS-v2.0-26': DECLARED,
  'AVPS-v2.0-27': DECLARED, 'AVPS-v2.0-28': DECLARED, 'AVPS-v2.0-29': DECLARED, 'AVPS-v2.0-30': DECLARED, 'AVPS-v2.0-33': DECLARED,
  'AVPS-v2.0-37': DECLARED, 'AVPS-v2.0-43': DECLARED, 'AVPS-v2.0-47': DECLARED, 'AVPS-v2.0-49': DECLARED,
  'AVPS-v2.0-48': 'FAILs only under --profile production with a console in the trace (test/avps-platform.test.ts); else declared',
  'AVPS-v2.0-40': 'never FAILs: a trace without entropy traffic does not prove the guest has no entropy source',
  'virtio-snd.chmap-info': 'FAILs on the real chmaps-probe-fail capture (test/sound.test.ts)',
  'xlayer.blk.request-seen-through': 'needs a guest trace on its own clock: FAILs by editing the real pairs (test/xlayer.test.ts)',
  'xlayer.interrupt-sent': 'needs a guest trace on its own clock: FAILs by editing the real pairs (test/xlayer.test.ts)',
  'virtio-mmio.device-registers': 'FAILs beside virtio-mmio.version-2 under its mmio-version-1 fault; its own faults (MagicValue, QueueReady after a reset) by editing the real KVM capture (test/kvm.test.ts)',
  'host-kvm.status-echoed': "needs a host KVM trace joined with the VMM's log of the same run: FAILs by editing the real capture (test/kvm.test.ts)",
};

/** Rules whose FAIL follows from another's: roll-ups (from `avpscope rules`) and -10, the aggregate of -11..-13. */
const AGGREGATES = new Map<string, string[]>(
  (JSON.parse(rulesJson()) as { rules: { id: string; rolls_up: string[] }[] }).rules.filter((r) => r.rolls_up.length > 0).map((r) => [r.id, r.rolls_up]),
);
AGGREGATES.set('AVPS-v2.0-10', ['AVPS-v2.0-11', 'AVPS-v2.0-12', 'AVPS-v2.0-13']);
/** may `other` FAIL beside `rule`: it aggregates `rule`, or `rule` aggregates it */
const follows = (rule: string, other: string) => AGGREGATES.get(other)?.includes(rule) === true || AGGREGATES.get(rule)?.includes(other) === true;
/** the rules a fault's run may FAIL beside `rule`: what aggregates it, what the fault says it cannot help failing, and their aggregates */
const allowed = (rule: string, also: string[], other: string) => other === rule || [rule, ...also].some((r) => r === other || follows(r, other));
const alsoOf = (r: Run) => (r.fault === undefined ? [] : (SCENARIOS.find((s) => s.name === r.scenario)!.faults[r.fault]!.also?.rules ?? []));

interface Run {
  scenario: string;
  fault: string | undefined;
  verdicts: Map<string, Set<string>>;
}

const runs: Run[] = [];

beforeAll(async () => {
  const dir = tempDir();
  for (const s of SCENARIOS) {
    for (const fault of [undefined, ...Object.keys(s.faults)]) {
      const file = join(dir, `${s.name}-${fault ?? 'clean'}.jsonl`);
      writeFileSync(file, toJsonl(s.name, s.build(fault)));
      const r = await reportOf([file]);
      const verdicts = new Map<string, Set<string>>();
      for (const f of r.findings) {
        if (!verdicts.has(f.rule)) verdicts.set(f.rule, new Set());
        verdicts.get(f.rule)!.add(f.verdict);
      }
      runs.push({ scenario: s.name, fault, verdicts });
    }
  }
}, 300_000);

const fails = (r: Run) => [...r.verdicts].filter(([, v]) => v.has('FAIL')).map(([id]) => id);

describe('rule × scenario matrix', () => {
  it('every clean scenario fails nothing, and every fault FAILs the rule it names', () => {
    for (const r of runs.filter((x) => x.fault === undefined)) expect(fails(r), r.scenario).toEqual([]);
    for (const s of SCENARIOS) {
      for (const [fault, f] of Object.entries(s.faults)) {
        const r = runs.find((x) => x.scenario === s.name && x.fault === fault)!;
        expect(fails(r), `${s.name} --fault ${fault}`).toContain(f.rule);
        expect(fails(r).filter((id) => !allowed(f.rule, f.also?.rules ?? [], id)), `${s.name} --fault ${fault}: other rules fail`).toEqual([]);
      }
    }
  });

  it('every rule has a clean PASS and a faulty FAIL of its own, or an exemption with its reason; the matrix is printed', () => {
    const cell = (r: Run, id: string) => {
      const v = r.verdicts.get(id);
      return !v ? '' : v.has('FAIL') ? 'F' : v.has('PASS') ? 'P' : v.has('DECLARED') ? 'D' : v.has('NOT-APPLICABLE') ? '-' : '.';
    };
    const cols = SCENARIOS.map((s) => s.name);
    const missing: string[] = [];
    const lines = [`${'rule'.padEnd(40)} ${cols.map((c) => c.padEnd(12)).join(' ')} status`];
    for (const rule of CATALOGUE) {
      const id = rule.id;
      const clean = runs.some((r) => r.fault === undefined && r.verdicts.get(id)?.has('PASS'));
      const faulty = runs.find((r) => r.fault !== undefined && fails(r).includes(id) && fails(r).every((x) => allowed(id, alsoOf(r), x)));
      const status = EXEMPT[id] !== undefined ? `exempt: ${EXEMPT[id]}` : clean && faulty ? `FAIL by ${faulty.scenario} --fault ${faulty.fault}` : 'MISSING';
      if (status === 'MISSING') missing.push(`${id} (clean PASS: ${clean}, faulty FAIL: ${faulty !== undefined})`);
      // per scenario: clean verdict, then F when one of its faults FAILs the rule
      const cells = cols.map((c) => {
        const clean = runs.find((r) => r.scenario === c && r.fault === undefined)!;
        const broke = runs.some((r) => r.scenario === c && r.fault !== undefined && fails(r).includes(id));
        return `${cell(clean, id) || ' '}${broke ? '/F' : ''}`.padEnd(12);
      });
      lines.push(`${id.padEnd(40)} ${cells.join(' ')} ${status}`);
    }
    console.log(`clean verdict per scenario (P PASS, D DECLARED, - NOT-APPLICABLE, . NOT-OBSERVED; /F: a fault of it FAILs the rule)\n${lines.join('\n')}`);
    expect(missing).toEqual([]);
    // an exemption names a rule that exists, and a reason
    for (const [id, why] of Object.entries(EXEMPT)) {
      expect(CATALOGUE.some((r) => r.id === id), id).toBe(true);
      expect(why.length).toBeGreaterThan(10);
    }
  });
});
