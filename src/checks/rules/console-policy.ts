/**
 * How consoles are integrated and shut off (AVPS-v2.0-47, -48): the guest's boot log shows a
 * console integrated as the OS normally does; the production profile makes any console present in
 * the trace a FAIL of -48; the rest is the integrator's declaration.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Ref } from '../../model/observations.ts';
import { avpsRule, evidenceOf, fromManifest } from '../platform-judge.ts';
import type { Outcome, RuleContext } from '../rule.ts';

const AREA = 'console';

/** A console the trace shows: a virtio console device that moved data, or the guest's console lines. */
function consoleSeen(ctx: RuleContext): { what: string; ref: Ref } | undefined {
  for (const d of ctx.devices) {
    // a console guessed from queue shapes could be another device: no verdict rests on it
    const t = d.type();
    if (t?.id !== DEVICE_ID.console || t.how !== 'seen') continue;
    const q = [...d.queues.values()].find((x) => x.firstFill);
    if (q?.firstFill) return { what: `virtio console ${d.id} carried ${d.console.bytesToHost} bytes from the guest`, ref: q.firstFill };
  }
  const ev = evidenceOf(ctx);
  const line = ev.bootLines('console')[0];
  if (line) return { what: `the guest's boot log shows a console ("${line.text}")`, ref: line.ref };
  const g = [...ev.guestDevices.values()].find((x) => x.deviceId === DEVICE_ID.console);
  if (g) return { what: `the guest lists a virtio console (${g.dev})`, ref: g.ref };
  return undefined;
}

export const avps47 = avpsRule({
  id: 'AVPS-v2.0-47',
  line: 1633,
  level: 'MUST',
  title: 'Text consoles integrated as the OS normally does',
  text: "To not impede efficient development, text consoles shall further be integrated according to the operating systems' normal standards so that they can be connected to any normal development flow.",
  area: AREA,
  note: 'AVPS words this with "shall", which AVPS lines 221-223 read as MUST.',
  sources: { classes: ['b', 'e'], needs: ['boot.log (console [hvc0] enabled, a getty on a console)', 'manifest consoles.os_standard'], inputs: ['boot-log', 'manifest'] },
  evaluate(ctx): Outcome {
    const line = evidenceOf(ctx).bootLines('console')[0];
    if (line) return { verdict: 'PASS', message: `the guest uses its console the standard way: ${line.text}`, evidence: [line.ref] };
    return fromManifest(ctx, 'MUST', ['consoles.os_standard'], 'consoles integrated as the OS normally does');
  },
});

export const avps48 = avpsRule({
  id: 'AVPS-v2.0-48',
  line: 1637,
  level: 'MUST',
  title: 'Consoles can be shut off in production, not from the guest',
  text: 'For security reasons, text consoles MUST be possible to shut off entirely in the configuration of a production system. This configuration MUST NOT be modifiable from within any guest operating system.',
  area: AREA,
  sources: {
    classes: ['a', 'b', 'c', 'e'],
    needs: ['a console in the trace under --profile production: console.data, boot.log console lines, device (guest list)', 'manifest consoles.production_disabled, consoles.guest_cannot_enable'],
    inputs: ['qemu-log', 'boot-log', 'guest-virtio-devices', 'manifest'],
  },
  evaluate(ctx): Outcome {
    if (ctx.profile === 'production') {
      const seen = consoleSeen(ctx);
      if (seen) return { verdict: 'FAIL', message: `a console is present in a production run: ${seen.what}`, evidence: [seen.ref] };
    }
    return fromManifest(ctx, 'MUST', ['consoles.production_disabled', 'consoles.guest_cannot_enable'], 'consoles shut off in production, unchangeable from a guest');
  },
});
