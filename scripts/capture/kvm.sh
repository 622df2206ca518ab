#!/usr/bin/env bash
# KVM mode of scripts/capture.sh (docs/capture.md): ONE QEMU run under -accel kvm recorded two ways at once, the host
# kernel's KVM tracepoints (tracefs: OUTDIR/qemu-V.kvm.trace.gz) and QEMU's own log (OUTDIR/qemu-V.qemu.trace.gz), plus
# V.console.txt, V.info.txt, V.kvm.stats.txt. Debian 12 packages only; run as root on a host with /dev/kvm.
# Usage: scripts/capture/kvm.sh OUTDIR VARIANT   (or: scripts/capture.sh OUTDIR kvm-VARIANT)
#   microvm-mmio   x86 microvm, virtio-mmio version 2 (-global virtio-mmio.force-legacy=false)
#   q35-pci        x86 q35, virtio-pci (QEMU 7.2 defaults: transitional, MSI-X)
# Env: KERNEL=tiny (default) | debian
#   tiny   : Linux 6.1 from Debian's linux-source-6.1, tinyconfig + virtio built in (config below), booted as an ELF
#            vmlinux through its PVH entry. Built once into $CACHE (minutes on 2 CPUs).
#   debian : Debian 12's cloud kernel (vmlinux extracted from the bzImage, modules in the initramfs), for hosts where KVM
#            runs guests natively (VMX/SVM); kvm-guest-init.sh's busybox workload then runs, with port-0xe9 step markers.
# Why the tiny kernel: where /dev/kvm is PVM (kvm_pvm, nested), KVM's x86 instruction emulator runs the guest; Debian's
# kernel boots far too slowly there and the emulator lacks CMPXCHG16B and XSAVE/XRSTOR (hence -cpu qemu64,-cx16,-xsave
# and "noxsave"; CAPTURE_CPU overrides the -cpu value).
# Env: CACHE (default /var/tmp/kvm-capture-cache), QEMU_TIMEOUT (default 900 s), TRACE_CLOCK (default tai: the same
#      time base as QEMU's -msg timestamp=on when the TAI offset is 0), TRACE_BUF_KB (per-CPU buffer, default 262144),
#      KVM_FILTER=1 (default: keep device traffic only: no kvm_eoi, kvm_mmio below the IOAPIC/LAPIC at 0xfec00000,
#      no LAPIC timer vector 236 acceptances; 0 records everything)
set -euo pipefail
out=$(realpath -m "${1:?usage: kvm.sh OUTDIR VARIANT}")
v=qemu-${2:?usage: kvm.sh OUTDIR VARIANT}
KERNEL=${KERNEL:-tiny}; CACHE=${CACHE:-/var/tmp/kvm-capture-cache}; QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
TRACE_CLOCK=${TRACE_CLOCK:-tai}; TRACE_BUF_KB=${TRACE_BUF_KB:-262144}; TRACING=${TRACING:-1}; KVM_FILTER=${KVM_FILTER:-1}
here=$(dirname "$(realpath "$0")")
mkdir -p "$out" "$CACHE"
say() { echo "[capture kvm] $*" >&2; }

case $v in
  qemu-microvm-mmio) MACHINE=microvm; SFX=device; EXTRA=(-global virtio-mmio.force-legacy=false) ;;
  qemu-q35-pci)      MACHINE=q35;     SFX=pci;    EXTRA=() ;;
  *) echo "unknown variant $v" >&2; exit 2 ;;
esac
[ -c /dev/kvm ] || { echo "no /dev/kvm" >&2; exit 1; }

need=(); for p in qemu-system-x86_64:qemu-system-x86 /bin/busybox:busybox-static cpio:cpio gcc:gcc make:make flex:flex \
  bison:bison bc:bc xz:xz-utils lz4:lz4; do w=${p%%:*}
  if [ "${w#/}" != "$w" ]; then [ -e "$w" ] || need+=("${p#*:}"); else command -v "$w" >/dev/null || need+=("${p#*:}"); fi; done
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
if [ ${#need[@]} -gt 0 ]; then say "apt-get install ${need[*]}"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; fi

# ---- guest kernel ----------------------------------------------------------------------------------------------
MODS=()
if [ "$KERNEL" = tiny ]; then
  K=$CACHE/tiny-6.1
  if [ ! -f "$K/vmlinux" ]; then
    say "building the tiny guest kernel from linux-source-6.1 into $K (one time)"
    rm -rf "$K"; mkdir -p "$K/dl"; chmod 777 "$K/dl"
    (cd "$K/dl" && apt-get download -qq linux-source-6.1) && dpkg -x "$K"/dl/*.deb "$K/x"
    (cd "$K/dl" && ls ./*.deb | sed 's|^\./||') > "$K/VERSION"
    tar -C "$K" -xf "$K"/x/usr/src/linux-source-6.1.tar.xz; rm -rf "$K/dl" "$K/x"
    cat > "$K/tiny.cfg" <<'CFG'
CONFIG_64BIT=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_EARLY_PRINTK=y
CONFIG_BUG=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_DEVTMPFS=y
CONFIG_TMPFS=y
CONFIG_SHMEM=y
CONFIG_MULTIUSER=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_POSIX_TIMERS=y
CONFIG_FILE_LOCKING=y
CONFIG_HYPERVISOR_GUEST=y
CONFIG_PARAVIRT=y
CONFIG_KVM_GUEST=y
CONFIG_PVH=y
CONFIG_X86_LOCAL_APIC=y
CONFIG_X86_IO_APIC=y
CONFIG_X86_MPPARSE=y
CONFIG_X86_IOPL_IOPERM=y
CONFIG_ACPI=y
CONFIG_PCI=y
CONFIG_PCI_MSI=y
CONFIG_BLOCK=y
CONFIG_BLK_DEV=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_PCI_LEGACY=y
CONFIG_VIRTIO_BLK=y
CONFIG_NET=y
CONFIG_INET=y
CONFIG_PACKET=y
CONFIG_UNIX=y
CONFIG_NETDEVICES=y
CONFIG_NET_CORE=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_CONSOLE=y
CONFIG_HW_RANDOM=y
CONFIG_HW_RANDOM_VIRTIO=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_NO_HZ_IDLE=y
CONFIG_UNWINDER_GUESS=y
CONFIG_CC_OPTIMIZE_FOR_SIZE=y
CONFIG_MODULES=n
CONFIG_RETPOLINE=n
CONFIG_SMP=n
CONFIG_CPU_MITIGATIONS=n
CONFIG_PTP_1588_CLOCK_KVM=n
CONFIG_PTP_1588_CLOCK=n
CONFIG_IP_PNP=y
CONFIG_IP_PNP_DHCP=y
CFG
    # Two changes for KVM's x86 emulator (PVM runs this guest instruction by instruction, see above):
    # - skip int3_selftest(): the emulator cannot execute INT3 in long mode ("KVM internal error. Suberror: 1")
    # - no ptp_kvm (above): its KVM_HC_CLOCK_PAIRING VMCALL is re-executed forever, boot never ends
    sed -i 's|^\tint3_selftest();|\t/* int3_selftest(); skipped: KVM x86 emulator cannot execute INT3 in long mode */|' \
      "$K/linux-source-6.1/arch/x86/kernel/alternative.c"
    (cd "$K/linux-source-6.1" && make -s tinyconfig >/dev/null && ./scripts/kconfig/merge_config.sh -m .config ../tiny.cfg >/dev/null \
      && make -s olddefconfig >/dev/null && make -s -j"$(nproc)" vmlinux >/dev/null 2>"$K/build.err") || { tail "$K/build.err"; exit 1; }
    cp "$K/linux-source-6.1/vmlinux" "$K/vmlinux"; cp "$K/linux-source-6.1/.config" "$K/config"
    cp "$K/linux-source-6.1/System.map" "$K/System.map"
  fi
  VMLINUX=$K/vmlinux; KDESC="tiny Linux $(strings "$VMLINUX" | grep -m1 '^Linux version' | cut -d' ' -f3) built from $(cat "$K/VERSION" 2>/dev/null || echo linux-source-6.1) (config: $K/config)"
else
  kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); kver=${kpkg#linux-image-}
  K=$CACHE/$kpkg
  if [ ! -f "$K/vmlinux" ]; then
    rm -rf "$K"; mkdir -p "$K/dl"; chmod 777 "$K/dl"; (cd "$K/dl" && apt-get download -qq "$kpkg") && dpkg -x "$K"/dl/*.deb "$K/x"
    python3 - "$K/x/boot/vmlinuz-$kver" "$K/vmlinux.lz4" <<'PY'
import sys; d = open(sys.argv[1], 'rb').read(); i = d.find(b'\x02\x21\x4c\x18'); assert i > 0, "not an LZ4 bzImage"
open(sys.argv[2], 'wb').write(d[i:])
PY
    lz4 -dc "$K/vmlinux.lz4" > "$K/vmlinux" 2>/dev/null || true; rm -f "$K/vmlinux.lz4"
  fi
  VMLINUX=$K/vmlinux; KDESC="$kpkg (vmlinux extracted from the bzImage)"
  for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio drivers/virtio/virtio_pci_legacy_dev \
           drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk net/core/failover \
           drivers/net/net_failover drivers/net/virtio_net drivers/char/virtio_console drivers/char/hw_random/virtio-rng; do
    MODS+=("$K/x/lib/modules/$kver/kernel/$m.ko"); done
fi

# ---- initramfs: busybox, the port-0xe9 marker tool, the init ---------------------------------------------------
work=$(mktemp -d /tmp/capture-kvm.XXXXXX)
TFS=; TFS_MOUNTED=0; QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
  if [ -n "$TFS" ]; then echo 0 > "$TFS/tracing_on"; echo > "$TFS/set_event"
    for f in "$TFS"/events/kvm/kvm_mmio/filter "$TFS"/events/kvm/kvm_apic_accept_irq/filter; do echo 0 > "$f" 2>/dev/null || true; done; echo local > "$TFS/trace_clock"; echo > "$TFS/trace"
    echo 1408 > "$TFS/buffer_size_kb"; echo 1 > "$TFS/tracing_on"; fi
  [ $TFS_MOUNTED = 1 ] && umount "$TFS" && rmdir "$TFS"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/rd/bin" "$work/rd/mods" "$work/rd/proc" "$work/rd/sys" "$work/rd/dev" "$work/rd/tmp"
cp /bin/busybox "$work/rd/bin/busybox"; cp "$here/kvm-guest-init.sh" "$work/rd/init"; chmod +x "$work/rd/init"
[ ${#MODS[@]} -gt 0 ] && cp "${MODS[@]}" "$work/rd/mods/"
cat > "$work/pio.c" <<'C'
/* pio PORT VALUE : one 1-byte OUT to PORT (guest-side step marker, seen by the host as kvm_pio) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: pio PORT VALUE\n"); return 2; }
  unsigned port = strtoul(argv[1], 0, 0), val = strtoul(argv[2], 0, 0);
  if (ioperm(port, 1, 1)) { perror("ioperm"); return 1; }
  outb(val, port);
  return 0;
}
C
gcc -O2 -static -s -o "$work/rd/bin/pio" "$work/pio.c"
# uncompressed cpio: under instruction emulation, inflating a gzip initramfs costs minutes of guest time
(cd "$work/rd" && find . | cpio -o -H newc 2>/dev/null > "$work/initrd.cpio")
truncate -s 16M "$work/disk.img"
printf '%s\n' 'virtio_*' 'virtqueue_*' 'virtio_mmio_*' 'virtio_blk_*' 'virtio_net_*' 'virtio_rng_*' 'virtio_serial_*' \
  'virtio_console_*' 'virtio_pci_*' 'msix_*' 'kvm_run_exit' 'kvm_vm_ioctl' 'kvm_set_ioeventfd_*' 'kvm_set_user_memory' 'kvm_irqchip_*' > "$work/events"

# ---- host tracing (tracefs) ------------------------------------------------------------------------------------
KVM_EVENTS=(kvm_mmio kvm_fast_mmio kvm_pio kvm_exit kvm_entry kvm_userspace_exit kvm_set_irq kvm_msi_set_irq kvm_ioapic_set_irq
  kvm_apic_accept_irq kvm_inj_virq kvm_eoi)
if [ "$TRACING" = 1 ]; then
  if [ -f /sys/kernel/tracing/trace ]; then TFS=/sys/kernel/tracing
  else TFS=$(mktemp -d /tmp/tracefs.XXXXXX); mount -t tracefs nodev "$TFS"; TFS_MOUNTED=1; fi
  echo 0 > "$TFS/tracing_on"; echo > "$TFS/set_event"
  echo "$TRACE_CLOCK" > "$TFS/trace_clock"; echo "$TRACE_BUF_KB" > "$TFS/buffer_size_kb"
  if [ "$KVM_FILTER" = 1 ]; then
    # device traffic only (what avpscope reads): the in-kernel LAPIC/IOAPIC and the LAPIC timer are noise
    keep=(); for e in "${KVM_EVENTS[@]}"; do [ "$e" = kvm_eoi ] || keep+=("$e"); done; KVM_EVENTS=("${keep[@]}")
    echo 'gpa < 0xfec00000' > "$TFS/events/kvm/kvm_mmio/filter"
    echo 'vec != 236' > "$TFS/events/kvm/kvm_apic_accept_irq/filter"
  fi
  for e in "${KVM_EVENTS[@]}"; do echo 1 > "$TFS/events/kvm/$e/enable"; done
  [ -d "$TFS/events/kvm/kvm_fpu" ] && echo 0 > "$TFS/events/kvm/kvm_fpu/enable"
  echo > "$TFS/trace"
fi

CPU=${CAPTURE_CPU:-qemu64,-cx16,-xsave}
# clearcpuid (numbers: word*32+bit): SMAP 308, FSGSBASE 288, RDRAND 158, RDSEED 306, POPCNT 151, CX16 141, INVPCID 298,
# PCID 145, CLFLUSHOPT 311, CLWB 312, RDTSCP 59 -- instructions KVM's emulator may not implement (CLAC/STAC, WRFSBASE, ...)
# Under PVM's emulation guest USERSPACE cannot run (an emulated SYSCALL reaches entry_SYSCALL_64 still at CPL 3 and init
# segfaults), so the tiny kernel is its own workload: ip=dhcp (kernel DHCP over virtio-net), console=hvc0 (kernel log over
# virtio-console), the hwrng core reading virtio-rng, the partition scan reading virtio-blk. Init then dies: panic, exit.
APPEND="console=ttyS0 console=hvc0 ip=dhcp panic=-1 loglevel=6 noxsave nokaslr clearcpuid=308,288,158,306,151,141,298,145,311,312,59"
QEMU=(qemu-system-x86_64 -accel kvm -M $MACHINE -cpu "$CPU" -m 256 -smp 1 -nographic -no-reboot "${EXTRA[@]}"
  -kernel "$VMLINUX" -initrd "$work/initrd.cpio" -append "$APPEND"
  -drive id=d0,file="$work/disk.img",format=raw,if=none,cache=writeback -device virtio-blk-$SFX,drive=d0
  -netdev user,id=n0,restrict=on -device virtio-net-$SFX,netdev=n0,host_mtu=1500
  -object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-$SFX,rng=r0
  -device virtio-serial-$SFX -chardev file,id=c0,path="$work/vport.out" -device virtserialport,chardev=c0,name=p0
  -msg timestamp=on -trace events="$work/events",file="$out/$v.qemu.trace")
rm -f "$out/$v".*
t0=$(date +%s.%N)
[ -n "$TFS" ] && { echo 1 > "$TFS/tracing_on"; echo "capture kvm start $v realtime=$t0" > "$TFS/trace_marker"; }
say "$v: booting (timeout $QEMU_TIMEOUT s)"
timeout "$QEMU_TIMEOUT" "${QEMU[@]}" < /dev/null > "$out/$v.console.txt" 2>&1 & QPID=$!
wait $QPID && rc=0 || rc=$?; QPID=
t1=$(date +%s.%N)
if [ -n "$TFS" ]; then
  echo "capture kvm stop $v realtime=$t1" > "$TFS/trace_marker"; echo 0 > "$TFS/tracing_on"
  cat "$TFS/trace" > "$out/$v.kvm.trace"
  for c in "$TFS"/per_cpu/cpu*; do echo "== ${c##*/}"; cat "$c/stats"; done > "$out/$v.kvm.stats.txt"
fi
{
  echo "variant: $v   rc: $rc   wall: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
  echo "host: $(uname -r); kvm modules: $(ls /sys/module | grep -E '^kvm' | tr '\n' ' ')"
  [ -d /sys/module/kvm_pvm ] && echo "kvm_pvm parameters: $(for f in /sys/module/kvm_pvm/parameters/*; do printf '%s=%s ' "${f##*/}" "$(cat "$f")"; done)"
  echo "qemu: $(qemu-system-x86_64 --version | head -1)"
  echo "guest kernel: $KDESC"
  echo "busybox: $(/bin/busybox | head -1)"
  echo "trace_clock: ${TFS:+$TRACE_CLOCK}${TFS:-none (TRACING=0)}; host KVM events: ${KVM_EVENTS[*]}; filtered: $KVM_FILTER"
  printf 'qemu command: '; printf '%q ' "${QEMU[@]}"; echo
} > "$out/$v.info.txt"
for f in "$out/$v.kvm.trace" "$out/$v.qemu.trace"; do [ -f "$f" ] && gzip -9 -n -f "$f"; done
cat "$out/$v.info.txt" >&2
say "$v: $(grep -ac '^== ' "$out/$v.console.txt" || true) guest steps; $(grep -a -m1 '^== .*done' "$out/$v.console.txt" >/dev/null && echo completed || echo NOT completed)"
