/* blkzero DEVICE OFFSET LENGTH: zeroes a byte range of a block device with the BLKZEROOUT ioctl, which Linux turns
 * into WRITE_ZEROES requests when the device offers them (virtio-blk: VIRTIO_BLK_F_WRITE_ZEROES). Busybox's
 * blkdiscard has no -z. Runs inside the capture guest; built static by scripts/capture/initrd.sh. */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: blkzero DEVICE OFFSET LENGTH\n");
    return 2;
  }
  uint64_t range[2] = {strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0)};
  int fd = open(argv[1], O_WRONLY);
  if (fd < 0 || ioctl(fd, BLKZEROOUT, range) != 0) {
    perror(argv[1]);
    return 1;
  }
  printf("zeroed %llu bytes at %llu of %s\n", (unsigned long long)range[1], (unsigned long long)range[0], argv[1]);
  return close(fd) == 0 ? 0 : 1;
}
