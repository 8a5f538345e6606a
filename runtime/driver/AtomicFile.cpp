//===- runtime/driver/AtomicFile.cpp - files written whole or not at all --===//
#include "driver/AtomicFile.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace grt {

std::string temporaryName(const std::string &path, long pid) { return fmt::format("{}.tmp-{}", path, pid); }

std::string temporaryName(const std::string &path) { return temporaryName(path, long(getpid())); }

bool writeAll(int fd, const void *data, size_t n) {
  auto *p = static_cast<const char *>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

std::string writeAtomically(const std::string &path, const std::function<bool(int fd)> &body) {
  std::string tmp = temporaryName(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return std::strerror(errno);
  errno = 0;
  bool ok = body(fd) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (ok) return "";
  ::unlink(tmp.c_str());
  return std::strerror(err ? err : EIO);
}

std::string writeAtomically(const std::string &path, std::string_view contents) {
  return writeAtomically(path, [&](int fd) { return writeAll(fd, contents.data(), contents.size()); });
}

} // namespace grt
