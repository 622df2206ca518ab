/**
 * virtio-gpu command latency on the real q35-gpu pair: counts per command type from each side's
 * raw lines, both sides naming the same command for every chain paired, and latencies equal to
 * what the raw lines of one command say.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ingest } from '../src/api/ingest.ts';
import { GPU_CMD } from '../src/model/devices/gpu-codes.ts';
import { queryRows, type Row } from '../src/perf/store.ts';
import { lines, real } from './helpers.ts';

const HOST = real('guest-ftrace/q35-gpu.qemu.trace.gz');
const GUEST = real('guest-ftrace/q35-gpu.guest-ftrace.txt.gz');
const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');

async function query(files: string[], ...sql: string[]): Promise<Row[][]> {
  const r = await ingest({ files, db: ':memory:' });
  try {
    const out: Row[][] = [];
    for (const q of sql) out.push(await queryRows(r.store.conn, q));
    return out;
  } finally {
    r.store.close();
  }
}

const gl = lines(GUEST);
const hl = lines(HOST);
/** "... 1795579131.237427: ..." or "15440@1795579131.381444:..." -> ns */
const ns = (l: string) => {
  const m = /[ @](\d+)\.(\d{6}):/.exec(l)!;
  return Number(BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n - 1795579131_000_000_000n);
};

/** QEMU's event for each command type (hw/display/trace-events), as the QEMU adapter reads them. */
const QEMU_EVENT: Record<string, string> = {
  GET_DISPLAY_INFO: 'virtio_gpu_cmd_get_display_info',
  GET_EDID: 'virtio_gpu_cmd_get_edid',
  RESOURCE_CREATE_2D: 'virtio_gpu_cmd_res_create_2d',
  RESOURCE_ATTACH_BACKING: 'virtio_gpu_cmd_res_back_attach',
  SET_SCANOUT: 'virtio_gpu_cmd_set_scanout',
  TRANSFER_TO_HOST_2D: 'virtio_gpu_cmd_res_xfer_toh_2d',
  RESOURCE_FLUSH: 'virtio_gpu_cmd_res_flush',
};

describe('GPU commands of the real q35-gpu pair', () => {
  it('counts each command type as each side logged it, and pairs every guest command with the one QEMU processed', async () => {
    const [rows, mismatched] = await query([HOST, GUEST], 'SELECT * FROM gpu_latency', 'SELECT * FROM gpu_type_mismatch');
    expect(rows!.map((r) => r.type_name).sort()).toEqual(Object.keys(QEMU_EVENT).sort());
    for (const r of rows!) {
      const type = `type=0x${GPU_CMD[r.type_name as keyof typeof GPU_CMD].toString(16)} `;
      const guest = gl.filter((l) => l.includes(' virtio_gpu_cmd_queue: ') && l.includes(type)).length;
      const host = hl.filter((l) => l.includes(`:${QEMU_EVENT[r.type_name as string]} `) || l.endsWith(`:${QEMU_EVENT[r.type_name as string]}`)).length;
      // every command the guest queued reached QEMU (QEMU logs at least as many of each type);
      // QEMU's extra ones came after the guest stopped tracing
      expect(r.paired).toBe(guest);
      expect(r.guest_only).toBe(0);
      expect((r.paired as number) + (r.host_only as number)).toBe(host);
    }
    // paired in ring order, both sides name the same command every time
    expect(mismatched).toEqual([]);
  });

  it('measures one command as its raw lines say: GET_EDID', async () => {
    const [[row], [resp]] = (await query([HOST, GUEST], "SELECT * FROM gpu_commands WHERE type_name = 'GET_EDID'", 'SELECT drift_ppm FROM clock_alignment')) as [Row[], Row[]];
    // guest: queued at the type=0x10a line, answered by the first response (the driver took both
    // buffers of that kick back in order: 0x10a's first), RESP_OK_EDID = 0x1104
    const queued = gl.find((l) => / virtio_gpu_cmd_queue: .* type=0x10a /.test(l))!;
    const answered = gl.find((l) => / virtio_gpu_cmd_response: .* type=0x1104 /.test(l))!;
    expect(row!.resp_name).toBe('RESP_OK_EDID');
    expect(Math.abs((row!.guest_ns as number) - (ns(answered) - ns(queued)) * (1 + (resp!.drift_ppm as number) * 1e-6))).toBeLessThanOrEqual(2);
    // host: QEMU pops everything available, then processes in order; the response to get_edid is the
    // virtqueue_fill that follows its event, of the element popped last before it with that pointer
    const at = hl.findIndex((l) => l.includes(':virtio_gpu_cmd_get_edid '));
    const fill = hl.find((l, i) => i > at && l.includes(':virtqueue_fill '))!;
    const elem = / elem (\S+) /.exec(fill)![1]!;
    const pop = hl.slice(0, at).findLast((l) => l.includes(':virtqueue_pop ') && l.includes(`elem ${elem} `))!;
    expect(row!.host_ns).toBe(ns(fill) - ns(pop));
    expect(row!.process_line).toBe(at + 1);
  });

  it('perf gpu prints count and latency per command type from both sides', () => {
    const out = execFileSync('node', [BIN, 'perf', 'gpu', HOST, GUEST, '--no-db'], { encoding: 'utf8' });
    for (const t of Object.keys(QEMU_EVENT)) expect(out).toMatch(new RegExp(`^${t} +control +\\d+ +\\d+ +0 +\\d+ +\\S+ (µs|ms) `, 'm'));
    expect(out).toContain('GET_DISPLAY_INFO → RESP_OK_DISPLAY_INFO ×1');
    expect(out).not.toContain('warning');
  });

  it('keeps each side on its own without the other', async () => {
    const [guestOnly] = await query([GUEST], "SELECT sum(n) AS n, sum(paired) AS paired, sum(host_only) AS host FROM gpu_latency");
    expect(guestOnly![0]).toEqual({ n: gl.filter((l) => l.includes(' virtio_gpu_cmd_queue: ')).length, paired: 0, host: 0 });
    const [hostOnly] = await query([HOST], "SELECT sum(n) AS n, sum(guest_only) AS guest FROM gpu_latency");
    expect(hostOnly![0]!.guest).toBe(0);
    expect(hostOnly![0]!.n).toBe(hl.filter((l) => /:virtio_gpu_cmd_\w+/.test(l)).length);
  });
});
