#!/usr/bin/env python3
"""Aligns a guest ftrace text dump with QEMU's -trace log of the same run.
Pairs (1) guest virtio/vq_notify (kprobe on the transport notify hook) with QEMU virtio_queue_notify, in order,
and (2) guest block_rq_issue (sector, count) with QEMU virtio_blk_handle_read/write (sector, nsectors).
Prints offset = qemu_wallclock - guest_trace_ts per pair (min/median/max) and a least-squares drift."""
import re, sys, statistics as st
g, q = sys.argv[1], sys.argv[2]
G_RE = re.compile(r'^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+): (.*)$')
Q_RE = re.compile(r'^(\d+)@([\d.]+):(\w+) (.*)$')
gn, gb, qn, qb, qirq, gvi = [], [], [], [], [], []
for l in open(g, errors='replace'):
    m = G_RE.match(l)
    if not m: continue
    t, ev, a = float(m.group(3)), m.group(4), m.group(5)
    if ev == 'vq_notify':
        d = dict(re.findall(r'(\w+)=(\S+)', a)); gn.append((t, int(d['dev']), int(d['vq'])))
    elif ev == 'vring_interrupt':
        d = dict(re.findall(r'(\w+)=(\S+)', a)); gvi.append((t, int(d['dev']), int(d['vq'])))
    elif ev == 'block_rq_issue':
        m2 = re.match(r'\S+ (\S+) \d+ \(.*?\) (\d+) \+ (\d+)', a)
        if m2 and m2.group(1)[0] in 'RW' and int(m2.group(3)) > 0:
            gb.append((t, m2.group(1)[0], int(m2.group(2)), int(m2.group(3))))
for l in open(q, errors='replace'):
    m = Q_RE.match(l)
    if not m: continue
    t, ev, a = float(m.group(2)), m.group(3), m.group(4)
    if ev == 'virtio_queue_notify':
        d = dict(re.findall(r'(\w+) (\S+)', a)); qn.append((t, d['vdev'], int(d['n'])))
    elif ev in ('virtio_blk_handle_read', 'virtio_blk_handle_write'):
        d = dict(re.findall(r'(\w+) (\S+)', a)); qb.append((t, 'R' if ev.endswith('read') else 'W', int(d['sector']), int(d['nsectors'])))
def report(name, pairs):
    if not pairs: print(f'{name}: no pairs'); return
    off = [b - a for a, b in pairs]; n = len(off); lo = min(off)
    # robust drift: the smallest offset in the first and in the last third of the run (the guest-side latency
    # between the two events is >= 0, so the lower envelope is the clock offset)
    k = max(1, n // 3); a1 = min(range(k), key=lambda i: off[i]); a2 = min(range(n - k, n), key=lambda i: off[i])
    dt = pairs[a2][0] - pairs[a1][0]; drift = (off[a2] - off[a1]) / dt if dt > 0 else 0.0
    within = sum(1 for o in off if o - lo < 50e-6)
    print(f'{name}: {n} pairs over {pairs[-1][0]-pairs[0][0]:.3f} s; offset qemu-guest min {lo:.6f} median {st.median(off):.6f} '
          f'max {max(off):.6f} s; {within}/{n} within 50 us of min; lower-envelope drift {drift*1e6:+.0f} ppm')
print(f'guest vq_notify {len(gn)}, qemu virtio_queue_notify {len(qn)}; guest block_rq_issue(R/W) {len(gb)}, qemu handle_read/write {len(qb)}')
# (2) block requests by (dir, sector, count), in order
used, bpairs = [False] * len(qb), []
for tg, dr, s, c in gb:
    for i, (tq, dq, sq, cq) in enumerate(qb):
        if not used[i] and (dq, sq, cq) == (dr, s, c): used[i] = True; bpairs.append((tg, tq)); break
report('block_rq_issue -> virtio_blk_handle_*', bpairs)
# (1) notify: each guest notify to the first unused QEMU notify of the same queue index within [off0-1ms, off0+50ms]
# (off0 above); the guest virtioN -> QEMU vdev mapping is fixed by the first match and then enforced.
# off0 = block lower envelope; with no block requests (a GPU-only VM) the lower envelope of the first ten notifies
# paired in order (the firmware drives no virtio-gpu, so the first QEMU notifies are the guest's first ones)
off0 = min(b - a for a, b in bpairs) if bpairs else (min(q[0] - g[0] for g, q in zip(gn[:10], qn[:10])) if gn and qn else None)
if off0 is not None and not bpairs:
    print(f'no block pairs: first-notify anchor {off0:.6f} s')
if off0 is not None and gn:
    mp, usedq, npairs, miss = {}, set(), [], 0
    for tg, d, v in gn:
        hit = None
        for i, (tq, vd, n) in enumerate(qn):
            if i in usedq or n != v or tq < tg + off0 - 1e-3: continue
            if tq > tg + off0 + 0.05: break
            if mp.get(d, vd) == vd: hit = i; break
        if hit is None: miss += 1; continue
        usedq.add(hit); mp.setdefault(d, qn[hit][1]); npairs.append((tg, qn[hit][0], d))
    tlast = max(t for t, *_ in gn) + off0
    print(f'notify pairing: {len(npairs)}/{len(gn)} guest notifies matched; {len(qn)-len(usedq)} QEMU notifies unmatched '
          f'({sum(1 for i,(t,*_) in enumerate(qn) if i not in usedq and t > tlast)} of them after the guest stopped tracing, '
          f'{sum(1 for i,(t,*_) in enumerate(qn) if i not in usedq and t < min(t for t,*_ in gn)+off0)} before it started); '
          'guest virtioN -> QEMU vdev: ' + ', '.join(f'virtio{d}={vd}' for d, vd in sorted(mp.items())))
    report('vq_notify -> virtio_queue_notify (all)', [(a, b) for a, b, _ in npairs])
    for dev in sorted(set(d for *_, d in npairs)):
        report(f'  virtio{dev} only', [(a, b) for a, b, d in npairs if d == dev])
