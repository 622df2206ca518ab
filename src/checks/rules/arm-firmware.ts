/**
 * Arm platform services: PSCI 1.1 and SCMI 2.0 or later (-36), sensors through SCMI 3.0 (-39).
 * Judged from the VMM's PSCI and SCMI events, the guest's boot log and the device tree.
 */
import { strings } from '../../ingest/dtb/fdt.ts';
import { archOf, avpsRule, evidenceOf, type Sources } from '../platform-judge.ts';
import type { Outcome } from '../rule.ts';

const AREA = 'arm-firmware';
const src = (classes: Sources['classes'], needs: string[], inputs: string[]): Sources => ({ classes, needs, inputs });

/** "1.1" >= "1.1"; "2.0" >= "2.0" */
function atLeast(v: string, major: number, minor: number): boolean {
  const [a, b] = v.split('.').map(Number) as [number, number];
  return a > major || (a === major && (b ?? 0) >= minor);
}

export const avps36 = avpsRule({
  id: 'AVPS-v2.0-36',
  line: 1320,
  level: 'MUST',
  title: 'Arm: PSCI 1.1, and SCMI 2.0 or later where offered',
  text: 'AVPS requires that compatible hypervisors on the Arm architecture implement functionality using PSCI and SCMI (ref: [SCMI]) when such a feature is offered by the hypervisor.',
  area: AREA,
  note: 'The versions stand under the requirement (AVPS lines 1344-1345): "Required PSCI Interface: v1.1", "Required SCMI Interface: v2.0 or later".',
  sources: src(['b', 'c', 'd'], ['psci.call (PSCI_VERSION and its answer)', 'boot.log (psci: PSCIvX.Y detected; SCMI Protocol vX.Y)', 'dt.node /psci compatible'], ['jsonl', 'boot-log', 'dtb']),
  evaluate(ctx): Outcome {
    const a = archOf(ctx);
    if (a?.arch === 'x86_64') return { verdict: 'NOT-APPLICABLE', message: `AVPS requires PSCI and SCMI of hypervisors on the Arm architecture: ${a.why}`, ...(a.ref ? { evidence: [a.ref] } : {}) };
    const ev = evidenceOf(ctx);
    const psci = ev.psci;
    if (psci.faultCount > 0) return { verdict: 'FAIL', message: psci.faults[0]!.detail, evidence: psci.faults.slice(0, 3).map((f) => f.ref) };
    const scmiOld = ev.bootLines('scmi').find((b) => b.version !== undefined && !atLeast(b.version, 2, 0));
    if (scmiOld) return { verdict: 'FAIL', message: `SCMI ${scmiOld.version} offered: AVPS requires SCMI 2.0 or later`, evidence: [scmiOld.ref] };
    const version = psci.version
      ? { v: `${psci.version.major}.${psci.version.minor}`, ref: psci.version.ref, how: 'PSCI_VERSION answered' }
      : (() => {
          const b = ev.bootLines('psci').find((x) => x.version !== undefined);
          return b ? { v: b.version!, ref: b.ref, how: 'the guest detected' } : undefined;
        })();
    if (version) {
      if (!atLeast(version.v, 1, 1)) return { verdict: 'FAIL', message: `${version.how} PSCI ${version.v}: AVPS requires PSCI 1.1`, evidence: [version.ref] };
      return { verdict: 'PASS', message: `${version.how} PSCI ${version.v}${psci.count > 0 ? `; ${psci.count} PSCI calls, none answered NOT_SUPPORTED` : ''}`, evidence: [version.ref] };
    }
    const node = ev.dtNode('/psci');
    if (node) {
      const compat = strings(node.props.compatible);
      const method = strings(node.props.method)[0];
      if (!compat.includes('arm,psci-1.0')) {
        return { verdict: 'FAIL', message: `the device tree's /psci is compatible with ${compat.join(', ') || 'nothing'}, not arm,psci-1.0: PSCI older than 1.0`, evidence: [node.ref] };
      }
      return {
        verdict: 'NOT-OBSERVED',
        message: `the device tree declares PSCI 1.0 or later (arm,psci-1.0${method ? `, through ${method}` : ''}); whether it is 1.1 shows in the guest's boot log ("psci: PSCIv1.1 detected") or a PSCI_VERSION call`,
        evidence: [node.ref],
      };
    }
    if (ev.dtNode('/')) return { verdict: 'FAIL', message: 'the device tree has no /psci node: the guest has no PSCI', evidence: [ev.dtNode('/')!.ref] };
    return { verdict: 'NOT-OBSERVED', message: 'no PSCI evidence: the device tree (/psci), the guest\'s boot log or the VMM\'s psci.call events would show the version' };
  },
});

export const avps39 = avpsRule({
  id: 'AVPS-v2.0-39',
  line: 1415,
  level: 'MUST',
  title: 'Virtualized sensors through SCMI 3.0',
  text: 'For sensors that need to be virtualized the SCMI protocol MUST be used to expose sensor data from a sensor subsystem to the virtual machines.',
  area: AREA,
  note: 'The version stands on the next line: "Required SCMI version for sensor interfaces: 3.0". The SCMI 3.0 sensor management protocol reports version 3.0.',
  sources: src(['b', 'c'], ['scmi.msg (sensor protocol 0x15: PROTOCOL_VERSION, SENSOR_READING_GET)', 'boot.log (SCMI)', 'dt.node arm,scmi'], ['jsonl', 'boot-log', 'dtb']),
  evaluate(ctx): Outcome {
    const ev = evidenceOf(ctx);
    const s = ev.scmi;
    if (s.faultCount > 0) return { verdict: 'FAIL', message: s.faults[0]!.detail, evidence: s.faults.slice(0, 3).map((f) => f.ref) };
    if (s.sensorVersion && !atLeast(s.sensorVersion.version, 3, 0)) {
      return { verdict: 'FAIL', message: `the SCMI sensor protocol reports version ${s.sensorVersion.version}: AVPS requires SCMI 3.0 for sensors`, evidence: [s.sensorVersion.ref] };
    }
    if (s.sensorVersion) return { verdict: 'PASS', message: `SCMI sensor protocol ${s.sensorVersion.version}; ${s.readings} sensor readings answered`, evidence: [s.sensorVersion.ref] };
    const node = ev.dtCompatible('arm,scmi')[0] ?? ev.dtCompatible('arm,scmi-smc')[0];
    if (node) return { verdict: 'NOT-OBSERVED', message: 'the device tree describes SCMI, but its sensor protocol version is not in the trace', evidence: [node.ref] };
    return { verdict: 'NOT-OBSERVED', message: 'no SCMI sensor traffic: the VMM\'s scmi.msg events (protocol 0x15) would show the version and the readings' };
  },
});
