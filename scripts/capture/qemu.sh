# shellcheck shell=bash
# Variant table, QEMU command lines and the boot watchdog (retry). Sourced by scripts/capture.sh.

# variant_def NAME -> sets MACHINE QEMU ARCH KFLAVOUR SFX TRANSPORT GPU MEM CONSOLE_DEV EXTRA[] and, for the device
# variants, SMP DEVS (device set, qemu_args_devices) WORKLOAD (guest workload) SETS[] (extra initramfs sets) EVIDENCE
# (1: the guest dumps its own view through ttyS1) CUES[] (host actions at console lines, vm_watch) KILLED (1: the
# run is meant to end by SIGKILL) ; 1 if unknown
variant_def() {
  ARCH=amd64; QEMU=qemu-system-x86_64; KFLAVOUR=cloud; GPU=0; MEM=512; CONSOLE_DEV=ttyS0; EXTRA=()
  SMP=1; DEVS=basic; WORKLOAD=basic; SETS=(); EVIDENCE=${CAPTURE_EVIDENCE:-0}; CUES=(); KILLED=0; EVENTS_MORE=()
  local modern=(-global virtio-mmio.force-legacy=false)
  case $1 in
    microvm-legacy) MACHINE=microvm; SFX=device; TRANSPORT=mmio ;;
    microvm-modern) MACHINE=microvm; SFX=device; TRANSPORT=mmio; EXTRA=(-global virtio-mmio.force-legacy=false) ;;
    q35-pci)        MACHINE=q35;     SFX=pci;    TRANSPORT=pci ;;
    q35-gpu)        MACHINE=q35;     SFX=pci;    TRANSPORT=pci; KFLAVOUR=generic; GPU=1; MEM=1024; EXTRA=(-vga none -device virtio-gpu-pci) ;;
    arm64-virt)     MACHINE=virt;    SFX=device; TRANSPORT=mmio; ARCH=arm64; QEMU=qemu-system-aarch64; CONSOLE_DEV=ttyAMA0
                    EXTRA=(-cpu cortex-a57 -global virtio-mmio.force-legacy=false) ;;
    # device variants: microvm with modern virtio-mmio (feature words are logged), one workload each, guest evidence
    microvm-discard|microvm-mq|microvm-scsi|microvm-balloon-input|microvm-netctrl|microvm-killed)
      MACHINE=microvm; SFX=device; TRANSPORT=mmio; EXTRA=("${modern[@]}"); EVIDENCE=1; WORKLOAD=${1#microvm-}
      case $1 in
        # blk_co_pwritev: QEMU's block layer, flags 0x2 (BDRV_REQ_ZERO_WRITE) on the write-zeroes request and none
        # on discards: the one host-side line that tells the two apart (virtio-blk 7.2 logs neither)
        microvm-discard) DEVS=blk; SETS=(tools); EVENTS_MORE=(blk_co_pwritev) ;;
        microvm-mq)      DEVS=blk-mq; SMP=2 ;;
        microvm-scsi)    DEVS=scsi; SETS=(more) ;;
        microvm-balloon-input) DEVS=balloon-input; SETS=(more)
          # the tablet takes absolute moves and buttons only (HMP mouse_move is relative): a click reaches it
          CUES=('== balloon inflate=>mon balloon 496' '== balloon deflate=>mon balloon 512'
                '== input (host=>mon sendkey a' '== input (host=>mon sendkey b'
                '== input (host=>mon mouse_button 1' '== input (host=>mon mouse_button 0') ;;
        microvm-netctrl) DEVS=net ;;
        microvm-killed)  DEVS=blk-throttled; KILLED=1; CUES=('== write loop=>kill 2') ;;
      esac ;;
    q35-gpu-noedid) MACHINE=q35; SFX=pci; TRANSPORT=pci; KFLAVOUR=generic; GPU=1; MEM=1024; EVIDENCE=1
                    EXTRA=(-vga none -device virtio-gpu-pci,edid=off) ;;
    # the same GPU on virtio-mmio v2, where the driver's feature words are logged (QEMU logs none for PCI)
    microvm-gpu|microvm-gpu-noedid)
      MACHINE=microvm; SFX=device; TRANSPORT=mmio; KFLAVOUR=generic; GPU=1; MEM=1024; EVIDENCE=1
      EXTRA=("${modern[@]}" -device virtio-gpu-device)
      if [ "$1" = microvm-gpu-noedid ]; then EXTRA[-1]=virtio-gpu-device,edid=off; fi ;;
    *) return 1 ;;
  esac
}

# Kernel command line. On microvm the guest gets tsc_early_khz= (the host TSC rate): it stops the early-boot hang
# (docs/capture.md). CAPTURE_TSC_FIX=0 leaves it out (to reproduce the hang). It also gets tsc=reliable: on a loaded
# host the clocksource watchdog, comparing the TSC against jiffies (microvm has no HPET or PM timer), marks the TSC
# unstable and the guest clock falls back to jiffies (4 ms steps in its ftrace).
kernel_append() { # VARIANT FTRACE(0/1) [extra cap.* words]
  local v=$1 ft=$2; shift 2
  local a="console=$CONSOLE_DEV panic=-1 loglevel=4"
  if [ "$MACHINE" = microvm ] && [ "${CAPTURE_TSC_FIX:-1}" = 1 ]; then a+=" tsc_early_khz=$TSC_KHZ tsc=reliable"; fi
  a+=" cap.variant=$v cap.transport=$TRANSPORT cap.ftrace=$ft cap.tclock=${TRACE_CLOCK:-tai}"
  [ $# -gt 0 ] && a+=" $*"
  echo "$a"
}

# qemu_args_devices DIR [DEVS] : the devices of a set (DIR holds disk.img, vport.out); sets DEVARGS
#   basic: blk/net/rng/serial of the "basic" workload; blk: one blk (discard=unmap: discards reach the file);
#   blk-mq: blk with num-queues=2, 200 requests/s (QEMU's throttle holds requests, so several are in flight at
#   once: without it the host's page cache completes each before the TCG guest submits the next); blk-throttled: blk whose writes QEMU throttles to 2 MiB/s (requests wait in QEMU,
#   so a kill finds some in flight); net: net alone; scsi: a scsi-hd on virtio-scsi; balloon-input: balloon,
#   keyboard, tablet
qemu_args_devices() {
  local d=$1 drive
  truncate -s 0 "$d/disk.img"; truncate -s 16M "$d/disk.img"
  drive="id=d0,file=$d/disk.img,format=raw,if=none,cache=writeback"
  case ${2:-basic} in
    basic) DEVARGS=(-drive "$drive" -device virtio-blk-$SFX,drive=d0
      -netdev user,id=n0,restrict=on -device virtio-net-$SFX,netdev=n0,host_mtu=1500
      -object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-$SFX,rng=r0
      -device virtio-serial-$SFX -chardev file,id=c0,path="$d/vport.out" -device virtserialport,chardev=c0,name=p0) ;;
    blk) DEVARGS=(-drive "$drive,discard=unmap" -device virtio-blk-$SFX,drive=d0) ;;
    blk-mq) DEVARGS=(-drive "$drive,throttling.iops-total=200" -device virtio-blk-$SFX,drive=d0,num-queues=2) ;;
    blk-throttled) DEVARGS=(-drive "$drive,throttling.bps-write=2097152" -device virtio-blk-$SFX,drive=d0) ;;
    net) DEVARGS=(-netdev user,id=n0,restrict=on -device virtio-net-$SFX,netdev=n0,host_mtu=1500) ;;
    scsi) DEVARGS=(-device virtio-scsi-$SFX,id=scsi0 -drive "$drive,discard=unmap" -device scsi-hd,drive=d0,bus=scsi0.0) ;;
    balloon-input) DEVARGS=(-device virtio-balloon-$SFX -device virtio-keyboard-$SFX -device virtio-tablet-$SFX) ;;
    *) die "device set $2?" ;;
  esac
}

# monitor_args DIR : QEMU's human monitor on the FIFOs DIR/mon.in (commands) and DIR/mon.out (replies, drained into
# DIR/monitor.txt by a reader started here, MON_READER, so QEMU never blocks on it); sets MONARGS
monitor_args() {
  local d=$1
  rm -f "$d/mon.in" "$d/mon.out"; mkfifo "$d/mon.in" "$d/mon.out"
  cat "$d/mon.out" > "$d/monitor.txt" & MON_READER=$!
  MONARGS=(-chardev pipe,id=mon,path="$d/mon" -mon chardev=mon,mode=readline)
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

# vm_cue PID CONSOLE : fires the host actions of CUES ("LINE-PREFIX=>ACTION") whose console line has appeared, each
# once, in order; an action waits for the one before it. ACTION: "mon CMD" writes CMD to the monitor (MON_IN),
# "kill S" sends QEMU SIGKILL S seconds later (VM_KILLED=1). Each firing is logged in CUE_LOG (host wall clock).
vm_cue() {
  local pid=$1 con=$2 c pat act
  while [ "$CUE_NEXT" -lt ${#CUES[@]} ]; do
    c=${CUES[CUE_NEXT]}; pat=${c%%=>*}; act=${c#*=>}
    grep -aq "^$pat" "$con" || return 0
    case $act in
      mon\ *) timeout 5 sh -c 'printf "%s\n" "$1" > "$2"' _ "${act#mon }" "$MON_IN" || log "monitor write failed: $act" ;;
      kill\ *) sleep "${act#kill }"; kill -KILL "$pid" 2>/dev/null && VM_KILLED=1 ;;
    esac
    CUE_LOG+=("cue '$pat' -> $act at $(date +%s.%N)")
    CUE_NEXT=$((CUE_NEXT + 1))
    sleep 0.3   # let QEMU act on a monitor command before the next
  done
}

# vm_watch PID:CONSOLE... : waits for all; sets VM_ST to one status word per VM (done|hung|failed|timeout|killed),
# in order. With one VM, the host actions of CUES are fired on the way (vm_cue).
# (Not to be run in $(...): QEMU is a child of this shell, a subshell could not reap it.)
vm_watch() {
  local specs=("$@") n=$# i t0 now pid con st=() left
  t0=$(date +%s); CUE_NEXT=0; CUE_LOG=(); VM_KILLED=0
  for ((i = 0; i < n; i++)); do st[i]=run; done
  while :; do
    left=0; now=$(date +%s)
    for ((i = 0; i < n; i++)); do
      [ "${st[i]}" = run ] || continue
      pid=${specs[i]%%:*}; con=${specs[i]#*:}
      [ "$n" = 1 ] && [ ${#CUES[@]} -gt 0 ] && vm_cue "$pid" "$con"
      if [ "$VM_KILLED" = 1 ]; then
        wait "$pid" 2>/dev/null || true; st[i]=killed
      elif ! kill -0 "$pid" 2>/dev/null; then
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

# ftrace_split DUMPFILE OUTSTEM [NEED-TRACE] : splits the framed ttyS1 dump into OUTSTEM.guest.NAME; 0 if all frames
# verified (and, unless NEED-TRACE is 0, the ftrace buffer trace.txt is among them)
ftrace_split() {
  local dump=$1 stem=$2 need=${3:-1} ok=1 name bytes sum f
  [ -s "$dump" ] || return 1
  tr -d '\r' < "$dump" | awk -v pfx="$stem.guest." '
    /^@@@BEGIN /{f=pfx $2; printf "" > f; next} /^@@@END /{close(f); print $2, $3, $4; f=""; next} f{print > f}' > "$stem.frames"
  [ -s "$stem.frames" ] || ok=0
  while read -r name bytes sum; do
    f="$stem.guest.$name"
    { [ "$(wc -c < "$f")" = "$bytes" ] && [ "$(md5sum < "$f" | cut -d' ' -f1)" = "$sum" ]; } || { ok=0; log "$(basename "$stem"): guest $name corrupt"; }
  done < "$stem.frames"
  [ "$need" = 0 ] || grep -q '^trace.txt ' "$stem.frames" || ok=0
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
