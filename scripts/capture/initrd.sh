# shellcheck shell=bash
# Builds the busybox initramfs for a kernel chosen with use_kernel (lib.sh). Sourced by scripts/capture.sh.

# Modules copied in (paths under lib/modules/KVER/kernel). The guest init loads whichever are present.
MODS_VIRTIO=(drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio drivers/block/virtio_blk
  net/core/failover drivers/net/net_failover drivers/net/virtio_net drivers/char/virtio_console drivers/char/hw_random/virtio-rng)
MODS_PCI=(drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci)
MODS_GPU=(drivers/virtio/virtio_dma_buf drivers/gpu/drm/drm drivers/gpu/drm/drm_kms_helper drivers/gpu/drm/drm_shmem_helper
  drivers/gpu/drm/virtio/virtio-gpu)
# the device variants (scsi, balloon, input): drivers whose devices the basic variants never have
MODS_MORE=(drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/scsi/sd_mod drivers/scsi/virtio_scsi
  drivers/virtio/virtio_balloon drivers/input/evdev drivers/virtio/virtio_input)

# build_initrd OUT.gz BUSYBOX MODSET... (MODSET: virtio pci gpu more tools) — uses KMODS; the init is
# scripts/capture/guest-init.sh. "tools" adds /bin/blkzero (scripts/capture/tools/blkzero.c, built static here).
build_initrd() {
  local out=$1 bb=$2; shift 2
  local rd; rd=$(mktemp -d "$WORK/rd.XXXXXX")
  mkdir -p "$rd/bin" "$rd/mods" "$rd/proc" "$rd/sys" "$rd/dev" "$rd/tmp"
  cp "$bb" "$rd/bin/busybox"; cp "$CAPTURE_LIB/guest-init.sh" "$rd/init"; chmod +x "$rd/init"
  local set m list=()
  for set in "$@"; do case $set in
    virtio) list+=("${MODS_VIRTIO[@]}") ;; pci) list+=("${MODS_PCI[@]}") ;; gpu) list+=("${MODS_GPU[@]}") ;;
    more) list+=("${MODS_MORE[@]}") ;;
    tools) need_pkgs gcc:gcc /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev /usr/include/linux/fs.h:linux-libc-dev
      gcc -static -Os -s -o "$rd/bin/blkzero" "$CAPTURE_LIB/tools/blkzero.c" || die "cannot build blkzero" ;; esac; done
  for m in "${list[@]}"; do
    if [ -f "$KMODS/$m.ko" ]; then cp "$KMODS/$m.ko" "$rd/mods/"
    elif [ -f "$KMODS/$m.ko.xz" ]; then xz -dc "$KMODS/$m.ko.xz" > "$rd/mods/${m##*/}.ko"   # busybox insmod reads no .xz
    else die "module $m.ko not in $KPKG"; fi
  done
  (cd "$rd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$out") || die "cpio failed"
  rm -rf "$rd"
}
