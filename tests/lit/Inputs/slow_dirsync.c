/*===- tests/lit/Inputs/slow_dirsync.c - a busy disk, for LD_PRELOAD -----===*
 *
 * Each fsync of a directory takes 300 ms longer, as on a busy disk: the
 * window after a checkpoint is renamed into place, before the directory is
 * synced, becomes wide enough for a test to send signals into.
 *
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) usleep(300000);
  return real(fd);
}
