# shellcheck shell=bash
# virtio-sound variants (wav-playback, none-duplex, chmaps-probe-fail). Sourced by scripts/capture.sh.
# Debian 12's QEMU 7.2 has no virtio-sound (added in 8.2): a Debian 13 (trixie) root is debootstrapped from the same
# mirror (about 50 s, once; kept in $VSND_ROOT) and trixie's qemu-system-x86 (10.0.x) runs inside it. Guest: trixie's
# generic kernel (virtio_snd + soundcore/snd/snd-timer/snd-pcm, decompressed: busybox insmod reads no .ko.xz),
# a busybox initramfs with sndtest (static, raw ALSA ioctls; sound/sndtest.c) and aplay (sound/guest-init.sh).

VSND_ROOT=${VSND_ROOT:-/var/tmp/trixie-root}
SOUND_READY=0

sound_prepare() {
  [ $SOUND_READY = 1 ] && return 0
  local R=$VSND_ROOT mirror m
  mirror=${MIRROR:-$(awk '/^URIs:/{print $2; exit} /^deb /{print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)}
  mirror=${mirror:-http://deb.debian.org/debian}
  need_pkgs debootstrap:debootstrap gcc:gcc xz:xz-utils /usr/include/sound/asound.h:linux-libc-dev \
    /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev
  if [ ! -x "$R/usr/bin/apt-get" ]; then
    log "debootstrap trixie into $R from $mirror (about a minute)"
    debootstrap --variant=minbase trixie "$R" "$mirror" > "$WORK/debootstrap.log" 2>&1 || { tail "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  fi
  for m in proc sys dev; do
    mountpoint -q "$R/$m" && continue
    case $m in proc) mount -t proc proc "$R/proc" ;; sys) mount -t sysfs sys "$R/sys" ;; dev) mount --bind /dev "$R/dev" ;; esac
    CLEANUPS+=("umount -l $R/$m")
  done
  if [ ! -x "$R/usr/bin/qemu-system-x86_64" ] || [ ! -x "$R/usr/bin/aplay" ] || [ ! -x "$R/bin/busybox" ]; then
    log "chroot: apt-get install qemu-system-x86 alsa-utils busybox-static"
    chroot "$R" apt-get update -qq || die "chroot apt-get update failed"
    chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 alsa-utils busybox-static >/dev/null \
      || die "chroot apt-get install failed"
  fi
  SQ=(chroot "$R" qemu-system-x86_64)
  SQVER=$("${SQ[@]}" --version | head -1)
  "${SQ[@]}" -device help 2>&1 | grep -q '"virtio-sound-pci"' || die "$SQVER has no virtio-sound-pci"

  # guest kernel: trixie's generic kernel, downloaded in the chroot, unpacked once into $CACHE
  SKPKG=$(chroot "$R" apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$SKPKG" ] || die "trixie kernel package not found"
  local kd=$CACHE/pkg/${SKPKG}_trixie
  if [ ! -f "$kd/.complete" ]; then
    log "download trixie $SKPKG into $CACHE"
    rm -rf "$kd" "$R/capture-k"; mkdir -p "$R/capture-k" "$kd"; chmod 777 "$R/capture-k"
    chroot "$R" sh -c "cd /capture-k && apt-get download -qq $SKPKG 2>/dev/null" || die "download $SKPKG failed"
    dpkg -x "$R"/capture-k/*.deb "$kd/x" && rm -rf "$R/capture-k" && touch "$kd/.complete"
  fi
  local kver=${SKPKG#linux-image-} mods=
  for m in "$kd/x/usr/lib/modules/$kver/kernel" "$kd/x/lib/modules/$kver/kernel"; do [ -d "$m" ] && mods=$m && break; done
  [ -n "$mods" ] || die "no modules in $SKPKG"

  # initramfs and kernel go into the chroot (QEMU runs there)
  SW=$R/capture; rm -rf "$SW"; mkdir -p "$SW"/rd/{bin,mods,proc,sys,dev,tmp,usr/share}
  cp "$kd/x/boot/vmlinuz-$kver" "$SW/vmlinuz"
  for m in sound/soundcore sound/core/snd sound/core/snd-timer sound/core/snd-pcm sound/virtio/virtio_snd; do
    if [ -f "$mods/$m.ko.xz" ]; then xz -dc "$mods/$m.ko.xz" > "$SW/rd/mods/${m##*/}.ko"; else cp "$mods/$m.ko" "$SW/rd/mods/"; fi
  done
  cp "$R/bin/busybox" "$SW/rd/bin/busybox"
  gcc -O2 -static -Wall -o "$SW/rd/bin/sndtest" "$CAPTURE_LIB/sound/sndtest.c" -lm || die "building sndtest failed"
  cp "$R/usr/bin/aplay" "$SW/rd/bin/aplay"
  local l; for l in $(chroot "$R" ldd /usr/bin/aplay | grep -o '/[^ ]*'); do mkdir -p "$(dirname "$SW/rd$l")"; cp -L "$R$l" "$SW/rd$l"; done
  cp -a "$R/usr/share/alsa" "$SW/rd/usr/share/"
  cp "$CAPTURE_LIB/sound/guest-init.sh" "$SW/rd/init"; chmod +x "$SW/rd/init"
  (cd "$SW/rd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$SW/initrd.gz")
  write_events "$SW/events" sound
  SOUND_READY=1
}

sound_variant() { # V -> SAD (audiodev) SDEV (device suffix) SCAP (1: guest also captures)
  case $1 in
    wav-playback)      SAD="wav,id=snd0,path=/capture/$1.wav,out.frequency=48000"; SDEV=; SCAP=0 ;;
    none-duplex)       SAD="none,id=snd0,out.frequency=48000,in.frequency=48000"; SDEV=; SCAP=1 ;;
    chmaps-probe-fail) SAD="none,id=snd0,out.frequency=48000,in.frequency=48000"; SDEV=,chmaps=2; SCAP=1 ;;
    *) return 1 ;;
  esac
}

capture_sound() { # V
  local v=$1 tr s e
  sound_prepare
  sound_variant "$v"
  "${SQ[@]}" -trace help 2>/dev/null | grep -E '^virtio_snd_' > "$OUT/virtio_snd_events.available.txt"
  log "$v: boot ($SQVER, $SKPKG)"
  s=$(date +%s.%N)
  timeout "${QEMU_TIMEOUT:-300}" "${SQ[@]}" -M q35 -m 512 -smp 1 -nographic -no-reboot \
    -kernel /capture/vmlinuz -initrd /capture/initrd.gz -append "console=ttyS0 panic=-1 loglevel=4 vsnd.cap=$SCAP" \
    -audiodev "$SAD" -device virtio-sound-pci,audiodev=snd0$SDEV \
    -msg timestamp=on -trace events=/capture/events,file=/capture/$v.trace < /dev/null > "$OUT/$v.console.txt" 2>&1 || log "$v: qemu rc=$?"
  e=$(date +%s.%N)
  tr=$SW/$v.trace
  [ -s "$tr" ] && grep -aqE '^== \[uptime [0-9.]+\] done' "$OUT/$v.console.txt" || die "$v: no trace or the guest did not finish (see $OUT/$v.console.txt)"
  {
    echo "variant $v: audiodev $SAD; device virtio-sound-pci,audiodev=snd0$SDEV; wall $(awk "BEGIN{printf \"%.1f\", $e-$s}") s; $(wc -l < "$tr") trace lines"
    echo "-- event counts"; sed -E 's/^[0-9]+@[0-9.]+://' "$tr" | awk '{print $1}' | sort | uniq -c | sort -rn
    echo "-- control requests / stream state (ms since first line)"
    awk '{ split($1,a,"@"); split(a[2],b,":"); t=b[1]+0; if (NR==1) t0=t }
      /virtio_snd_handle_code|virtio_snd_handle_pcm_(set_params|start_stop|release)|virtio_snd_pcm_stream_flush|audio_timer/ {
        l=$0; sub(/^[0-9]+@[0-9.]+:/,"",l); printf "%10.3f %s\n", (t-t0)*1000, l }' "$tr"
    echo "-- tx(q2)/rx(q3) kicks and completions: gaps > 15 ms (ms since first line)"
    awk '
      { split($1,a,"@"); split(a[2],b,":"); t=b[1]+0; if (NR==1) t0=t }
      /virtio_queue_notify/ && / n 2 /{ txq=$NF } /virtio_queue_notify/ && / n 3 /{ rxq=$NF }
      /virtio_queue_notify/ { for(q=2;q<=3;q++) if ($0 ~ (" n " q " ")) { if (lk[q] && t-lk[q]>0.015) printf "kick gap q%d: %8.3f ms, from %.3f to %.3f\n", q, (t-lk[q])*1000, (lk[q]-t0)*1000, (t-t0)*1000; lk[q]=t } }
      /virtqueue_flush/ { q=0; if ($3==txq) q=2; if ($3==rxq) q=3; if (q) { if (lc[q] && t-lc[q]>0.015) printf "completion gap q%d: %8.3f ms, from %.3f to %.3f\n", q, (t-lc[q])*1000, (lc[q]-t0)*1000, (t-t0)*1000; lc[q]=t; n[q]++ } }
      END { printf "tx completions %d, rx completions %d\n", n[2], n[3] }' "$tr"
    echo "-- guest view"; grep -a -E '^== |XRUN|STALL|recover|underrun|overrun|DRAIN|DROP|HW_PARAMS ok|READI|WRITEI|aplay' "$OUT/$v.console.txt" || true
  } > "$OUT/$v.summary.txt"
  gzip -9 -n -c "$tr" > "$OUT/$v.trace.gz"
  [ -f "$SW/$v.wav" ] && gzip -9 -n -c "$SW/$v.wav" > "$OUT/$v.wav.gz"
  printf '%s host wall clock: qemu started %s, exited %s\n%s\n%s\n' "$v" "$s" "$e" "$SQVER" "$SKPKG" > "$OUT/$v.info.txt"
  sed -E 's/^[0-9]+@[0-9.]+:([a-z0-9_]+).*/\1/' "$SW"/*.trace | grep '^virtio_snd_' | sort -u > "$OUT/virtio_snd_events.fired.txt" || true
  log "$v: $(wc -l < "$tr") trace lines, $(grep -c virtio_snd_ "$tr") virtio_snd_* lines; guest steps: $(grep -ac '^== ' "$OUT/$v.console.txt"); xruns logged by guest: $(grep -ac 'XRUN\|underrun!!!\|overrun!!!' "$OUT/$v.console.txt"); $(since "$s") s"
}
