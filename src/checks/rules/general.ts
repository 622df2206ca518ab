/**
 * VIRTIO's general requirements (chapters 2, 3 and 6): device status and initialisation, feature
 * negotiation, VIRTIO_F_VERSION_1. VIRTIO texts are short statements of the rule; the section
 * names where the spec says it; the target is whom the spec's sentence binds.
 */
import { F_VERSION_1 } from '../../model/features.ts';
import { failOnObservations, firstRef, judgeOfferedFeature } from '../judge.ts';
import { defineRule } from '../rule.ts';

const AREA = 'general';

export const initOrder = defineRule({
  id: 'virtio.init-order',
  title: 'Device initialisation order: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['status'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§3.1.1',
    text: 'The driver MUST follow this sequence to initialize a device: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (not for legacy devices), device setup, DRIVER_OK; it never clears a status bit except by a reset.',
  },
  scope: 'device',
  evaluate(_ctx, d) {
    const sessions = d!.status.sessions.filter((s) => s.writes.length > 0);
    if (sessions.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no status write after a reset in the trace' };
    for (const s of sessions) {
      const p = s.orderProblems[0] ?? s.clearedBits[0];
      if (p) {
        return { verdict: 'FAIL', message: `driver session ${s.index + 1}: ${p.detail}`, evidence: [...firstRef(s.reset), p.ref] };
      }
    }
    const fromReset = sessions.filter((s) => s.reset !== undefined);
    if (fromReset.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace joins the device after its reset: the order cannot be judged' };
    const seq = (s: (typeof sessions)[number]) => s.writes.map((w) => '0x' + w.value.toString(16)).join(' → ');
    // the order is judged to its end only where the session reached DRIVER_OK (or gave up with FAILED)
    const judged = fromReset.filter((s) => s.driverOk !== undefined || s.failed !== undefined);
    if (judged.length === 0) {
      return {
        verdict: 'NOT-OBSERVED',
        message: `no session reached DRIVER_OK in the trace (seen only as ${[...new Set(fromReset.map(seq))].slice(0, 3).join('; ')}): the steps after it cannot be judged`,
        evidence: fromReset.flatMap((s) => [...firstRef(s.reset), ...s.writes.map((w) => w.ref)]).slice(0, 4),
      };
    }
    const seqs = [...new Set(judged.map(seq))];
    const combined = judged.find((s) => s.combinedAckDriver);
    const note = combined ? ` (session ${combined.index + 1} sets ACKNOWLEDGE and DRIVER in one write, which keeps the order)` : '';
    const partial = sessions.length - judged.length;
    const n = partial === 0 ? `${judged.length}` : `${judged.length} of the ${sessions.length}`;
    return {
      verdict: 'PASS',
      message: `${n} driver session(s) in order from reset to DRIVER_OK: ${seqs.slice(0, 4).join('; ')}${seqs.length > 4 ? '; ...' : ''}${note}` +
        (partial > 0 ? `; ${partial} session(s) seen in part (no reset, or no DRIVER_OK) not judged` : ''),
      evidence: judged.flatMap((s) => [...firstRef(s.reset), ...s.writes.map((w) => w.ref)]).slice(0, 6),
    };
  },
});

export const featuresBeforeFeaturesOk = defineRule({
  id: 'virtio.features-before-features-ok',
  title: 'Features written after DRIVER and before FEATURES_OK, none after',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['status', 'features', 'mmio.write'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§3.1.1',
    text: 'After setting DRIVER the driver writes the subset of device features it accepts, then sets FEATURES_OK, and MUST NOT accept new feature bits after that step.',
  },
  scope: 'device',
  evaluate(_ctx, d) {
    const sessions = d!.status.sessions.filter((s) => s.featuresOk);
    if (sessions.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no session set FEATURES_OK' };
    const visible = d!.mmio !== undefined || sessions.some((s) => s.accepted() !== undefined);
    if (!visible) return { verdict: 'NOT-OBSERVED', message: `the trace cannot show feature writes for this device${d!.transport === 'pci' ? ' (QEMU 7.2 logs none for virtio-pci)' : ''}` };
    for (const s of sessions) {
      if (!s.wroteFeaturesBeforeFeaturesOk()) {
        return { verdict: 'FAIL', message: `driver session ${s.index + 1} set FEATURES_OK without writing any feature bits first`, evidence: [...firstRef(s.reset), s.featuresOk!] };
      }
      if (s.earlyFeatureWrites.length > 0) {
        return { verdict: 'FAIL', message: `driver session ${s.index + 1} wrote feature bits before setting DRIVER`, evidence: s.earlyFeatureWrites.slice(0, 3) };
      }
      if (s.lateFeatureWrites.length > 0) {
        return { verdict: 'FAIL', message: `driver session ${s.index + 1} wrote feature bits after FEATURES_OK`, evidence: [s.featuresOk!, ...s.lateFeatureWrites.slice(0, 2)] };
      }
    }
    return {
      verdict: 'PASS',
      message: `${sessions.length} session(s) wrote their features before FEATURES_OK and none after`,
      evidence: sessions.flatMap((s) => [...(s.accepted()?.refs ?? []), s.featuresOk!]).slice(0, 6),
    };
  },
});

export const version1 = defineRule({
  id: 'virtio.version-1',
  title: 'The device offers VIRTIO_F_VERSION_1: a VIRTIO 1.x device, not a legacy one',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['features', 'mmio.write'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§6.2, §7.4',
    text: 'A device MUST offer VIRTIO_F_VERSION_1 (bit 32); a device without it is a legacy device, and a conformant device is transitional or non-transitional (§7.4).',
  },
  scope: 'device',
  evaluate(ctx, d) {
    const o = judgeOfferedFeature(d!, F_VERSION_1, ctx.assumeDriver);
    const notify = d!.modernNotify;
    if (o.verdict === 'NOT-OBSERVED' && notify) {
      // QEMU logs virtio_pci_notify_write only for the modern interface's notify capability (§4.1.4.4)
      return {
        verdict: 'PASS',
        message: 'the driver notifies the device through the notify capability of the modern virtio-pci interface, which only a VIRTIO 1.x device has (§4.1.4.4); the feature words are not in the log',
        evidence: [notify],
        inferred: ['VERSION_1 offered: the modern virtio-pci interface is in use (QEMU logs virtio_pci_notify_write only for its notify capability)'],
      };
    }
    const legacy = d!.mmio?.version === 1 ? d!.mmio.versionEvidence : undefined;
    if (o.verdict !== 'FAIL' || !legacy) return o;
    return {
      ...o,
      message: `${o.message}; the driver uses legacy virtio-mmio registers (version 1): a legacy-only device is not a VIRTIO 1.x device (§7.4)`,
      evidence: [...(o.evidence ?? []), ...firstRef(legacy)],
    };
  },
});

export const liveAfterDriverOk = defineRule({
  id: 'virtio.live-after-driver-ok',
  title: 'The device uses its queues only after DRIVER_OK',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['status', 'vq.pop', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.1.2, §3.1.1',
    text: 'The device MUST NOT consume buffers or send any used buffer notifications to the driver before DRIVER_OK.',
  },
  scope: 'device',
  // legacy drivers may use a device before DRIVER_OK (VIRTIO §3.1.2): the rule is for VIRTIO 1.x devices
  appliesTo: (d) => !d.isLegacy(),
  evaluate(ctx, d) {
    // after a reset the device is not live again until DRIVER_OK: a use then breaks this statement too (and §2.4.1's)
    return failOnObservations(ctx, d!, ['vq.used-before-driver-ok', 'vq.used-after-reset'], () => {
      const live = d!.status.sessions.filter((s) => s.driverOk);
      if (live.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no session reached DRIVER_OK in the trace' };
      const used = [...d!.queues.values()].some((q) => q.pops > 0 || q.fills > 0);
      if (!used) return { verdict: 'NOT-OBSERVED', message: 'the device consumed no buffer in the trace' };
      const unknown = d!.isModern() ? undefined : 'the trace does not show the features: judged as a VIRTIO 1.x device';
      return {
        verdict: 'PASS',
        message: `every chain taken and returned came after DRIVER_OK${unknown ? ` (${unknown})` : ''}`,
        evidence: live.map((s) => s.driverOk!).slice(0, 2),
        ...(unknown ? { assumptions: [unknown] } : {}),
      };
    });
  },
});

export const notifyAfterDriverOk = defineRule({
  id: 'virtio.notify-after-driver-ok',
  title: 'The driver notifies the device only after DRIVER_OK',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['status', 'notify.avail'],
  source: { spec: 'VIRTIO 1.3', where: '§3.1.1', text: 'The driver MUST NOT send any buffer available notifications to the device before setting DRIVER_OK.' },
  scope: 'device',
  appliesTo: (d) => !d.isLegacy(),
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['notify.before-driver-ok'], () => {
      const live = d!.status.sessions.filter((s) => s.driverOk);
      if (live.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no session reached DRIVER_OK in the trace' };
      // the driver's available-buffer notifications (doorbells): a host KVM trace has them, without the rings
      const notified = [...d!.queues.values()].some((q) => q.kicks > 0);
      if (!notified) return { verdict: 'NOT-OBSERVED', message: 'the driver notified no queue in the trace' };
      return { verdict: 'PASS', message: 'every notification came after DRIVER_OK', evidence: live.map((s) => s.driverOk!).slice(0, 2) };
    });
  },
});

export const quietAfterReset = defineRule({
  id: 'virtio.reset-quiet',
  title: 'After a reset the device leaves the queues alone until the driver initialises it again',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['status', 'vq.pop', 'vq.fill', 'notify.used'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.4.1',
    text: 'A device MUST NOT send notifications or interact with the queues after indicating completion of the reset by reinitializing device status to 0, until the driver re-initializes the device.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.used-after-reset'], () => {
      // a reset of a device that was live, followed by the driver's DRIVER_OK again (or the end)
      const s = d!.status.sessions;
      const after = s.filter((x, i) => i > 0 && (x.reset ?? x.hostReset) !== undefined && s.slice(0, i).some((p) => p.driverOk !== undefined));
      if (after.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace shows no reset of this device after it was live' };
      return {
        verdict: 'PASS',
        message: `${after.length} reset(s) after the device was live; no chain taken or returned and no notification until DRIVER_OK was set again`,
        evidence: after.map((x) => (x.reset ?? x.hostReset)!).slice(0, 3),
      };
    });
  },
});
