-- virtio-gpu quality of service across VMs: latency per VM, queue and context, each VM's share of device
-- time, Jain's fairness index, starvation, priority inversion and frame pacing (docs/gpu-qos.md).
-- Every view is over gpu_commands (src/analyses/gpu/tables.ts, one row per command); times are BIGINT ns on
-- the run clock: the QEMU logs of all VMs share the host clock, each guest trace is aligned to its VM's.

-- gpu_cmd_sides: each command once per side that timed it, in the terms the other views share.
--   cmd_id      BIGINT   gpu_commands.cmd_id
--   side        VARCHAR  'host': QEMU's log (submitted = virtqueue_pop, done = virtqueue_fill of the response);
--                        'guest': the guest's ftrace (submitted = virtio_gpu_cmd_queue, done = virtio_gpu_cmd_response)
--   vm          VARCHAR  VM name
--   queue       BIGINT   0 control queue, 1 cursor queue
--   ctx         BIGINT   3D context; 0 for 2D and cursor commands (they belong to none); null: not known
--   type_name   VARCHAR  VIRTIO_GPU_CMD_* name
--   submit_ns   BIGINT   ns, the side saw the command submitted
--   start_ns    BIGINT   ns, host: QEMU starts processing it (its virtio_gpu_cmd_* event); guest: null
--   done_ns     BIGINT   ns, the side saw it completed; null: not in the trace
--   latency_ns  BIGINT   ns, done − submit
--   service_ns  BIGINT   ns, host: done − start, the device working on this command; guest: null
CREATE OR REPLACE VIEW gpu_cmd_sides AS
SELECT cmd_id, 'host' AS side, vm, queue, ctx, type_name, t_pop AS submit_ns, t_process AS start_ns, t_fill AS done_ns,
       t_fill - t_pop AS latency_ns, t_fill - t_process AS service_ns
FROM gpu_commands WHERE t_pop IS NOT NULL
UNION ALL
SELECT cmd_id, 'guest', vm, queue, ctx, type_name, t_queue, NULL, t_response, t_response - t_queue, NULL
FROM gpu_commands WHERE t_queue IS NOT NULL;

-- gpu_qos_latency: command latency (submitted → completed) per side, VM, queue and context.
--   side, vm, queue, ctx               as in gpu_cmd_sides
--   commands                           BIGINT  commands the side saw submitted
--   completed                          BIGINT  of which it saw completed
--   p50_ns, p95_ns, p99_ns, max_ns     BIGINT  ns, latency of the completed ones (quantile_cont)
CREATE OR REPLACE VIEW gpu_qos_latency AS
SELECT side, vm, queue, ctx, count(*) AS commands, count(done_ns) AS completed,
       CAST(quantile_cont(latency_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(latency_ns, 0.95) AS BIGINT) AS p95_ns,
       CAST(quantile_cont(latency_ns, 0.99) AS BIGINT) AS p99_ns,
       max(latency_ns) AS max_ns
FROM gpu_cmd_sides
GROUP BY side, vm, queue, ctx
ORDER BY side = 'guest', vm, queue, ctx;

-- gpu_window: per side, the VMs' common window: from the latest first submission of any VM to the earliest
-- last completion, the time they all used their GPU. gpu_share and gpu_fairness count inside it, so that a
-- VM that ran alone before the others started is not taken for one that crowded them out.
--   side       VARCHAR  as in gpu_cmd_sides
--   vms        BIGINT   VMs with commands on that side
--   start_ns   BIGINT   ns, the latest of the VMs' first submissions
--   end_ns     BIGINT   ns, the earliest of the VMs' last completions
--   window_ns  BIGINT   ns, end − start (≤ 0: their activity did not overlap)
CREATE OR REPLACE VIEW gpu_window AS
WITH per_vm AS (SELECT side, vm, min(submit_ns) AS first_ns, max(done_ns) AS last_ns FROM gpu_cmd_sides GROUP BY side, vm)
SELECT side, count(*) AS vms, max(first_ns) AS start_ns, min(last_ns) AS end_ns, min(last_ns) - max(first_ns) AS window_ns
FROM per_vm GROUP BY side;

-- gpu_share: per side and VM, what it asked of its GPU and what it got, inside the common window (gpu_window).
--   side, vm       as in gpu_cmd_sides
--   submitted      BIGINT  commands submitted in the window [start, end)
--   served         BIGINT  commands completed in the window [start, end]
--   served_per_s   DOUBLE  1/s, served / window length
--   demand_ratio   DOUBLE  served / submitted: 1 when the VM got all it asked for
--   busy_ns        BIGINT  ns, host: device time, the VM's processing intervals (virtio_gpu_cmd_* → virtqueue_fill)
--                          clipped to the window; a command popped with others waits for them, so pop → fill would
--                          count one wait several times; guest: null (the guest does not see the device work)
--   share          DOUBLE  host: busy_ns / all VMs' busy_ns, 0..1; guest: null
CREATE OR REPLACE VIEW gpu_share AS
WITH per_vm AS (
  SELECT c.side, c.vm, w.window_ns,
         count(*) FILTER (WHERE c.submit_ns >= w.start_ns AND c.submit_ns < w.end_ns) AS submitted,
         count(*) FILTER (WHERE c.done_ns >= w.start_ns AND c.done_ns <= w.end_ns) AS served,
         -- (greatest and least skip nulls: a command without both ends has no device time)
         CAST(sum(CASE WHEN c.start_ns IS NOT NULL AND c.done_ns IS NOT NULL
                       THEN greatest(0, least(c.done_ns, w.end_ns) - greatest(c.start_ns, w.start_ns)) END) AS BIGINT) AS busy_ns
  FROM gpu_cmd_sides c JOIN gpu_window w USING (side)
  GROUP BY c.side, c.vm, w.window_ns)
SELECT side, vm, submitted, served,
       CASE WHEN window_ns > 0 THEN served * 1e9 / window_ns END AS served_per_s,
       CASE WHEN submitted > 0 THEN served / submitted END AS demand_ratio,
       busy_ns,
       busy_ns / nullif(sum(busy_ns) OVER (PARTITION BY side), 0) AS share
FROM per_vm
ORDER BY side = 'guest', vm;

-- gpu_fairness: per side, Jain's fairness index J = (Σx)² / (n·Σx²) across the n VMs of gpu_share: 1 when every
-- VM has the same x, 1/n when one VM has everything.
--   side               VARCHAR  as in gpu_cmd_sides
--   vms                BIGINT   n
--   window_ns          BIGINT   ns, the common window (gpu_window)
--   jain_served        DOUBLE   x = commands served per second: the raw allocation of commands
--   jain_device_time   DOUBLE   x = device time (host; guest: null): the raw allocation of the device
--   jain_demand        DOUBLE   x = demand_ratio (served / submitted): normalised by what each VM asked, so a
--                               3:1 mix in which each VM is served all it submits is 1, not unfair
CREATE OR REPLACE VIEW gpu_fairness AS
SELECT s.side, count(*) AS vms, any_value(w.window_ns) AS window_ns,
       sum(s.served_per_s) ^ 2 / nullif(count(*) * sum(s.served_per_s ^ 2), 0) AS jain_served,
       sum(s.busy_ns) ^ 2 / nullif(count(*) * sum(CAST(s.busy_ns AS DOUBLE) ^ 2), 0) AS jain_device_time,
       sum(s.demand_ratio) ^ 2 / nullif(count(*) * sum(s.demand_ratio ^ 2), 0) AS jain_demand
FROM gpu_share s JOIN gpu_window w USING (side)
GROUP BY s.side
ORDER BY s.side = 'guest';

-- gpu_starvation: per side and VM, the longest time it had a command outstanding (submitted, not completed),
-- got no completion itself, and other VMs got theirs: from when it began to wait (the submission that left it
-- with work outstanding, or its own previous completion) to the last completion of another VM before the VM's
-- next command was taken up: QEMU's start of processing it (host; each VM's QEMU serves its own commands one at
-- a time, so what other VMs complete meanwhile ran beside it, not ahead of it), or its completion (guest: the
-- guest does not see service start). Commands never completed in the trace are left out (no known end).
--   side, vm        as in gpu_cmd_sides
--   starved_ns      BIGINT  ns, the longest such wait; 0: it never waited while another VM was served
--   from_ns, to_ns  BIGINT  ns, when: from the wait's start to that last completion of another VM (null when starved_ns is 0)
--   cmd_id          BIGINT  the VM's command whose completion ended that wait (null when starved_ns is 0)
--   waits           BIGINT  how many times it waited while another VM got a completion
CREATE OR REPLACE VIEW gpu_starvation AS
WITH done AS (SELECT side, vm, cmd_id, submit_ns, start_ns, done_ns FROM gpu_cmd_sides WHERE done_ns IS NOT NULL),
-- busy periods of each VM: the islands of its overlapping [submit, done] intervals
marked AS (
  SELECT *, max(done_ns) OVER (PARTITION BY side, vm ORDER BY submit_ns, cmd_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM done),
islands AS (
  SELECT *, min(submit_ns) OVER (PARTITION BY side, vm, period) AS period_start
  FROM (SELECT *, sum(CASE WHEN prev_end IS NULL OR submit_ns > prev_end THEN 1 ELSE 0 END)
                    OVER (PARTITION BY side, vm ORDER BY submit_ns, cmd_id) AS period FROM marked)),
-- within a busy period, the VM waits from the period's start or its previous completion until its next
-- completing command is taken up (cut_ns, inclusive; ns are whole, so end − 1 is "before the end")
waits AS (
  SELECT side, vm, cmd_id,
         coalesce(lag(done_ns) OVER (PARTITION BY side, vm, period ORDER BY done_ns, cmd_id), period_start) AS from_ns,
         CASE WHEN start_ns IS NOT NULL THEN start_ns ELSE done_ns - 1 END AS cut_ns
  FROM islands),
-- no completion of the VM itself lies after the wait's start and before its next one: the last completion
-- up to the cut is another VM's when it is later than the start
starved AS (
  SELECT w.side, w.vm, w.cmd_id, w.from_ns, o.done_ns AS other_ns,
         CASE WHEN o.done_ns > w.from_ns THEN o.done_ns - w.from_ns ELSE 0 END AS starved_ns
  FROM waits w ASOF LEFT JOIN (SELECT side, done_ns FROM done) o ON w.side = o.side AND o.done_ns <= w.cut_ns)
SELECT side, vm, max(starved_ns) AS starved_ns,
       CASE WHEN max(starved_ns) > 0 THEN arg_max(from_ns, starved_ns) END AS from_ns,
       CASE WHEN max(starved_ns) > 0 THEN arg_max(other_ns, starved_ns) END AS to_ns,
       CASE WHEN max(starved_ns) > 0 THEN arg_max(cmd_id, starved_ns) END AS cmd_id,
       count(*) FILTER (WHERE starved_ns > 0) AS waits
FROM starved
GROUP BY side, vm
ORDER BY side = 'guest', vm;

-- gpu_priority_inversions(prio): once priorities are declared (prio: MAP(VARCHAR, INTEGER), VM name → level,
-- larger = more important; `perf gpu --priority cluster=high,rear=low`): per pair of VMs, the commands of the
-- lower one QEMU started processing while a command of the higher one waited for its own start. A command waits
-- from the guest's virtio_gpu_cmd_queue (QEMU's virtqueue_pop when the guest trace does not show it: then the
-- wait for QEMU's main loop to take the kick is not seen) to QEMU's virtio_gpu_cmd_*. VMs without a level take
-- part in none.
--   served_vm, waiting_vm               VARCHAR  the lower VM that was served, the higher one that waited
--   served_priority, waiting_priority   INTEGER  their levels
--   inversions                          BIGINT   commands of served_vm started while one of waiting_vm waited
--   inverted_ns                         BIGINT   ns, their device time (service_ns): the device working for the lower VM meanwhile
--   max_wait_ns                         BIGINT   ns, the longest wait (submitted → start) of a waiting_vm command such a start fell in
--   first_cmd_id                        BIGINT   the first such command of served_vm
CREATE OR REPLACE MACRO gpu_priority_inversions(prio) AS TABLE
WITH h AS (
  SELECT cmd_id, vm, prio[vm] AS level, coalesce(t_queue, t_pop) AS submit_ns, t_process AS start_ns, t_fill - t_process AS service_ns
  FROM gpu_commands WHERE t_process IS NOT NULL AND prio[vm] IS NOT NULL),
pairs AS (
  SELECT lo.cmd_id, lo.vm AS served_vm, lo.level AS served_priority, hi.vm AS waiting_vm, hi.level AS waiting_priority,
         lo.start_ns, lo.service_ns, hi.start_ns - hi.submit_ns AS wait_ns
  FROM h lo JOIN h hi ON hi.level > lo.level AND hi.submit_ns < lo.start_ns AND hi.start_ns > lo.start_ns),
per_cmd AS (
  SELECT cmd_id, served_vm, served_priority, waiting_vm, waiting_priority,
         any_value(start_ns) AS start_ns, any_value(service_ns) AS service_ns, max(wait_ns) AS wait_ns
  FROM pairs GROUP BY cmd_id, served_vm, served_priority, waiting_vm, waiting_priority)
SELECT served_vm, CAST(served_priority AS INTEGER) AS served_priority, waiting_vm, CAST(waiting_priority AS INTEGER) AS waiting_priority,
       count(*) AS inversions, CAST(sum(service_ns) AS BIGINT) AS inverted_ns, max(wait_ns) AS max_wait_ns,
       arg_min(cmd_id, start_ns) AS first_cmd_id
FROM per_cmd
GROUP BY served_vm, served_priority, waiting_vm, waiting_priority
ORDER BY waiting_priority DESC, waiting_vm, served_vm;

-- gpu_frames: one row per frame a VM presented: a RESOURCE_FLUSH, on the scanout showing its resource.
-- SET_SCANOUT is not a frame of its own: Linux's driver follows each one with a RESOURCE_FLUSH of the update.
--   vm           VARCHAR  VM name
--   scanout      BIGINT   scanout (null: not known, e.g. from a guest trace alone)
--   cmd_id       BIGINT   gpu_commands.cmd_id of the flush
--   t_ns         BIGINT   ns, presented: QEMU's virtqueue_fill of the flush's response, else the guest's virtio_gpu_cmd_response
--   interval_ns  BIGINT   ns since the VM's previous frame on that scanout (null for its first)
CREATE OR REPLACE VIEW gpu_frames AS
SELECT vm, scanout, cmd_id, t_ns, t_ns - lag(t_ns) OVER (PARTITION BY vm, scanout ORDER BY t_ns, cmd_id) AS interval_ns
FROM (SELECT vm, scanout, cmd_id, coalesce(t_fill, t_response) AS t_ns FROM gpu_commands WHERE type_name = 'RESOURCE_FLUSH')
WHERE t_ns IS NOT NULL
ORDER BY vm, scanout, t_ns;

-- gpu_frame_pacing(refresh_hz): per VM and scanout, frame intervals (gpu_frames) against a target refresh rate.
--   vm, scanout                     as in gpu_frames
--   frames                          BIGINT  frames presented
--   fps                             DOUBLE  1/s, frames per second between the first frame and the last
--   target_ns                       DOUBLE  ns, 1e9 / refresh_hz
--   p50_ns, p99_ns, max_ns          BIGINT  ns, frame interval (quantile_cont)
--   jitter_ns                       DOUBLE  ns, standard deviation of the intervals (population)
--   missed                          BIGINT  intervals longer than 1.5 × target: a refresh went by without a new frame
CREATE OR REPLACE MACRO gpu_frame_pacing(refresh_hz) AS TABLE
SELECT vm, scanout, count(*) AS frames,
       CASE WHEN max(t_ns) > min(t_ns) THEN (count(*) - 1) * 1e9 / (max(t_ns) - min(t_ns)) END AS fps,
       any_value(1e9 / refresh_hz) AS target_ns,
       CAST(quantile_cont(interval_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(interval_ns, 0.99) AS BIGINT) AS p99_ns,
       max(interval_ns) AS max_ns,
       stddev_pop(interval_ns) AS jitter_ns,
       count(*) FILTER (WHERE interval_ns > 1.5e9 / refresh_hz) AS missed
FROM gpu_frames
GROUP BY vm, scanout
ORDER BY vm, scanout;
