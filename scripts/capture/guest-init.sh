#!/bin/busybox sh
# /init of the capture initramfs (runs inside the GUEST, busybox sh). Copied in by scripts/capture/initrd.sh.
# Behaviour comes from the kernel command line, set by the host side (scripts/capture/qemu.sh):
#   cap.variant=NAME       the variant (for the log)
#   cap.transport=mmio|pci which virtio transport modules to load
#   cap.ftrace=0|1         guest ftrace: drivers first, tracing on, transports LAST; dump through ttyS1 at the end
#   cap.tclock=CLOCK       ftrace trace_clock (default tai: CLOCK_REALTIME, epoch seconds)
#   cap.work=basic|gpuload basic: blk/rng/net/virtio-serial steps (+ /dev/fb0 and tty1 if a GPU exists)
#                          gpuload: only the GPU loop below (gpu-multi)
#   cap.vm=NAME cap.fbcount=N cap.fbperiod=MS cap.fbkb=KIB cap.textevery=N
#                          gpuload: N writes of KIB to /dev/fb0, one every MS ms (plus dd's own time);
#                          every Nth write also prints a line of text on tty1 (fbcon)
#   cap.work=discard|mq|scsi|balloon-input|netctrl|killed
#                          the device variants (work_* below); balloon-input and killed need the host's actions
#                          at their "== " lines (scripts/capture/qemu.sh, CUES)
#   cap.evidence=1         at the end (killed: before the write loop) dump the guest's own view through ttyS1:
#                          /proc/interrupts, dmesg, lsmod, the virtio device list (see snapshot_guest)
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
arg() { sed -n "s/.*cap\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
VARIANT=$(arg variant); TRANSPORT=$(arg transport); FTRACE=$(arg ftrace); TCLOCK=$(arg tclock); WORK=$(arg work)
EVIDENCE=$(arg evidence)
T=/sys/kernel/tracing
ld() { for m in "$@"; do [ -f /mods/$m.ko ] || continue; insmod /mods/$m.ko 2>/dev/null || echo "insmod $m FAILED"; done; }
mark() { [ "$FTRACE" = 1 ] && echo "$*" > $T/trace_marker; echo "== $*"; }
rt() { adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf "%d.%06d", s, u}'; }
CORE="virtio_ring virtio"
case $TRANSPORT in mmio) TRANSPORTS=virtio_mmio ;; pci) TRANSPORTS="virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci" ;;
  *) TRANSPORTS="virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci" ;; esac
DRIVERS="virtio_dma_buf drm drm_kms_helper drm_shmem_helper virtio-gpu virtio_blk failover net_failover virtio_net virtio_console virtio-rng
  scsi_common scsi_mod sd_mod virtio_scsi virtio_balloon evdev virtio_input"

setup_ftrace() {
  mount -t tracefs nodev $T
  echo 0 > $T/tracing_on; echo > $T/trace
  echo "${TCLOCK:-tai}" > $T/trace_clock 2>/dev/null || echo "trace_clock ${TCLOCK:-tai} not available"
  echo 32768 > $T/buffer_size_kb
  # Linux 6.1 has no virtio tracepoints (only virtio_gpu): kprobes on virtio_ring. Offsets from 6.1's struct virtqueue
  # (name @+24, vdev @+32, index @+40; virtio_device.index @+0); x86-64 argument registers.
  VQ='dev=+0(+32(%di)):s32 vq=+40(%di):u32 name=+0(+24(%di)):string'
  case $TRANSPORT in mmio) NOTIFY=virtio_mmio:vm_notify ;; *) NOTIFY=virtio_pci:vp_notify ;; esac
  # the transport's notify hook is called through vq->notify (never inlined); its module is not loaded yet:
  # the kernel arms such a probe when the module loads
  { echo "p:virtio/vq_notify $NOTIFY $VQ"
    echo "p:virtio/vring_interrupt vring_interrupt irq=%di:s32 dev=+0(+32(%si)):s32 vq=+40(%si):u32 name=+0(+24(%si)):string"
    echo "p:virtio/vq_add_sgs virtqueue_add_sgs $VQ out_sgs=%dx:u32 in_sgs=%cx:u32 data=%r8:x64"
    echo "p:virtio/vq_add_outbuf virtqueue_add_outbuf $VQ num=%dx:u32 data=%cx:x64"
    echo "p:virtio/vq_add_inbuf virtqueue_add_inbuf $VQ num=%dx:u32 data=%cx:x64"
    echo "p:virtio/vq_add_inbuf_ctx virtqueue_add_inbuf_ctx $VQ num=%dx:u32 data=%cx:x64"
    echo "r:virtio/vq_get_buf virtqueue_get_buf_ctx_split data=\$retval:x64"
  } > /tmp/kprobes
  while read -r l; do echo "$l" >> $T/kprobe_events || echo "kprobe FAILED: $l"; done < /tmp/kprobes
  for e in block/enable irq/irq_handler_entry/enable irq/irq_handler_exit/enable net/enable napi/enable \
           sched/sched_process_exec/enable virtio/enable virtio_gpu/enable dma_fence/enable; do
    [ -f $T/events/$e ] && echo 1 > $T/events/$e
  done
  # the return probe fires for every poll of an empty ring: keep only hits that returned a buffer
  echo 'data != 0' > $T/events/virtio/vq_get_buf/filter 2>/dev/null
  [ -f $T/events/irq/softirq_entry/enable ] && echo 'vec == 2 || vec == 3 || vec == 4' > $T/events/irq/softirq_entry/filter \
    && echo 1 > $T/events/irq/softirq_entry/enable
  echo 1 > $T/tracing_on
}

# The guest's own view into /tmp: /proc/interrupts (IRQ -> device/queue names), dmesg, lsmod, and the virtio device
# list, one line per device: "virtioN device=0xDDDD driver=NAME vendor=0xVVVVVVVV features=BITS" (sysfs: BITS is the
# negotiated feature bits as 0/1 characters, bit 0 first; driver empty when none is bound).
snapshot_guest() {
  cp /proc/interrupts /tmp/interrupts.txt; dmesg > /tmp/dmesg.txt; lsmod > /tmp/lsmod.txt 2>/dev/null
  ( for d in /sys/bus/virtio/devices/*; do
      echo "$(basename $d) device=$(cat $d/device) driver=$(basename $(readlink $d/driver) 2>/dev/null) vendor=$(cat $d/vendor) features=$(cat $d/features)"
    done ) > /tmp/virtio_devices.txt
}

send_frames() { # NAME... : each /tmp/NAME.txt framed and checksummed on ttyS1 (raw): no virtio traffic
  stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null
  for f in "$@"; do
    echo "@@@BEGIN $f.txt"; cat /tmp/$f.txt; echo "@@@END $f.txt $(wc -c < /tmp/$f.txt) $(md5sum < /tmp/$f.txt | cut -d' ' -f1)"
  done > /dev/ttyS1
}

dump_evidence() { snapshot_guest; send_frames interrupts dmesg lsmod virtio_devices; echo "== guest evidence dumped"; }

dump_ftrace() {
  echo 0 > $T/tracing_on
  cat $T/trace > /tmp/trace.txt
  cp $T/available_events /tmp/available_events.txt; cp $T/trace_clock /tmp/trace_clock.txt
  cp $T/per_cpu/cpu0/stats /tmp/stats.txt; cp $T/kprobe_events /tmp/kprobe_events.txt; cp $T/kprobe_profile /tmp/kprobe_profile.txt
  snapshot_guest
  send_frames trace available_events trace_clock stats kprobe_events kprobe_profile interrupts dmesg lsmod virtio_devices
  echo "== dumped $(wc -l < /tmp/trace.txt) trace lines ($(wc -c < /tmp/trace.txt) bytes) md5 $(md5sum < /tmp/trace.txt | cut -d' ' -f1)"
}

work_basic() {
  case $VARIANT in arm64*) echo "== /chosen: $(ls /proc/device-tree/chosen/ | tr '\n' ' ')" ;; esac
  mark "write O_DIRECT 1 MiB";   dd if=/dev/urandom of=/dev/vda bs=4k count=256 oflag=direct 2>&1 | tail -1
  mark "write 256 KiB + fsync";  dd if=/dev/urandom of=/dev/vda bs=4k count=64 seek=512 conv=fsync 2>&1 | tail -1
  sync
  mark "read O_DIRECT";          dd if=/dev/vda of=/dev/null bs=64k count=16 iflag=direct 2>&1 | tail -1
  mark "discard 1 MiB";          blkdiscard -o 0 -l 1048576 /dev/vda 2>&1; sync
  mark "rng";                    dd if=/dev/hwrng bs=64 count=1 2>/dev/null | hexdump -C | head -1
  mark "net (DHCP from QEMU's own user-mode stack, restrict=on)"; ip link set eth0 up; udhcpc -i eth0 -n -q -t 3 2>&1 | tail -1
  mark "console";                for p in /dev/vport*; do echo hello-from-guest > $p; done 2>/dev/null
  if [ -e /dev/fb0 ]; then
    mark "gpu fb0 $(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null) write 1 MiB"
    dd if=/dev/urandom of=/dev/fb0 bs=4k count=256 2>&1 | tail -1; sleep 1
    mark "gpu tty1 text";  echo "hello from the guest on fbcon" > /dev/tty1; sleep 1
  fi
}

work_gpuload() {
  VM=$(arg vm); N=$(arg fbcount); P=$(arg fbperiod); K=$(arg fbkb); TE=$(arg textevery)
  [ -e /dev/fb0 ] || { echo "== no /dev/fb0"; return; }
  BLK=$(( K / 4 )); FBB=$(( $(cat /sys/class/graphics/fb0/virtual_size | tr , '*') * 4 / 4096 - BLK ))
  mark "gpuload $VM: $N writes of $K KiB to fb0 $(cat /sys/class/graphics/fb0/virtual_size), one every $P ms; tty1 text every $TE"
  i=0; s=$(cut -d' ' -f1 /proc/uptime)
  while [ $i -lt $N ]; do
    dd if=/dev/urandom of=/dev/fb0 bs=4k count=$BLK seek=$(( (i * BLK * 7) % FBB )) 2>/dev/null
    [ $(( i % TE )) = 0 ] && echo "$VM frame $i" > /dev/tty1
    usleep $(( P * 1000 )); i=$(( i + 1 ))
  done
  mark "gpuload $VM done: $i writes in $(awk -v a=$s -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN{printf "%.2f", b-a}') s (guest uptime)"
}

# ---- the device variants (microvm, modern virtio-mmio; one device set each, scripts/capture/qemu.sh) ----------

work_discard() { # blk with discard=unmap: DISCARD and WRITE_ZEROES requests, then fstrim on a filesystem
  Q=/sys/block/vda/queue
  mark "limits: discard_max_bytes=$(cat $Q/discard_max_bytes) write_zeroes_max_bytes=$(cat $Q/write_zeroes_max_bytes)"
  mark "write O_DIRECT 2 MiB";            dd if=/dev/urandom of=/dev/vda bs=64k count=32 oflag=direct 2>&1 | tail -1
  mark "blkdiscard 1 MiB at 0";           blkdiscard -o 0 -l 1048576 /dev/vda && echo "blkdiscard ok"
  mark "write-zeroes 1 MiB at 1 MiB (BLKZEROOUT)"; blkzero /dev/vda 1048576 1048576
  mark "mke2fs, mount (ext4 driver), write 512 KiB, rm"
  mke2fs -q /dev/vda > /dev/null 2>&1; mkdir -p /mnt; mount -t ext4 /dev/vda /mnt 2>&1 && {
    dd if=/dev/urandom of=/mnt/f bs=64k count=8 2>&1 | tail -1; sync; rm /mnt/f; sync
    mark "fstrim";                        fstrim -v /mnt 2>&1
    umount /mnt; }
}

work_mq() { # blk with two request queues and two vCPUs: four writers per CPU, so both queues carry requests at once
  mark "queues: $(ls /sys/block/vda/mq | tr '\n' ' ')on $(grep -c ^processor /proc/cpuinfo) CPUs"
  mark "parallel O_DIRECT writes, four dd per CPU"
  for c in 1 2; do for k in 0 1 2 3; do
    taskset $c dd if=/dev/zero of=/dev/vda bs=64k count=8 seek=$(( (c * 4 + k) * 8 )) oflag=direct 2>/dev/null & done; done
  wait
  mark "parallel O_DIRECT reads, four dd per CPU"
  for c in 1 2; do for k in 0 1 2 3; do
    taskset $c dd if=/dev/vda of=/dev/null bs=64k count=8 skip=$(( (c * 4 + k) * 8 )) iflag=direct 2>/dev/null & done; done
  wait
  mark "buffered 1 MiB per CPU + fsync (writeback: many requests at once, then a flush per queue)"
  taskset 1 dd if=/dev/urandom of=/dev/vda bs=64k count=16 seek=128 conv=fsync 2>/dev/null &
  taskset 2 dd if=/dev/urandom of=/dev/vda bs=64k count=16 seek=192 conv=fsync 2>/dev/null &
  wait; sync
  for q in /sys/block/vda/mq/*; do echo "== mq $(basename $q) cpu_list=$(cat $q/cpu_list)"; done
}

work_scsi() { # a scsi-hd on virtio-scsi: writes, a flush (SYNCHRONIZE CACHE), reads, a discard
  i=0; while [ ! -b /dev/sda ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
  mark "scsi disk: $(cat /sys/block/sda/device/vendor /sys/block/sda/device/model 2>/dev/null | tr -s ' \n' ' ')"
  mark "write O_DIRECT 256 KiB";          dd if=/dev/urandom of=/dev/sda bs=64k count=4 oflag=direct 2>&1 | tail -1
  mark "write 64 KiB + fsync";            dd if=/dev/urandom of=/dev/sda bs=4k count=16 seek=256 conv=fsync 2>&1 | tail -1
  mark "read O_DIRECT 256 KiB";           dd if=/dev/sda of=/dev/null bs=64k count=4 iflag=direct 2>&1 | tail -1
  mark "discard 1 MiB";                   blkdiscard -o 0 -l 1048576 /dev/sda 2>&1 && echo "blkdiscard ok"
}

work_balloon_input() { # the host changes the balloon target and sends input events through its monitor
  for e in /dev/input/event*; do [ -e "$e" ] && cat "$e" > /tmp/$(basename $e).bin & done
  mark "evdev: $(for i in /sys/class/input/event*; do echo -n "$(basename $i)=$(cat $i/device/name) "; done)"
  mark "balloon inflate (host: balloon 496)"; sleep 4; echo "MemTotal $(awk '/MemTotal/{print $2}' /proc/meminfo) kB"
  mark "balloon deflate (host: balloon 512)"; sleep 4; echo "MemTotal $(awk '/MemTotal/{print $2}' /proc/meminfo) kB"
  mark "input (host: sendkey a, sendkey b, mouse_button 1, mouse_button 0)"; sleep 3
  for f in /tmp/event*.bin; do echo "== $(basename $f .bin): $(wc -c < $f) bytes of input events read"; done
}

work_netctrl() { # the MAC address and the receive mode set through the control queue
  N=/sys/class/net/eth0
  mark "mac $(cat $N/address) -> 52:54:00:ab:cd:ef"; ip link set eth0 address 52:54:00:ab:cd:ef 2>&1; echo "mac now $(cat $N/address)"
  mark "link up + DHCP";                  ip link set eth0 up; udhcpc -i eth0 -n -q -t 3 2>&1 | tail -1
  mark "promisc on, off";                 ip link set eth0 promisc on; sleep 1; ip link set eth0 promisc off; sleep 1
  mark "allmulti on";                     ifconfig eth0 allmulti 2>&1; sleep 1
}

work_killed() { # writes until the host kills QEMU (SIGKILL, a few seconds after the "write loop" line)
  dump_evidence
  mark "write loop"
  ( while :; do dd if=/dev/zero of=/dev/vda bs=64k count=64 oflag=direct 2>/dev/null; done ) &
  while :; do dd if=/dev/urandom of=/dev/vda bs=64k count=64 seek=128 conv=fsync 2>/dev/null; done
}

if [ "$FTRACE" = 1 ]; then
  ld $CORE $DRIVERS                  # drivers first, transports LAST: tracing is on before any device is probed
  setup_ftrace
  mark "clock-sync realtime=$(rt)"
  mark "load transports"
  ld $TRANSPORTS
else
  ld $CORE $TRANSPORTS $DRIVERS
fi
sleep 1
[ "$FTRACE" = 1 ] && mark "clock-sync realtime=$(rt)"
case $WORK in
  gpuload) work_gpuload ;; discard) work_discard ;; mq) work_mq ;; scsi) work_scsi ;;
  balloon-input) work_balloon_input ;; netctrl) work_netctrl ;; killed) work_killed ;; *) work_basic ;;
esac
[ "$FTRACE" = 1 ] && mark "clock-sync realtime=$(rt)"
mark "done"
if [ "$FTRACE" = 1 ]; then dump_ftrace; sleep 1
elif [ "$EVIDENCE" = 1 ]; then dump_evidence; sleep 1; fi
poweroff -f
