-- PCM streams of virtio-sound devices (VIRTIO 1.3 §5.14), device side.
-- Every view is over the sound analysis's tables (pcm_streams, pcm_periods, pcm_ticks, pcm_xruns,
-- audio_timer: src/analyses/sound/tables.ts); times are BIGINT ns on the run clock.
-- A gate metric is one query on audio_metrics (per VM) or audio_streams (per stream session).

-- audio_ticks: each device tick of a running stream, against the period the stream settled on.
--   expected     INTEGER  periods the time since the previous tick accounts for: round(interval / settled period)
--   excess       INTEGER  periods returned beyond that (negative: fewer, e.g. a late tick)
--   jitter_ns    BIGINT   ns, interval - periods × settled period: how far the tick strays from the stream's period clock
--   burst        BOOLEAN  the tick returned two or more periods more than its interval accounts for (one more is
--                         the phase of a period boundary against the timer)
CREATE OR REPLACE VIEW audio_ticks AS
SELECT t.vm, t.dev, t.stream, t.session, t.run, t.tick, t.ts, t.periods, t.interval_ns,
       CAST(round(t.interval_ns / s.settled_period_ns) AS INTEGER) AS expected,
       t.periods - CAST(round(t.interval_ns / s.settled_period_ns) AS INTEGER) AS excess,
       t.interval_ns - t.periods * s.settled_period_ns AS jitter_ns,
       coalesce(t.periods - round(t.interval_ns / s.settled_period_ns) >= 2, false) AS burst,
       t.level_before, t.level_after, t.timer_late_ms, t.file, t.line
FROM pcm_ticks t JOIN pcm_streams s USING (vm, dev, stream, session);

-- audio_bursts: the bursts, each with the periods it returned and whether it emptied the device.
--   emptied  BOOLEAN  nothing was left queued after the tick
CREATE OR REPLACE VIEW audio_bursts AS
SELECT vm, dev, stream, session, run, tick, ts, periods, expected, excess, level_before, level_after,
       level_after = 0 AS emptied, timer_late_ms, file, line
FROM audio_ticks WHERE burst
ORDER BY vm, ts;

-- audio_xruns: underruns and overruns with what preceded them.
--   end_ns          BIGINT   ns, t_start + duration_ns
--   burst_periods   INTEGER  periods of the tick that emptied the device, when that tick was a burst
--   timer_late_ms   INTEGER  ms the host audio timer was late at that tick or the one before
CREATE OR REPLACE VIEW audio_xruns AS
SELECT x.vm, x.dev, x.stream, x.session, x.run, x.kind, x.t_start, x.duration_ns, x.t_start + x.duration_ns AS end_ns,
       x.dry_running_ns, x.recovery, x.t_stop, x.t_release, x.t_prepare, x.t_restart,
       (SELECT max(b.periods) FROM audio_ticks b
         WHERE b.vm = x.vm AND b.dev = x.dev AND b.stream = x.stream AND b.session = x.session AND b.tick = x.tick AND b.burst) AS burst_periods,
       (SELECT max(l.timer_late_ms) FROM pcm_ticks l
         WHERE l.vm = x.vm AND l.dev = x.dev AND l.stream = x.stream AND l.session = x.session AND l.tick BETWEEN x.tick - 1 AND x.tick) AS timer_late_ms,
       x.file, x.line
FROM pcm_xruns x
ORDER BY x.vm, x.t_start;

-- audio_streams: one row per stream session with its xruns, bursts and period jitter.
--   period_ns        BIGINT   ns per period the device settled on (pcm_streams.settled_period_ns)
--   xruns            INTEGER  underruns + overruns
--   starved_ns       BIGINT   ns, sum of the xruns' durations
--   bursts           BIGINT   ticks that were bursts (audio_bursts)
--   jitter_p50_ns .. jitter_max_ns  BIGINT  quantiles of |jitter_ns| over the session's ticks
--   timer_late_max_ms INTEGER  largest lateness of the host audio timer seen at a tick of the session
CREATE OR REPLACE VIEW audio_streams AS
SELECT s.vm, s.dev, s.stream, s.session, s.direction, s.t_first, s.t_last, s.runs, s.settled_period_ns AS period_ns,
       s.nominal_period_ns, s.periods_given, s.periods_returned, s.bytes,
       s.underruns, s.overruns, s.underruns + s.overruns AS xruns, s.starved_ns,
       coalesce(j.bursts, 0) AS bursts, j.ticks,
       j.jitter_p50_ns, j.jitter_p99_ns, j.jitter_max_ns, j.timer_late_max_ms,
       s.bad_transitions, s.io_errors, s.file, s.line
FROM pcm_streams s LEFT JOIN (
  SELECT vm, dev, stream, session, count(*) AS ticks, count(*) FILTER (WHERE burst) AS bursts,
         CAST(quantile_cont(abs(jitter_ns), 0.5) AS BIGINT) AS jitter_p50_ns,
         CAST(quantile_cont(abs(jitter_ns), 0.99) AS BIGINT) AS jitter_p99_ns,
         CAST(max(abs(jitter_ns)) AS BIGINT) AS jitter_max_ns,
         max(timer_late_ms) AS timer_late_max_ms
  FROM audio_ticks GROUP BY vm, dev, stream, session
) j USING (vm, dev, stream, session)
ORDER BY s.vm, s.t_first;

-- audio_latency: returns whose I/O status carried latency_bytes (snd.xfer), against the model's queue level.
--   diff_frames  BIGINT   latency the device reported minus the frames the model sees queued after the return
--   mismatch     BOOLEAN  they differ by more than one period
CREATE OR REPLACE VIEW audio_latency AS
SELECT p.vm, p.dev, p.stream, p.session, p.ts, p.level, p.level_frames, p.latency_bytes, p.latency_frames,
       p.latency_frames - p.level_frames AS diff_frames,
       abs(p.latency_frames - p.level_frames) > s.period_frames AS mismatch, p.file, p.line
FROM pcm_periods p JOIN pcm_streams s USING (vm, dev, stream, session)
WHERE p.latency_bytes IS NOT NULL
ORDER BY p.vm, p.ts;

-- audio_timer_delays: each time the host audio timer fired late (QEMU audio_timer_delayed).
--   late_ms  INTEGER  ms beyond the timer's period
CREATE OR REPLACE VIEW audio_timer_delays AS
SELECT vm, ts, interval_ms, nominal_ms, late_ms, file, line
FROM audio_timer WHERE op = 'delayed'
ORDER BY vm, ts;

-- audio_metrics: per VM, the numbers a gate reads (one row per VM with a PCM stream).
--   underruns, overruns  BIGINT  counts over all stream sessions
--   starved_ns           BIGINT  ns, total xrun time
--   bursts               BIGINT  burst ticks
--   jitter_p99_ns        BIGINT  worst session's p99 |jitter|
--   timer_late_max_ms    INTEGER largest host audio timer lateness
--   latency_mismatches   BIGINT  returns whose latency_bytes is more than a period off the model's level
CREATE OR REPLACE VIEW audio_metrics AS
SELECT s.vm, count(*) AS sessions, sum(s.underruns) AS underruns, sum(s.overruns) AS overruns,
       sum(s.starved_ns) AS starved_ns, sum(s.bursts) AS bursts, max(s.jitter_p99_ns) AS jitter_p99_ns,
       (SELECT max(late_ms) FROM audio_timer a WHERE a.vm = s.vm) AS timer_late_max_ms,
       (SELECT count(*) FILTER (WHERE mismatch) FROM audio_latency l WHERE l.vm = s.vm) AS latency_mismatches
FROM audio_streams s
GROUP BY s.vm
ORDER BY s.vm;
