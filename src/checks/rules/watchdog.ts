/**
 * The SBSA generic watchdog (AVPS-v2.0-35): described in the device tree (arm,sbsa-gwdt), probed
 * by the guest, and, where the VMM logs its registers, replayed by a register model that predicts
 * WS0 and WS1 from WOR and the refreshes and is diffed with the signals the trace shows.
 */
import { avpsRule, evidenceOf } from '../platform-judge.ts';
import type { Outcome } from '../rule.ts';

export const avps35 = avpsRule({
  id: 'AVPS-v2.0-35',
  line: 1260,
  level: 'MUST',
  title: 'An SBSA generic watchdog',
  text: 'The platform MUST implement a virtual hardware interface to the hardware watchdog, following the generic watchdog described in Server Base System Architecture 6.0 [SBSA]',
  area: 'watchdog',
  sources: {
    classes: ['b', 'c', 'd'],
    needs: ['wdt.access, wdt.signal (register model: WS0/WS1 from WOR and refreshes)', 'dt.node arm,sbsa-gwdt', 'boot.log (sbsa-gwdt)'],
    inputs: ['jsonl', 'dtb', 'boot-log'],
  },
  evaluate(ctx): Outcome {
    const ev = evidenceOf(ctx);
    const w = ev.watchdog;
    if (w.mismatches.length > 0) {
      const m = w.mismatches[0]!;
      return { verdict: 'FAIL', message: m.detail + (w.mismatches.length > 1 ? ` (and ${w.mismatches.length - 1} more)` : ''), evidence: w.mismatches.slice(0, 3).flatMap((x) => x.refs) };
    }
    if (w.accesses > 0) {
      const signals = w.matched.length > 0 ? `; ${w.matched.length} WS0/WS1 signal(s) raised when the model predicts` : '; no timeout was due';
      return { verdict: 'PASS', message: `${w.accesses} register accesses follow the SBSA generic watchdog${signals}`, evidence: [w.matched[0]?.seen ?? w.first!] };
    }
    const node = ev.dtCompatible('arm,sbsa-gwdt')[0];
    if (node) return { verdict: 'PASS', message: `the device tree describes an SBSA generic watchdog at ${node.path}`, evidence: [node.ref] };
    const probed = ev.bootLines('watchdog').find((b) => /sbsa[-_]gwdt/i.test(b.text));
    if (probed) return { verdict: 'PASS', message: 'the guest probed an SBSA generic watchdog', evidence: [probed.ref] };
    const root = ev.dtNode('/');
    if (root) return { verdict: 'FAIL', message: 'the device tree describes no arm,sbsa-gwdt node: the guest has no SBSA generic watchdog', evidence: [root.ref] };
    return { verdict: 'NOT-OBSERVED', message: 'no watchdog in the inputs: the device tree (arm,sbsa-gwdt), the guest\'s boot log or the VMM\'s wdt.* events would show it' };
  },
});
