# shellcheck shell=bash
# Variant table, QEMU command lines and the boot watchdog (retry). Sourced by scripts/capture.sh.

# variant_def NAME -> sets MACHINE QEMU ARCH KFLAVOUR SFX TRANSPORT GPU MEM CONSOLE_DEV EXTRA[] ; 1 if unknown
variant_def() {
  ARCH=amd64; QEMU=qemu-system-x86_64; KFLAVOUR=cloud; GPU=0; MEM=512; CONSOLE_DEV=ttyS0; EXTRA=()
  case $1 in
    microvm-legacy) MACHINE=microvm; SFX=device; TRANSPORT=mmio ;;
    microvm-modern) MACHINE=microvm; SFX=device; TRANSPORT=mmio; EXTRA=(-global virtio-mmio.force-legacy=false) ;;
    q35-pci)        MACHINE=q35;     SFX=pci;    TRANSPORT=pci ;;
    q35-gpu)        MACHINE=q35;     SFX=pci;    TRANSPORT=pci; KFLAVOUR=generic; GPU=1; MEM=1024; EXTRA=(-vga none -device virtio-gpu-pci) ;;
    arm64-virt)     MACHINE=virt;    SFX=device; TRANSPORT=mmio; ARCH=arm64; QEMU=qemu-system-aarch64; CONSOLE_DEV=ttyAMA0
                    EXTRA=(-cpu cortex-a57 -global virtio-mmio.force-legacy=false) ;;
    *) return 1 ;;
  esac
}

# Kernel command line. On microvm the guest gets tsc_early_khz= (the host TSC rate): it stops the early-boot hang
# (docs/capture.md). CAPTURE_TSC_FIX=0 leaves it out (to reproduce the hang).
kernel_append() { # VARIANT FTRACE(0/1) [extra cap.* words]
  local v=$1 ft=$2; shift 2
  local a="console=$CONSOLE_DEV panic=-1 loglevel=4"
  if [ "$MACHINE" = microvm ] && [ "${CAPTURE_TSC_FIX:-1}" = 1 ]; then a+=" tsc_early_khz=$TSC_KHZ"; fi
  a+=" cap.variant=$v cap.transport=$TRANSPORT cap.ftrace=$ft cap.tclock=${TRACE_CLOCK:-tai}"
  [ $# -gt 0 ] && a+=" $*"
  echo "$a"
}

# qemu_args_devices DIR : blk/net/rng/serial devices of the "basic" workload (DIR holds disk.img, vport.out)
qemu_args_devices() {
  local d=$1
  truncate -s 0 "$d/disk.img"; truncate -s 16M "$d/disk.img"
  DEVARGS=(-drive id=d0,file="$d/disk.img",format=raw,if=none,cache=writeback -device virtio-blk-$SFX,drive=d0
    -netdev user,id=n0,restrict=on -device virtio-net-$SFX,netdev=n0,host_mtu=1500
    -object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-$SFX,rng=r0
    -device virtio-serial-$SFX -chardev file,id=c0,path="$d/vport.out" -device virtserialport,chardev=c0,name=p0)
}

# ftrace_args DIR : the second UART the guest dumps its ftrace buffer through
ftrace_args() { FTARGS=(-serial mon:stdio -chardev file,id=dump,path="$1/ttyS1.out" -device isa-serial,chardev=dump,index=1); }

# ---- boot watchdog -----------------------------------------------------------------------------------------
# A run counts as good when the guest printed "== done" (and, for ftrace runs, the caller checks the dump).
# A guest that has printed no "== " line BOOT_TIMEOUT s after start is taken as hung at boot and killed;
# any run is killed after QEMU_TIMEOUT s.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-25}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-180}
ATTEMPTS=${CAPTURE_ATTEMPTS:-3}

# vm_start CONSOLE QEMU-ARGV... : starts QEMU in the background; sets VM_PID
vm_start() {
  local con=$1; shift
  : > "$con"
  "$@" < /dev/null > "$con" 2>&1 &
  VM_PID=$!
}

# vm_watch PID:CONSOLE... : waits for all; sets VM_ST to one status word per VM (done|hung|failed|timeout), in order.
# (Not to be run in $(...): QEMU is a child of this shell, a subshell could not reap it.)
vm_watch() {
  local specs=("$@") n=$# i t0 now pid con st=() left
  t0=$(date +%s)
  for ((i = 0; i < n; i++)); do st[i]=run; done
  while :; do
    left=0; now=$(date +%s)
    for ((i = 0; i < n; i++)); do
      [ "${st[i]}" = run ] || continue
      pid=${specs[i]%%:*}; con=${specs[i]#*:}
      if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        if grep -aq '^== done' "$con"; then st[i]=done; else st[i]=failed; fi
      elif [ $((now - t0)) -ge "$BOOT_TIMEOUT" ] && ! grep -aq '^== ' "$con"; then
        kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; st[i]=hung
      elif [ $((now - t0)) -ge "$QEMU_TIMEOUT" ]; then
        kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; st[i]=timeout
      else left=1; fi
    done
    [ $left = 0 ] && break
    sleep 0.2
  done
  VM_ST=("${st[@]}")
}

# ftrace_split DUMPFILE OUTSTEM : splits the framed ttyS1 dump into OUTSTEM.guest.NAME; 0 if all frames verified
ftrace_split() {
  local dump=$1 stem=$2 ok=1 name bytes sum f
  [ -s "$dump" ] || return 1
  tr -d '\r' < "$dump" | awk -v pfx="$stem.guest." '
    /^@@@BEGIN /{f=pfx $2; printf "" > f; next} /^@@@END /{close(f); print $2, $3, $4; f=""; next} f{print > f}' > "$stem.frames"
  [ -s "$stem.frames" ] || ok=0
  while read -r name bytes sum; do
    f="$stem.guest.$name"
    { [ "$(wc -c < "$f")" = "$bytes" ] && [ "$(md5sum < "$f" | cut -d' ' -f1)" = "$sum" ]; } || { ok=0; log "$(basename "$stem"): guest $name corrupt"; }
  done < "$stem.frames"
  grep -q '^trace.txt ' "$stem.frames" || ok=0
  rm -f "$stem.frames"
  [ $ok = 1 ]
}

# ftrace_finish OUTSTEM QEMUTRACE : names and compresses the guest files, aligns the two clocks (python3, if present)
ftrace_finish() {
  local stem=$1 qt=$2
  mv "$stem.guest.trace.txt" "$stem.guest-ftrace.txt"
  rm -f "$stem.guest.available_events.txt"        # large and the same for every run of a kernel
  if command -v python3 >/dev/null; then python3 "$CAPTURE_LIB/align.py" "$stem.guest-ftrace.txt" "$qt" > "$stem.align.txt" 2>&1 || true; fi
  gz "$stem.guest-ftrace.txt"
}
