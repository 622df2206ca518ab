# shellcheck shell=bash
# gpu-multi: several q35 VMs, each with only a virtio-gpu-pci display, started together on this host (one host
# clock, contending for its cores), each writing to its framebuffer at its own rate. Sourced by scripts/capture.sh.
# GPU_MULTI="NAME:PERIOD_MS:COUNT ..." (default below): COUNT writes of GPU_MULTI_KB KiB (default 64) to /dev/fb0,
# one every PERIOD_MS ms (plus the write's own time), and a line of text on tty1 every GPU_MULTI_TEXT (10) writes.
# Outputs OUTDIR/NAME.trace.gz, NAME.console.txt, NAME.info.txt (+ NAME.guest-ftrace.txt.gz ... with +ftrace)
# and OUTDIR/gpu-multi.info.txt (the mix, the start times).

GPU_MULTI=${GPU_MULTI:-cluster:100:60 ivi:150:40 rear:300:20}

capture_gpu_multi() { # FTRACE(0/1)
  local ft=$1 attempt spec vm per cnt i n st=() ok t0=() t1 initrd specs=() names=() watch=() cmd tries=()
  local kb=${GPU_MULTI_KB:-64} te=${GPU_MULTI_TEXT:-10}
  read -r -a specs <<< "$GPU_MULTI"
  n=${#specs[@]}; [ "$n" -ge 1 ] || die "GPU_MULTI is empty"
  variant_def q35-gpu; EXTRA=(-vga none -device virtio-gpu-pci)
  prepare_arch amd64
  use_kernel generic amd64
  initrd=$(initrd_for virtio pci gpu)
  write_events "$WORK/events"
  local bt=${BOOT_TIMEOUT_MULTI:-90}
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    watch=(); names=(); t0=()
    for spec in "${specs[@]}"; do
      IFS=: read -r vm per cnt <<< "$spec"
      [[ $vm =~ ^[A-Za-z0-9_-]+$ && $per =~ ^[1-9][0-9]*$ && $cnt =~ ^[1-9][0-9]*$ ]] || die "bad GPU_MULTI entry '$spec' (NAME:PERIOD_MS:COUNT)"
      local d=$WORK/gm-$vm; rm -rf "$d" "$OUT/$vm".guest.*; mkdir -p "$d"
      FTARGS=(); [ "$ft" = 1 ] && ftrace_args "$d"
      cmd=("$QEMU" -M q35 -m 1024 -smp 1 -nographic -no-reboot -name "$vm" "${EXTRA[@]}" "${FTARGS[@]}"
        -kernel "$VMLINUZ" -initrd "$initrd"
        -append "$(kernel_append "gpu-multi" "$ft" cap.work=gpuload cap.vm="$vm" cap.fbcount="$cnt" cap.fbperiod="$per" cap.fbkb="$kb" cap.textevery="$te")"
        -msg timestamp=on -trace events="$WORK/events",file="$d/qemu.trace")
      printf '%s\n' "${cmd[*]}" > "$d/cmdline"
      t0+=("$(date +%s.%N)")
      vm_start "$d/console.txt" "${cmd[@]}"
      watch+=("$VM_PID:$d/console.txt"); names+=("$vm")
    done
    log "gpu-multi attempt $attempt: started ${names[*]} (pids ${watch[*]%%:*})"
    BOOT_TIMEOUT=$bt vm_watch "${watch[@]}"; st=("${VM_ST[@]}")
    t1=$(date +%s.%N)
    ok=1
    for ((i = 0; i < n; i++)); do
      vm=${names[i]}
      if [ "${st[i]}" = done ] && [ "$ft" = 1 ]; then ftrace_split "$WORK/gm-$vm/ttyS1.out" "$OUT/$vm" || st[i]=bad-dump; fi
      [ "${st[i]}" = done ] || ok=0
    done
    tries+=("attempt $attempt: ${names[*]} -> ${st[*]}")
    [ $ok = 1 ] && break
    log "gpu-multi attempt $attempt: ${st[*]}; all VMs are run again (they must run together)"
  done
  [ $ok = 1 ] || die "gpu-multi: no run with all VMs good in $ATTEMPTS attempts"
  {
    echo "gpu-multi: ${names[*]} started together on one host ($(nproc) cores), $(qemu-system-x86_64 --version | head -1), $KPKG"
    echo "workload per VM: NAME:PERIOD_MS:COUNT = $GPU_MULTI; $kb KiB per /dev/fb0 write (busybox dd), tty1 text every $te writes"
    echo "host wall clock at exit of the last VM: $t1"
    printf '%s\n' "${tries[@]}"
  } > "$OUT/gpu-multi.info.txt"
  for ((i = 0; i < n; i++)); do
    vm=${names[i]}; local d=$WORK/gm-$vm
    tr -d '\r' < "$d/console.txt" > "$OUT/$vm.console.txt"
    gzip -9 -n -c "$d/qemu.trace" > "$OUT/$vm.trace.gz"
    [ "$ft" = 1 ] && ftrace_finish "$OUT/$vm" "$d/qemu.trace"
    local first last ncmd
    first=$(head -1 "$d/qemu.trace" | sed -E 's/^[0-9]+@([0-9.]+):.*/\1/'); last=$(tail -1 "$d/qemu.trace" | sed -E 's/^[0-9]+@([0-9.]+):.*/\1/')
    ncmd=$(grep -c ':virtio_gpu_cmd_' "$d/qemu.trace" || true)
    {
      echo "$vm (gpu-multi) host wall clock: qemu started ${t0[i]}; trace spans $first .. $last"
      qemu-system-x86_64 --version | head -1; echo "$KPKG"; cat "$d/cmdline"
    } > "$OUT/$vm.info.txt"
    echo "$vm: start ${t0[i]} trace $first..$last ($(awk -v a="$first" -v b="$last" 'BEGIN{printf "%.2f", b-a}') s), $(wc -l < "$d/qemu.trace") lines, $ncmd virtio_gpu_cmd_* lines; $(grep -a '^== gpuload .* done' "$OUT/$vm.console.txt" | sed 's/^== //')" >> "$OUT/gpu-multi.info.txt"
    log "$vm: $ncmd virtio_gpu_cmd_* lines, $(wc -l < "$d/qemu.trace") trace lines, $(( $(wc -c < "$OUT/$vm.trace.gz") / 1024 )) KiB gz"
  done
}
