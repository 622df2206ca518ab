# shellcheck shell=bash
# One VM, one variant (x86 and arm64), with or without the guest's ftrace. Sourced by scripts/capture.sh.

# prepare_arch ARCH : host packages for the architecture; sets BUSYBOX
prepare_arch() {
  case $1 in
    amd64)
      need_pkgs qemu-system-x86_64:qemu-system-x86 /bin/busybox:busybox-static cpio:cpio gzip:gzip
      BUSYBOX=/bin/busybox ;;
    arm64)
      need_pkgs cpio:cpio gzip:gzip
      if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "dpkg --add-architecture arm64"; dpkg --add-architecture arm64; apt-get update -qq || die "apt-get update failed"; APT_UPDATED=1
      fi
      need_pkgs qemu-system-aarch64:qemu-system-arm
      BUSYBOX=$(unpacked busybox-static arm64)/bin/busybox ;;
  esac
}

# initrd_for MODSET... -> path of the initramfs for the current kernel (built once per run)
initrd_for() {
  local f=$WORK/initrd-$KPKG-$(IFS=-; echo "$*").gz
  [ -f "$f" ] || build_initrd "$f" "$BUSYBOX" "$@"
  echo "$f"
}

# capture_single VARIANT FTRACE(0/1)
capture_single() {
  local v=$1 ft=$2 d attempt st="" t0 t1 initrd mem tries=() append tag=$1 good=done
  [ "$ft" = 1 ] && tag="$1+ftrace"
  variant_def "$v" || die "unknown variant $v"
  [ "$KILLED" = 1 ] && good=killed   # a run meant to be killed is good when the kill came (after the evidence dump)
  [ "$ft" = 1 ] && [ "$ARCH" != amd64 ] && die "$v+ftrace: the guest ftrace probes are written for x86-64 (argument registers)"
  prepare_arch "$ARCH"
  use_kernel "$KFLAVOUR" "$ARCH"
  local sets=(virtio); [ "$ARCH" = amd64 ] && sets+=(pci); [ "$GPU" = 1 ] && sets+=(gpu)
  initrd=$(initrd_for "${sets[@]}" "${SETS[@]}")
  write_events "$WORK/events"
  d=$WORK/$v; mkdir -p "$d"
  mem=$MEM; [ "$ft" = 1 ] && mem=1024
  local words=(cap.work="$WORKLOAD"); [ "$EVIDENCE" = 1 ] && words+=(cap.evidence=1)
  append=$(kernel_append "$v" "$ft" "${words[@]}")
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    rm -f "$d"/* "$OUT/$v".guest.*
    qemu_args_devices "$d" "$DEVS"; FTARGS=(); { [ "$ft" = 1 ] || [ "$EVIDENCE" = 1 ]; } && ftrace_args "$d"
    MONARGS=(); MON_READER=; [ ${#CUES[@]} -gt 0 ] && { monitor_args "$d"; MON_IN=$d/mon.in; }
    local cmd=("$QEMU" -M "$MACHINE" -m "$mem" -smp "$SMP" -nographic -no-reboot -name "$v" "${EXTRA[@]}" "${FTARGS[@]}"
      "${MONARGS[@]}" -kernel "$VMLINUZ" -initrd "$initrd" -append "$append" "${DEVARGS[@]}"
      -msg timestamp=on -trace events="$WORK/events",file="$d/qemu.trace")
    if [ "$ARCH" = arm64 ] && [ $attempt = 1 ]; then   # the device tree the guest boots with
      "${cmd[@]}" -machine dumpdtb="$d/dtb" > /dev/null 2>&1; [ -s "$d/dtb" ] || die "$v: -machine dumpdtb failed"
      gzip -9 -n -c "$d/dtb" > "$OUT/$v.dtb.gz"; rm -f "$d/qemu.trace"
    fi
    t0=$(date +%s.%N)
    vm_start "$d/console.txt" "${cmd[@]}"
    vm_watch "$VM_PID:$d/console.txt"; st=${VM_ST[0]}
    t1=$(date +%s.%N)
    [ -z "$MON_READER" ] || { sleep 0.3; kill "$MON_READER" 2>/dev/null || true; wait "$MON_READER" 2>/dev/null || true; }
    if [ "$st" = "$good" ] && [ "$ft" = 1 ]; then ftrace_split "$d/ttyS1.out" "$OUT/$v" || st=bad-dump
    elif [ "$st" = "$good" ] && [ "$EVIDENCE" = 1 ]; then ftrace_split "$d/ttyS1.out" "$OUT/$v" 0 || st=bad-dump; fi
    tries+=("attempt $attempt: $st after $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s")
    [ "$st" = "$good" ] && break
    log "$v: attempt $attempt $st ($(tail -c 300 "$d/console.txt" | tr -d '\r' | grep -av '^$' | tail -2 | tr '\n' '|'))"
  done
  if [ "$st" != "$good" ]; then
    tr -d '\r' < "$d/console.txt" > "$OUT/$v.failed.console.txt"
    die "$v: no good run in $ATTEMPTS attempts (${tries[*]}); last console: $OUT/$v.failed.console.txt"
  fi
  rm -f "$OUT/$v.failed.console.txt"
  tr -d '\r' < "$d/console.txt" > "$OUT/$v.console.txt"
  [ -s "$d/qemu.trace" ] || die "$v: QEMU wrote no trace"
  gzip -9 -n -c "$d/qemu.trace" > "$OUT/$v.trace.gz"
  [ "$ft" = 1 ] && ftrace_finish "$OUT/$v" "$d/qemu.trace"
  {
    echo "$tag host wall clock: qemu started $t0, exited $t1"
    "$QEMU" --version | head -1
    echo "$KPKG"
    echo "append: $append"
    [ "$MACHINE" = microvm ] && echo "tsc_early_khz source: $TSC_KHZ_SRC"
    printf '%s\n' "${tries[@]}"
    [ ${#CUE_LOG[@]} -eq 0 ] || printf 'host %s\n' "${CUE_LOG[@]}"
    printf 'command:'; printf ' %q' "${cmd[@]}"; echo
  } > "$OUT/$v.info.txt"
  log "$tag: $(wc -l < "$d/qemu.trace") QEMU trace lines ($(grep -c ':virtio_gpu_cmd_' "$d/qemu.trace") virtio_gpu_cmd_*)," \
      "guest steps $(grep -c '^== ' "$OUT/$v.console.txt")$( [ "$ft" = 1 ] && echo ", $(zcat "$OUT/$v.guest-ftrace.txt.gz" | grep -vc '^#') guest ftrace lines"), ${#tries[@]} attempt(s), $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
}
