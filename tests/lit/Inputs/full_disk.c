/*===- tests/lit/Inputs/full_disk.c - writes that fail, for LD_PRELOAD ---===*
 *
 * Every write(2) to a file whose path holds $FAIL_WRITES fails with EFBIG
 * ("File too large"), as a full disk or a file-size limit fails a save
 * mid-run. (ulimit -f did this until train checked the limit before the
 * first step, header and loss history included.)
 *
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  const char *match = getenv("FAIL_WRITES");
  if (match && *match && fd > 2) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    if (len > 0) {
      path[len] = 0;
      if (strstr(path, match)) {
        errno = EFBIG;
        return -1;
      }
    }
  }
  return real(fd, buf, n);
}
