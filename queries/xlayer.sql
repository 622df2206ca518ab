-- Cross-layer block latency: each guest block request through the guest block layer, the virtio
-- driver, QEMU's virtqueue and backend, and back (the guest's ftrace aligned with QEMU's log).
-- Every view is over xlayer_requests, xlayer_layers (src/analyses/xlayer/tables.ts) and
-- clock_alignment (src/analyses/alignment.ts); times are BIGINT ns on the run clock. The layers of
-- a request add up to its total_ns (src/analyses/xlayer/layers.ts says which step ends which layer).

-- xlayer_complete: the requests the guest completed, with the steps both traces show.
--   op          VARCHAR  read, write, flush, discard, secure_erase, other (from the guest's rwbs)
--   total_ns    BIGINT   ns from block_rq_insert (else block_rq_issue) to block_rq_complete
--   host_ns     BIGINT   ns from virtqueue_pop to the used element published, null when QEMU's side is not known
--   both_sides  BOOLEAN  QEMU's part of the request is known (the clocks are aligned and it was paired)
CREATE OR REPLACE VIEW xlayer_complete AS
SELECT req_id, vm, guest_dev, host_dev, disk, op, rwbs, sector, nsectors, total_ns,
       coalesce(t_used, t_complete) - t_pop AS host_ns, t_pop IS NOT NULL AS both_sides,
       guest_file, issue_line, done_line, host_file, pop_line
FROM xlayer_requests WHERE outcome = 'complete';

-- xlayer_latency: per VM and op, the whole request's latency.
--   n                 BIGINT  requests completed
--   both_sides        BIGINT  of which QEMU's part is known
--   p50_ns .. max_ns  BIGINT  ns, quantiles of total_ns
CREATE OR REPLACE VIEW xlayer_latency AS
SELECT vm, op, count(*) AS n, count(*) FILTER (WHERE both_sides) AS both_sides,
       CAST(quantile_cont(total_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(total_ns, 0.99) AS BIGINT) AS p99_ns,
       max(total_ns) AS max_ns
FROM xlayer_complete
GROUP BY vm, op
ORDER BY vm, op;

-- xlayer_layer_latency: per VM, op and layer, where the time goes.
--   ord               BIGINT   position of the layer along the request
--   n                 BIGINT   requests that show the layer's end step
--   p50_ns .. max_ns  BIGINT   ns, quantiles of the layer's span
--   share             DOUBLE   fraction of all the op's request time spent in this layer (the shares of an op add up to 1)
CREATE OR REPLACE VIEW xlayer_layer_latency AS
WITH totals AS (SELECT vm, op, sum(total_ns) AS total FROM xlayer_complete GROUP BY vm, op)
SELECT l.vm, l.op, l.layer, min(l.ord) AS ord, count(*) AS n,
       CAST(quantile_cont(l.ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(l.ns, 0.99) AS BIGINT) AS p99_ns,
       max(l.ns) AS max_ns,
       sum(l.ns) / nullif(any_value(t.total), 0) AS share
FROM xlayer_layers l JOIN totals t ON t.vm = l.vm AND t.op = l.op
GROUP BY l.vm, l.op, l.layer
ORDER BY l.vm, l.op, ord;

-- xlayer_one_sided: requests one side saw and the other never did (also judged as findings, rule
-- xlayer.blk.request-seen-through); 'in-flight' ones merely met the end of a trace and are not listed.
--   outcome  VARCHAR  never-popped (QEMU never took it), never-used (QEMU took it, never returned it),
--                     never-completed (QEMU returned it, the guest never completed it)
CREATE OR REPLACE VIEW xlayer_one_sided AS
SELECT req_id, vm, guest_dev, host_dev, disk, op, rwbs, sector, nsectors, outcome, token, elem,
       t_issue, t_kick, t_pop, t_used, t_get_buf, guest_file, issue_line, host_file, pop_line
FROM xlayer_requests WHERE outcome NOT IN ('complete', 'in-flight')
ORDER BY vm, t_issue;
