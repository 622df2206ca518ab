-- virtio-gpu command latency (VIRTIO 1.3 §5.7), from the guest's side and from QEMU's.
-- Every view is over gpu_commands (src/analyses/gpu/tables.ts); times are BIGINT ns on the run clock.

-- gpu_latency: per VM and command type, how many each side saw and how long they took.
--   type_name             VARCHAR  VIRTIO_GPU_CMD_* name (GET_DISPLAY_INFO, TRANSFER_TO_HOST_2D, ...)
--   n                     BIGINT   commands seen by either side
--   paired                BIGINT   of which both traces show (the clocks aligned, the chain paired)
--   guest_only            BIGINT   the host trace does not show (QEMU's part is outside its trace)
--   host_only             BIGINT   the guest trace does not show (before or after it)
--   guest_p50_ns .. guest_max_ns  BIGINT  ns, guest: virtio_gpu_cmd_queue → virtio_gpu_cmd_response
--   host_p50_ns .. host_max_ns    BIGINT  ns, QEMU: virtqueue_pop → virtqueue_fill of the response
CREATE OR REPLACE VIEW gpu_latency AS
SELECT vm, queue, type, type_name, count(*) AS n,
       count(*) FILTER (WHERE seen = 'both') AS paired,
       count(*) FILTER (WHERE seen = 'guest') AS guest_only,
       count(*) FILTER (WHERE seen = 'host') AS host_only,
       CAST(quantile_cont(guest_ns, 0.5) AS BIGINT) AS guest_p50_ns,
       CAST(quantile_cont(guest_ns, 0.99) AS BIGINT) AS guest_p99_ns,
       max(guest_ns) AS guest_max_ns,
       CAST(quantile_cont(host_ns, 0.5) AS BIGINT) AS host_p50_ns,
       CAST(quantile_cont(host_ns, 0.99) AS BIGINT) AS host_p99_ns,
       max(host_ns) AS host_max_ns
FROM gpu_commands
GROUP BY vm, queue, type, type_name
ORDER BY vm, queue, type;

-- gpu_responses: per VM, command type and the response the guest received.
--   resp_name  VARCHAR  VIRTIO_GPU_RESP_* name (RESP_OK_NODATA, RESP_ERR_*, ...); null: no response in the guest trace
--   n          BIGINT   commands
CREATE OR REPLACE VIEW gpu_responses AS
SELECT vm, type_name, resp_name, count(*) AS n
FROM gpu_commands WHERE seen <> 'host'
GROUP BY vm, type_name, resp_name
ORDER BY vm, type_name, resp_name;

-- gpu_type_mismatch: commands the two sides name differently (the pairing of the queue went wrong,
-- or a trace lost a line): their latencies are not to be trusted.
CREATE OR REPLACE VIEW gpu_type_mismatch AS
SELECT cmd_id, vm, guest_dev, host_dev, type_name, t_queue, t_pop, guest_file, queue_line, host_file, process_line
FROM gpu_commands WHERE type_match = false
ORDER BY vm, t_queue;
