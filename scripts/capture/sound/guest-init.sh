#!/bin/busybox sh
# /init of the virtio-sound capture initramfs (runs inside the GUEST: trixie kernel, busybox, sndtest, aplay).
# Copied in by scripts/capture/sound.sh. vsnd.cap=1 on the kernel command line adds the capture steps C and D.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mark() { echo "== [uptime $(cut -d' ' -f1 /proc/uptime)] $*"; }
for m in soundcore snd snd-timer snd-pcm virtio_snd; do insmod /mods/$m.ko || echo "insmod $m failed"; done
sleep 1
mark "cards"; cat /proc/asound/cards /proc/asound/pcm; ls -l /dev/snd
P=$(ls /dev/snd/pcmC*p 2>/dev/null | head -1); C=$(ls /dev/snd/pcmC*c 2>/dev/null | head -1)
[ -n "$P" ] || { mark "no PCM device"; dmesg | grep -i -E 'snd|sound'; mark "done"; poweroff -f; }
mark "A: clean playback 2 s, 48 kHz S16_LE stereo, period 480 frames (10 ms) x 4 (buffer 40 ms)"
sndtest play $P 2 480 4
mark "A2: clean playback 2 s, period 240 frames (5 ms) x 4 (buffer 20 ms)"
sndtest play $P 2 240 4
mark "B: playback 3 s, period 480 x 4, writer stalls 300 ms at 1.0 s (buffer 40 ms) -> underrun, PREPARE, resume"
sndtest play $P 3 480 4 1000 300
if grep -q vsnd.cap=1 /proc/cmdline && [ -n "$C" ]; then
  mark "C: capture 1.5 s, period 480 x 4"
  sndtest cap $C 1.5 480 4
  mark "D: capture 2 s, period 480 x 4, reader stalls 300 ms at 0.8 s -> overrun, PREPARE+START, resume"
  sndtest cap $C 2 480 4 800 300
fi
mark "E: aplay (libasound, hw:0,0, period 480, buffer 1920) from a pipe that stalls 800 ms after 1 s of data (64 KiB pipe = 341 ms) -> underrun!!!"
( head -c 192000 /dev/zero; sleep 0.8; head -c 192000 /dev/zero ) | aplay -D hw:0,0 -t raw -f S16_LE -c 2 -r 48000 --period-size=480 --buffer-size=1920 - 2>&1
echo "aplay rc=$?"
mark "E done"
mark "kernel log (snd)"; dmesg | grep -i -E 'snd|sound' | tail -20
mark "done"; poweroff -f
