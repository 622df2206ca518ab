#!/usr/bin/env bash
# Real captures for avpscope: QEMU's own trace log (-trace, -msg timestamp=on) of a Linux guest driving virtio
# devices under software emulation (TCG), optionally with the guest kernel's ftrace of the same run.
# Run as root on Debian 12; installs what it needs with apt-get. See docs/capture.md.
set -euo pipefail
CAPTURE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/capture" && pwd)

usage() {
  cat <<'EOF'
Usage: scripts/capture.sh [--help] OUTDIR VARIANT...

QEMU 7.2 (Debian 12), Debian 6.1 kernel + busybox initramfs, TCG:
  microvm-legacy     x86 microvm, virtio-mmio version 1 (QEMU's default force-legacy=on); blk, net, rng, serial
  microvm-modern     x86 microvm, virtio-mmio version 2 (-global virtio-mmio.force-legacy=false)
  q35-pci            x86 q35, virtio-pci; blk, net, rng, serial
  q35-gpu            q35-pci + virtio-gpu-pci (generic kernel: virtio-gpu, DRM); writes /dev/fb0 and tty1
  arm64-virt         arm64 virt, cortex-a57, virtio-mmio v2 from the device tree; also OUTDIR/arm64-virt.dtb.gz
  gpu-multi          3 q35 VMs (cluster, ivi, rear), virtio-gpu-pci only, started together, framebuffer writes at
                     3:2:1 rates; OUTDIR/NAME.trace.gz per VM + OUTDIR/gpu-multi.info.txt
  q35-gpu-noedid     q35-gpu with virtio-gpu-pci,edid=off (the device offers no VIRTIO_GPU_F_EDID)
  microvm-gpu, microvm-gpu-noedid  the q35-gpu workload on microvm (virtio-mmio v2: feature words logged) with
                     virtio-gpu-device, EDID on (QEMU's default) or off
Device variants (QEMU 7.2, microvm, virtio-mmio v2, one device set and workload each; guest evidence below):
  microvm-discard    blk (discard=unmap): blkdiscard, BLKZEROOUT (WRITE_ZEROES), fstrim on an ext2 filesystem
  microvm-mq         2 vCPUs, blk with num-queues=2 throttled to 200 IOPS: four dd per CPU write, then read;
                     one per CPU writes buffered + fsync
  microvm-scsi       a scsi-hd disk on virtio-scsi-device: writes, fsync, reads, a discard
  microvm-balloon-input  virtio-balloon, virtio-keyboard, virtio-tablet; the host inflates and deflates the
                     balloon and sends keys and a click through QEMU's monitor (V.info.txt: when)
  microvm-netctrl    net alone: MAC change, DHCP, promisc and allmulticast (control queue)
  microvm-killed     blk with writes throttled to 2 MiB/s; QEMU is killed (SIGKILL) 2 s into a write loop
  VARIANT+ftrace     (all but arm64-virt, microvm-killed and the sound variants) also the guest's ftrace of the
                     same run: OUTDIR/V.guest-ftrace.txt.gz, V.guest.*.txt, V.align.txt
QEMU 10.0 (Debian 13 chroot, debootstrapped once into $VSND_ROOT; slow the first time), virtio-sound-pci:
  wav-playback       -audiodev wav (playback only)
  none-duplex        -audiodev none, playback + capture
  chmaps-probe-fail  ...,chmaps=2: the guest driver's probe fails (-EOPNOTSUPP)
QEMU 7.2 under -accel kvm (needs /dev/kvm): QEMU's log AND the host kernel's KVM tracepoints of one run
(OUTDIR/qemu-V.kvm.trace.gz + qemu-V.qemu.trace.gz; scripts/capture/kvm.sh, its own environment there):
  kvm-microvm-mmio   x86 microvm, virtio-mmio v2;  kvm-q35-pci   x86 q35, virtio-pci
Groups: x86 = microvm-legacy microvm-modern q35-pci; all-7.2 = x86 + q35-gpu + arm64-virt; sound = the three above;
  scenarios = traces/qemu-7.2-scenarios: microvm-discard+ftrace microvm-mq+ftrace microvm-scsi+ftrace
  microvm-balloon-input microvm-netctrl+ftrace microvm-killed q35-gpu-noedid microvm-gpu microvm-gpu-noedid.

Every variant writes OUTDIR/V.trace.gz, V.console.txt, V.info.txt; q35-gpu-noedid, microvm-gpu* and the device
variants also the guest's own view, dumped through a second UART: V.guest.{interrupts,dmesg,lsmod,virtio_devices}.txt.
Environment:
  CAPTURE_CACHE     downloaded kernels/busybox, kept between runs (default /var/tmp/avpscope-capture-cache)
  CAPTURE_ATTEMPTS  runs per variant before giving up (default 3; a retry is a safety net only)
  CAPTURE_EVIDENCE  1: every single-VM variant also dumps the guest evidence (V.guest.*.txt)
  BOOT_TIMEOUT      s without any guest output line before a boot counts as hung (default 25; gpu-multi: 90)
  QEMU_TIMEOUT      s before any run is killed (default 180)
  CAPTURE_TSC_KHZ   guest TSC rate for microvm's tsc_early_khz= (default: the host's, from its kernel log)
  CAPTURE_TSC_FIX   0: leave tsc_early_khz= out (reproduces the early-boot hang, ~25% of microvm boots)
  TRACE_CLOCK       guest ftrace clock (default tai)
  GPU_MULTI         gpu-multi VMs as NAME:PERIOD_MS:COUNT... (default "cluster:100:60 ivi:150:40 rear:300:20")
  GPU_MULTI_KB      KiB per framebuffer write (default 64);  GPU_MULTI_TEXT: tty1 text every N writes (10)
  VSND_ROOT, MIRROR Debian 13 root for the sound variants (default /var/tmp/trixie-root), its mirror
  KEEP_WORK=1       keep the temporary work directory
EOF
}

case ${1:-} in -h|--help|help) usage; exit 0 ;; "") usage >&2; exit 2 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
OUT=$(realpath -m "$1"); shift

# expand groups, split "+ftrace", check names before doing anything slow
VARIANTS=(); FTRACE=()
for a in "$@"; do
  case $a in
    x86) set -- microvm-legacy microvm-modern q35-pci ;;
    all-7.2) set -- microvm-legacy microvm-modern q35-pci q35-gpu arm64-virt ;;
    sound) set -- wav-playback none-duplex chmaps-probe-fail ;;
    scenarios) set -- microvm-discard+ftrace microvm-mq+ftrace microvm-scsi+ftrace microvm-balloon-input \
                 microvm-netctrl+ftrace microvm-killed q35-gpu-noedid microvm-gpu microvm-gpu-noedid ;;
    *) set -- "$a" ;;
  esac
  for v in "$@"; do
    ft=0; base=$v
    case $v in *+ftrace) ft=1; base=${v%+ftrace} ;; esac
    case $base in
      microvm-legacy|microvm-modern|q35-pci|q35-gpu|gpu-multi|q35-gpu-noedid|microvm-gpu|microvm-gpu-noedid) ;;
      microvm-discard|microvm-mq|microvm-scsi|microvm-balloon-input|microvm-netctrl) ;;
      arm64-virt|microvm-killed|wav-playback|none-duplex|chmaps-probe-fail|kvm-microvm-mmio|kvm-q35-pci) [ $ft = 0 ] || { echo "capture: $base has no +ftrace form" >&2; exit 2; } ;;
      *) echo "capture: unknown variant '$v' (see --help)" >&2; exit 2 ;;
    esac
    for w in "${VARIANTS[@]}"; do [ "$w" != "$base" ] || { echo "capture: $base given twice: its files would collide" >&2; exit 2; }; done
    VARIANTS+=("$base"); FTRACE+=("$ft")
  done
done

[ "$(id -u)" = 0 ] || { echo "capture: run as root (apt-get, chroot for the sound variants)" >&2; exit 1; }
# shellcheck source=capture/lib.sh
. "$CAPTURE_LIB/lib.sh"
# shellcheck source=capture/initrd.sh
. "$CAPTURE_LIB/initrd.sh"
# shellcheck source=capture/qemu.sh
. "$CAPTURE_LIB/qemu.sh"
# shellcheck source=capture/single.sh
. "$CAPTURE_LIB/single.sh"
# shellcheck source=capture/gpu-multi.sh
. "$CAPTURE_LIB/gpu-multi.sh"
# shellcheck source=capture/sound.sh
. "$CAPTURE_LIB/sound.sh"

mkdir -p "$OUT" "$CACHE" || die "cannot create $OUT or $CACHE"
WORK=$(mktemp -d /var/tmp/capture-work.XXXXXX)
CLEANUPS=()
on_exit() {
  local c; for c in "${CLEANUPS[@]}"; do $c 2>/dev/null || true; done
  # QEMUs still running (interrupted run): ours only, by pid
  jobs -p | xargs -r kill 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

for v in "${VARIANTS[@]}"; do case $v in microvm-*) host_tsc_khz; log "host TSC ${TSC_KHZ} kHz ($TSC_KHZ_SRC)"; break ;; esac; done

for i in "${!VARIANTS[@]}"; do
  v=${VARIANTS[i]}; ft=${FTRACE[i]}; s=$(date +%s.%N)
  case $v in
    gpu-multi) capture_gpu_multi "$ft" ;;
    wav-playback|none-duplex|chmaps-probe-fail) capture_sound "$v" ;;
    kvm-*) bash "$CAPTURE_LIB/kvm.sh" "$OUT" "${v#kvm-}" ;;
    *) capture_single "$v" "$ft" ;;
  esac
  log "$v: done in $(since "$s") s"
done
log "all done: $OUT"
