# shellcheck shell=bash
# Shared helpers for scripts/capture.sh (sourced, not run). Logging, package installs, the kernel cache,
# the QEMU trace event list and the host TSC frequency.

T_START=$(date +%s.%N)
log()  { printf '[capture %6.1fs] %s\n' "$(awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die()  { printf 'capture: error: %s\n' "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }   # seconds since $1 (date +%s.%N)

# need_pkgs CMD:PKG... : apt-get install the packages whose command (or file, if it starts with /) is missing.
APT_UPDATED=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  if [ $APT_UPDATED = 0 ]; then apt-get update -qq || die "apt-get update failed"; APT_UPDATED=1; fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}
need_pkgs() {
  local p want=() what
  for p in "$@"; do
    what=${p%%:*}
    if [ "${what#/}" != "$what" ]; then [ -e "$what" ] || want+=("${p#*:}")
    else command -v "$what" >/dev/null || want+=("${p#*:}"); fi
  done
  [ ${#want[@]} -eq 0 ] || apt_install "${want[@]}"
}

# The cache of downloaded, unpacked packages (kernels, arm64 busybox). CAPTURE_CACHE, default below.
CACHE=${CAPTURE_CACHE:-/var/tmp/avpscope-capture-cache}

# kernel_pkg META [ARCH] -> the versioned linux-image package the metapackage depends on (e.g. linux-image-6.1.0-56-cloud-amd64)
kernel_pkg() {
  local meta=$1 arch=${2:-} p
  p=$(apt-cache depends "$meta${arch:+:$arch}" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
  if [ -z "$p" ] && [ $APT_UPDATED = 0 ]; then apt-get update -qq; APT_UPDATED=1
    p=$(apt-cache depends "$meta${arch:+:$arch}" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'); fi
  [ -n "$p" ] || die "cannot resolve $meta${arch:+:$arch} (apt-get update? arm64 architecture added?)"
  echo "${p%:"$arch"}"
}

# unpacked PKG [ARCH] -> prints the directory holding `dpkg -x` of the package, downloading it once into $CACHE.
unpacked() {
  local pkg=$1 arch=${2:-} d tmp
  d=$CACHE/pkg/$pkg${arch:+_$arch}
  if [ ! -f "$d/.complete" ]; then
    log "download $pkg${arch:+:$arch} into $CACHE"
    rm -rf "$d"; mkdir -p "$d/deb"; tmp=$(mktemp -d "$CACHE/dl.XXXXXX")
    # apt downloads as _apt: let it write to the temporary directory
    chmod 777 "$tmp"
    (cd "$tmp" && apt-get download -qq "$pkg${arch:+:$arch}" 2>/dev/null) || { rm -rf "$tmp"; die "apt-get download $pkg${arch:+:$arch} failed"; }
    mv "$tmp"/*.deb "$d/deb/" && rmdir "$tmp"
    dpkg -x "$d"/deb/*.deb "$d/x" || die "dpkg -x $pkg failed"
    rm -rf "$d/deb"; touch "$d/.complete"
  fi
  echo "$d/x"
}

# x86 kernels: FLAVOUR cloud (no DRM: microvm, q35-pci) or generic (virtio-gpu + DRM: q35-gpu, gpu-multi).
# Sets KPKG, KVER, KDIR (unpacked package root), VMLINUZ, KMODS (lib/modules/KVER/kernel).
use_kernel() {
  local flavour=$1 arch=${2:-amd64} meta
  case $flavour in cloud) meta=linux-image-cloud-$arch ;; generic) meta=linux-image-$arch ;; *) die "kernel flavour $flavour?" ;; esac
  if [ "$arch" = amd64 ]; then KPKG=$(kernel_pkg "$meta"); KDIR=$(unpacked "$KPKG")
  else KPKG=$(kernel_pkg "$meta" "$arch"); KDIR=$(unpacked "$KPKG" "$arch"); fi
  KVER=${KPKG#linux-image-}; VMLINUZ=$KDIR/boot/vmlinuz-$KVER; KMODS=$KDIR/lib/modules/$KVER/kernel
  [ -f "$VMLINUZ" ] && [ -d "$KMODS" ] || die "kernel $KPKG unpacked without vmlinuz or modules ($KDIR)"
}

# QEMU trace events (globs for -trace events=FILE). One list for every QEMU 7.2 variant (patterns that match nothing
# in a given run cost nothing; virtio_* also takes virtio_scsi_*, virtio_balloon_*, virtio_input_*), plus a variant's
# EVENTS_MORE (qemu.sh); the sound variants (QEMU 10.0) use their own.
write_events() { # FILE [qemu72|sound]
  case ${2:-qemu72} in
    qemu72) printf '%s\n' 'virtio_*' 'virtqueue_*' 'virtio_mmio_*' 'virtio_blk_*' 'virtio_net_*' 'virtio_rng_*' 'virtio_serial_*' \
              'virtio_console_*' 'virtio_pci_*' 'msix_*' 'virtio_gpu_*' "${EVENTS_MORE[@]}" > "$1" ;;
    sound)  printf '%s\n' 'virtio_snd_*' 'virtio_*' 'virtqueue_*' 'audio_*' > "$1" ;;
  esac
}

# Host TSC frequency in kHz. Under TCG the guest's RDTSC returns the host's TSC (QEMU cpu_get_host_ticks), so
# this is exactly the guest TSC frequency; it is passed as tsc_early_khz= to microvm guests (see docs/capture.md:
# without it about 1 boot in 4 hangs because the guest's PIT calibration fails and microvm has no HPET/PM timer).
# Order: env CAPTURE_TSC_KHZ, the host kernel's log (refined, then detected), /proc/cpuinfo "cpu MHz" (a guess).
host_tsc_khz() {
  local k=${CAPTURE_TSC_KHZ:-} src=env
  if [ -z "$k" ]; then
    src=dmesg
    k=$({ dmesg 2>/dev/null || journalctl -k -b -q 2>/dev/null; } | awk '
      /tsc: Refined TSC clocksource calibration: [0-9.]+ MHz/ { for (i=1;i<=NF;i++) if ($(i+1)=="MHz") r=$i }
      /tsc: Detected [0-9.]+ MHz processor/ { for (i=1;i<=NF;i++) if ($(i+1)=="MHz") d=$i }
      END { v = r ? r : d; if (v) printf "%d", v * 1000 + 0.5 }')
  fi
  if [ -z "$k" ]; then
    src="/proc/cpuinfo (cpu MHz: may differ from the TSC rate on hosts with frequency scaling; set CAPTURE_TSC_KHZ)"
    k=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000 + 0.5; exit}' /proc/cpuinfo)
  fi
  [ -n "$k" ] && [ "$k" -gt 100000 ] 2>/dev/null || die "cannot tell the host TSC frequency: set CAPTURE_TSC_KHZ"
  TSC_KHZ=$k; TSC_KHZ_SRC=$src
}

gz() { gzip -9 -n -f "$@"; }   # -n: no name/time in the header, so equal content gives equal bytes
