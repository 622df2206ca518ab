/**
 * Generic VIRTIO requirements every virtio device is held to, as far as a trace shows them.
 * VIRTIO texts are short statements of the rule; the section names where the spec says it.
 */
import { F_VERSION_1, hasBit, hexBits } from '../../model/features.ts';
import { completedChains, failOnObservations, firstRef } from '../judge.ts';
import { defineRule } from '../rule.ts';

export const initOrder = defineRule({
  id: 'virtio.init-order',
  title: 'Device initialisation order: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§3.1.1',
    text: 'After a reset the driver sets ACKNOWLEDGE, then DRIVER, negotiates features and sets FEATURES_OK (not for legacy devices), then DRIVER_OK; it never clears a status bit except by a reset.',
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
    const judged = sessions.filter((s) => s.reset !== undefined);
    if (judged.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace joins the device after its reset: the order cannot be judged' };
    const seqs = [...new Set(judged.map((s) => s.writes.map((w) => '0x' + w.value.toString(16)).join(' → ')))];
    const combined = judged.find((s) => s.combinedAckDriver);
    const note = combined ? ` (session ${combined.index + 1} sets ACKNOWLEDGE and DRIVER in one write, which keeps the order)` : '';
    const n = judged.length === sessions.length ? judged.length : `${judged.length} of the`;
    return {
      verdict: 'PASS',
      message: `${n} driver session(s) in order: ${seqs.slice(0, 4).join('; ')}${seqs.length > 4 ? '; ...' : ''}${note}`,
      evidence: judged.flatMap((s) => [...firstRef(s.reset), ...s.writes.map((w) => w.ref)]).slice(0, 6),
    };
  },
});

export const featuresBeforeFeaturesOk = defineRule({
  id: 'virtio.features-before-features-ok',
  title: 'Features written after DRIVER and before FEATURES_OK, none after',
  level: 'MUST',
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
  title: 'VIRTIO_F_VERSION_1 negotiated: a VIRTIO 1.x device, not a legacy one',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§6.1, §6.2',
    text: 'A device MUST offer VIRTIO_F_VERSION_1 (bit 32) and a driver MUST accept it if offered; a device without it is a legacy device (§7).',
  },
  scope: 'device',
  evaluate(_ctx, d) {
    const negotiated = d!.status.sessions.map((s) => ({ s, acc: s.accepted() })).filter((x) => x.acc !== undefined);
    const modern = negotiated.find((x) => hasBit(x.acc!.bits, F_VERSION_1));
    if (modern) return { verdict: 'PASS', message: `VERSION_1 accepted in ${hexBits(modern.acc!.bits)}`, evidence: modern.acc!.refFor(F_VERSION_1) };
    if (negotiated.length === 0) {
      return { verdict: 'NOT-OBSERVED', message: `the trace shows no feature negotiation for this device${d!.transport === 'pci' ? ' (QEMU 7.2 logs no feature words for virtio-pci)' : ''}` };
    }
    const last = negotiated.at(-1)!;
    const legacy = d!.mmio?.version === 1;
    return {
      verdict: 'FAIL',
      message:
        `VERSION_1 (bit 32) is not among the accepted features ${hexBits(last.acc!.bits)}` +
        (legacy ? '; the driver uses legacy virtio-mmio registers (version 1): a legacy-only device is not a VIRTIO 1.x device' : '; a driver must accept it when offered, so the device did not offer it'),
      evidence: [...last.acc!.refFor(F_VERSION_1), ...firstRef(legacy ? d!.mmio!.versionEvidence : undefined)],
    };
  },
});

export const liveAfterDriverOk = defineRule({
  id: 'virtio.live-after-driver-ok',
  title: 'Queues are used only after DRIVER_OK',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§3.1.1, §2.1.2',
    text: 'The driver MUST NOT notify the device before setting DRIVER_OK; the device MUST NOT consume buffers or send any used buffer notification to the driver before DRIVER_OK.',
  },
  scope: 'device',
  // legacy drivers may use a device before DRIVER_OK (VIRTIO §3.1.2): the rule is for VIRTIO 1.x devices
  appliesTo: (d) => !d.isLegacy(),
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.used-before-driver-ok', 'notify.before-driver-ok'], () => {
      const live = d!.status.sessions.filter((s) => s.driverOk);
      if (live.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no session reached DRIVER_OK in the trace' };
      const used = [...d!.queues.values()].some((q) => q.pops > 0 || q.notifies > 0 || q.kicks > 0);
      if (!used) return { verdict: 'NOT-OBSERVED', message: 'no queue activity in the trace' };
      const unknown = d!.isModern() ? '' : ' (the trace does not show the features: judged as a VIRTIO 1.x device)';
      return { verdict: 'PASS', message: `every notification and chain came after DRIVER_OK${unknown}`, evidence: live.map((s) => s.driverOk!).slice(0, 2) };
    });
  },
});

export const completedOnce = defineRule({
  id: 'virtio.vq.completed-once',
  title: 'Every chain the device takes is completed exactly once',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8, §2.7.14',
    text: 'The device returns each available descriptor chain it takes through exactly one used ring element.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.completed-twice', 'vq.pop-while-in-flight', 'vq.lost-request'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device completed no chain in the trace' };
      const tail = d!.inFlightAtEnd > 0 ? `; ${d!.inFlightAtEnd} still in flight when the trace ended` : '';
      const reset = d!.droppedAtReset > 0 ? `; ${d!.droppedAtReset} dropped by a device reset` : '';
      return { verdict: 'PASS', message: `${n} chains taken and completed once each${tail}${reset}` };
    });
  },
});

export const usedNotMoreThanPopped = defineRule({
  id: 'virtio.vq.used-not-more-than-taken',
  title: 'Never more used elements published than chains taken',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8',
    text: 'The used index advances by one for each chain the device has returned; it never runs ahead of the chains the device took.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.used-more-than-filled'], () => {
      const used = [...d!.queues.values()].reduce((a, q) => a + q.used, 0);
      if (used === 0) return { verdict: 'NOT-OBSERVED', message: 'the device published no used element in the trace' };
      return { verdict: 'PASS', message: `${used} used elements published, each for a completed chain` };
    });
  },
});

export const noCompletionWithoutRequest = defineRule({
  id: 'virtio.vq.no-completion-without-request',
  title: 'No completion without a request',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8',
    text: 'A used ring element names the head of a descriptor chain the driver made available and the device took.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.completion-without-request'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device completed no chain in the trace' };
      return { verdict: 'PASS', message: `all ${n} completions answer a chain the device took` };
    });
  },
});

export const queueSize = defineRule({
  id: 'virtio.vq.queue-size',
  title: 'The device stays within the queue size',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7, §4.2.2.2',
    text: 'At most Queue Size chains are outstanding and used elements are written within the ring; the driver writes a QueueNum no larger than QueueNumMax.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.in-flight-past-size', 'vq.index-past-size', 'mmio.queue-size-too-big', 'mmio.queue-size-not-pow2'], () => {
      const sized = [...d!.queues.values()].filter((q) => q.size !== undefined && q.pops > 0);
      if (sized.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace shows no queue size for a queue in use' };
      const worst = sized.map((q) => `queue ${q.index}: at most ${q.maxInflight} of ${q.size} in flight`).join(', ');
      return { verdict: 'PASS', message: worst };
    });
  },
});

export const mmioDriverRegisters = defineRule({
  id: 'virtio-mmio.driver-registers',
  title: 'The driver does not write read-only virtio-mmio registers',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.2',
    text: 'The driver MUST NOT write to read-only registers (MagicValue, Version, DeviceID, VendorID, DeviceFeatures, QueueNumMax, InterruptStatus, ConfigGeneration).',
  },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    if (d!.mmio === undefined) return { verdict: 'NOT-OBSERVED', message: 'no virtio-mmio register access attributed to this device' };
    return failOnObservations(ctx, d!, ['mmio.write-read-only'], () => ({
      verdict: 'PASS',
      message: `${d!.mmio!.accesses} register accesses, none a write to a read-only register`,
    }));
  },
});
