-- Block request latency, device side (virtio-blk, VIRTIO §5.2).
-- Every view is over the `spans` and `devices` tables; times are BIGINT ns on the run clock.

-- blk_requests: one row per completed block request.
--   op           VARCHAR  read, write, flush, discard_or_write_zeroes, get_id, ...
--   op_inferred  BOOLEAN  op read from the chain shape, not from a logged event
--   latency_ns   BIGINT   ns from the device taking the chain (pop) to its used element (fill)
--   backend_ns   BIGINT   ns the host I/O took (submit to backend completion), null if not logged
CREATE OR REPLACE VIEW blk_requests AS
SELECT s.vm, s.dev, s.queue, s.op, s.op_inferred, s.sector, s.nsectors, s.bytes, s.status,
       s.t_pop, s.t_fill, s.latency_ns, s.t_backend - s.t_submit AS backend_ns,
       s.file, s.pop_line, s.fill_line
FROM spans s JOIN devices d ON d.vm = s.vm AND d.dev = s.dev
WHERE d.type = 'blk';

-- blk_latency: per device and op, the latency distribution.
--   n        BIGINT  requests
--   p50_ns .. max_ns  BIGINT  latency quantiles (pop to fill)
--   bytes    BIGINT  data bytes moved
CREATE OR REPLACE VIEW blk_latency AS
SELECT vm, dev, op, bool_or(op_inferred) AS inferred, count(*) AS n,
       CAST(quantile_cont(latency_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(latency_ns, 0.9) AS BIGINT) AS p90_ns,
       CAST(quantile_cont(latency_ns, 0.99) AS BIGINT) AS p99_ns,
       max(latency_ns) AS max_ns,
       sum(bytes) AS bytes
FROM blk_requests
GROUP BY vm, dev, op
ORDER BY vm, dev, op;

-- blk_flushes: each FLUSH request with its latency.
CREATE OR REPLACE VIEW blk_flushes AS
SELECT vm, dev, t_pop, t_fill, latency_ns, op_inferred, file, pop_line
FROM blk_requests WHERE op = 'flush'
ORDER BY vm, dev, t_pop;

-- blk_time_to_durable: per write, how long it waited to become durable. With a writeback cache a
-- completed write is stable once a FLUSH submitted after its completion has completed (VIRTIO
-- §5.2.6.3, case 3); this view assumes the cache is writeback, the conservative case.
--   durable_ns   BIGINT   ns from the write's completion to that flush's completion; null if no flush came
--   flush_line   BIGINT   line of the covering flush's pop
CREATE OR REPLACE VIEW blk_time_to_durable AS
WITH w AS (SELECT * FROM blk_requests WHERE op = 'write'),
     f AS (SELECT vm, dev, t_pop AS f_pop, t_fill AS f_fill, pop_line AS flush_line FROM blk_requests WHERE op = 'flush')
SELECT w.vm, w.dev, w.sector, w.nsectors, w.t_fill AS write_done, f.f_fill AS durable_at,
       f.f_fill - w.t_fill AS durable_ns, f.flush_line, w.file, w.fill_line AS write_line
FROM w ASOF LEFT JOIN f ON w.vm = f.vm AND w.dev = f.dev AND f.f_pop >= w.t_fill
ORDER BY w.vm, w.dev, w.t_fill;

-- blk_durability: per device, the time-to-durable distribution and the writes no flush covered.
CREATE OR REPLACE VIEW blk_durability AS
SELECT vm, dev, count(*) AS writes,
       count(durable_ns) AS covered,
       count(*) - count(durable_ns) AS never_flushed,
       CAST(quantile_cont(durable_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(durable_ns, 0.99) AS BIGINT) AS p99_ns,
       max(durable_ns) AS max_ns
FROM blk_time_to_durable
GROUP BY vm, dev
ORDER BY vm, dev;
