-- Latency from the host kernel's side (KVM tracepoints), per VM and device, for any KVM-based VMM.
-- Over kvm_samples (src/analyses/kvm/tables.ts); times are BIGINT ns.

-- kvm_latency: per VM, device, kind and register / queue / vector.
--   kind    VARCHAR  access (trapped access served by the VMM: exit → resume), doorbell (notify → interrupt), inject (raise → LAPIC accept)
--   what    VARCHAR  register name (access), queue index (doorbell), vector (inject)
--   n       BIGINT   samples
--   p50_ns .. max_ns  BIGINT  ns
CREATE OR REPLACE VIEW kvm_latency AS
SELECT vm, dev, kind, what, count(*) AS n,
       CAST(quantile_cont(dur_ns, 0.5) AS BIGINT) AS p50_ns,
       CAST(quantile_cont(dur_ns, 0.9) AS BIGINT) AS p90_ns,
       CAST(quantile_cont(dur_ns, 0.99) AS BIGINT) AS p99_ns,
       max(dur_ns) AS max_ns
FROM kvm_samples
GROUP BY vm, dev, kind, what
ORDER BY vm, dev, kind, what;
