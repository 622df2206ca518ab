-- Block timing beyond per-op latency: per queue, queue depth over time, flush rate, and the
-- durability window (how long a completed write waits until a FLUSH makes it durable).
-- Built on blk_requests and blk_time_to_durable (blk_latency.sql, created before this file).
-- Times are BIGINT ns on the run clock unless a column says otherwise.
--
-- The same figures as the application sees them come from the guest view (queries/xlayer.sql,
-- built from the guest's ftrace): the metrics blk.guest.latency.* (src/perf/metrics.ts) read
-- xlayer_complete. Hook for the guest-side durability window, not built yet: a view
-- `blk_guest_durable_wait` with blk_durable_wait's columns over the guest's write and flush
-- completions; registering blk.guest.time_to_durable.* over it is then one distribution() entry.

-- blk_queue_latency: per device, queue and op, the latency distribution (pop to fill).
--   queue    BIGINT   virtqueue index
--   n        BIGINT   requests
--   p50_ns .. max_ns  BIGINT  latency quantiles, ns
CREATE OR REPLACE VIEW blk_queue_latency AS
SELECT vm, dev, queue, op, count(*) AS n,
       CAST(quantile_cont(latency_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(latency_ns, 0.9) AS BIGINT) AS p90_ns,
       CAST(quantile_cont(latency_ns, 0.99) AS BIGINT) AS p99_ns,
       max(latency_ns) AS max_ns
FROM blk_requests
GROUP BY vm, dev, queue, op
ORDER BY vm, dev, queue, op;

-- blk_queue_depth: requests in flight per queue as a step function: from ts until until_ts the
-- device holds `depth` popped, not yet filled requests. Requests still in flight when the trace
-- ends are not counted (they have no span).
--   ts        BIGINT  ns, the depth changes here
--   depth     BIGINT  requests in flight from ts on
--   until_ts  BIGINT  ns, the next change (null: the last one)
CREATE OR REPLACE VIEW blk_queue_depth AS
WITH steps AS (
  SELECT vm, dev, queue, t_pop AS ts, 1 AS delta FROM blk_requests
  UNION ALL
  SELECT vm, dev, queue, t_fill AS ts, -1 AS delta FROM blk_requests
), merged AS (
  -- a fill and a pop at the same ns leave the depth as it was: no step
  SELECT vm, dev, queue, ts, sum(delta) AS delta FROM steps GROUP BY vm, dev, queue, ts HAVING sum(delta) <> 0
)
SELECT vm, dev, queue, ts,
       CAST(sum(delta) OVER w AS BIGINT) AS depth,
       lead(ts) OVER w AS until_ts
FROM merged
WINDOW w AS (PARTITION BY vm, dev, queue ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY vm, dev, queue, ts;

-- blk_queue_depth_summary: per queue, how deep it got and how busy it was.
--   max_depth        BIGINT  most requests in flight at once
--   busy_ns          BIGINT  ns with at least one request in flight
--   span_ns          BIGINT  ns from the first pop to the last fill
--   mean_busy_depth  DOUBLE  time-weighted mean depth while busy (1.0: never more than one)
CREATE OR REPLACE VIEW blk_queue_depth_summary AS
SELECT vm, dev, queue, max(depth) AS max_depth,
       CAST(sum(until_ts - ts) FILTER (WHERE depth > 0) AS BIGINT) AS busy_ns,
       max(ts) - min(ts) AS span_ns,
       sum(depth * (until_ts - ts)) FILTER (WHERE depth > 0) / nullif(sum(until_ts - ts) FILTER (WHERE depth > 0), 0) AS mean_busy_depth
FROM blk_queue_depth
GROUP BY vm, dev, queue
ORDER BY vm, dev, queue;

-- blk_flush_rate: per device, FLUSH requests against the data written.
--   flushes         BIGINT  FLUSH requests
--   written_bytes   BIGINT  bytes written by WRITE requests
--   flushes_per_mib DOUBLE  flushes per MiB written (null: nothing written)
CREATE OR REPLACE VIEW blk_flush_rate AS
SELECT vm, dev,
       count(*) FILTER (WHERE op = 'flush') AS flushes,
       CAST(coalesce(sum(bytes) FILTER (WHERE op = 'write'), 0) AS BIGINT) AS written_bytes,
       count(*) FILTER (WHERE op = 'flush') / nullif(sum(bytes) FILTER (WHERE op = 'write') / 1048576.0, 0) AS flushes_per_mib
FROM blk_requests
GROUP BY vm, dev
ORDER BY vm, dev;

-- blk_durable_wait: per write, the wait until durable with a never-flushed write counted as
-- waiting forever, so that quantiles, maxima and windows cannot overlook it.
--   write_done  BIGINT  ns, the write completed (fill)
--   wait_ns     DOUBLE  ns until the covering flush completed; +Infinity if none came
--   flushed     BOOLEAN a flush covered the write
CREATE OR REPLACE VIEW blk_durable_wait AS
SELECT vm, dev, sector, nsectors, write_done,
       coalesce(CAST(durable_ns AS DOUBLE), CAST('inf' AS DOUBLE)) AS wait_ns,
       durable_ns IS NOT NULL AS flushed, file, write_line
FROM blk_time_to_durable;

-- blk_durable_window(window_ns): per device, how many writes became durable within the window.
-- A table macro: SELECT * FROM blk_durable_window(100000000) for a 100 ms window.
--   window_ns      BIGINT  the window asked for, ns
--   writes         BIGINT  completed writes
--   within         BIGINT  durable no later than window_ns after completing
--   late           BIGINT  durable, but later than that
--   never_flushed  BIGINT  no flush came after them at all
--   worst_ns       DOUBLE  longest wait, ns (+Infinity when a write was never flushed)
CREATE OR REPLACE MACRO blk_durable_window(window_ns) AS TABLE
SELECT vm, dev, CAST(window_ns AS BIGINT) AS window_ns, count(*) AS writes,
       count(*) FILTER (WHERE wait_ns <= window_ns) AS within,
       count(*) FILTER (WHERE flushed AND wait_ns > window_ns) AS late,
       count(*) FILTER (WHERE NOT flushed) AS never_flushed,
       max(wait_ns) AS worst_ns
FROM blk_durable_wait
GROUP BY ALL
ORDER BY vm, dev;
