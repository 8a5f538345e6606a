//===- runtime/driver/AtomicFile.cpp - files written whole or not at all --===//
#include "driver/AtomicFile.h"

#include "driver/StopSignals.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <dirent.h>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace grt {

std::string temporaryName(const std::string &path, long pid) { return fmt::format("{}.tmp-{}", path, pid); }

std::string temporaryName(const std::string &path) { return temporaryName(path, long(getpid())); }

void removeStaleTemporaries(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string prefix = path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp-";
  DIR *d = opendir(dir.c_str());
  if (!d) return;
  while (dirent *e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    std::string_view digits = name.substr(prefix.size());
    long pid = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0 || pid == long(getpid())) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    std::string stale = temporaryName(path, pid);
    if (::unlink(stale.c_str()) == 0)
      fmt::print(stderr, "note: removed {}, left by an interrupted write (process {} no longer runs)\n", stale, pid);
  }
  closedir(d);
}

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
  // A second Ctrl-C while this runs quits at once: it removes the file.
  int slot = removeOnQuit(tmp, QuitRemoval::File);
  errno = 0;
  bool ok = body(fd) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  forgetOnQuit(slot);
  if (ok) return "";
  ::unlink(tmp.c_str());
  return std::strerror(err ? err : EIO);
}

std::string writeAtomically(const std::string &path, std::string_view contents) {
  return writeAtomically(path, [&](int fd) { return writeAll(fd, contents.data(), contents.size()); });
}

namespace {

struct Claim {
  std::string lockPath;
  int fd;
  int quitSlot; // removeOnQuit's
};
std::vector<Claim> &claims() {
  static std::vector<Claim> held;
  return held;
}
bool sameFile(const struct stat &a, const struct stat &b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

} // namespace

/// Each lock file this process holds is removed, if it is still the one it
/// locked (at exit, or once the last save is done).
void releaseClaims() {
  for (const Claim &c : claims()) {
    struct stat now, held;
    if (::stat(c.lockPath.c_str(), &now) == 0 && ::fstat(c.fd, &held) == 0 && sameFile(now, held))
      ::unlink(c.lockPath.c_str());
    forgetOnQuit(c.quitSlot);
    ::close(c.fd);
  }
  claims().clear();
}

std::string followLinks(const std::string &path) {
  std::filesystem::path p = path;
  std::error_code ec;
  for (int hops = 0; std::filesystem::is_symlink(p, ec); ++hops) {
    std::filesystem::path to = std::filesystem::read_symlink(p, ec);
    if (ec || hops == 40) {
      errno = ec ? ec.value() : ELOOP;
      return "";
    }
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  return p.string();
}

namespace {

/// Where PATH's writes land: a symbolic link's target (two runs saving to
/// one file through a link and its target each took a lock of its own),
/// or, for a file not made yet, the path under its directory's real name.
std::string writtenPath(std::string path) {
  if (char *real = ::realpath(path.c_str(), nullptr)) {
    std::string out = real;
    std::free(real);
    return out;
  }
  // A link to a file not saved yet (cclink.ckpt -> cc.ckpt before the
  // first save).
  if (std::string to = followLinks(path); !to.empty()) path = to;
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  char *real = ::realpath(dir.c_str(), nullptr);
  if (!real) return path;
  std::string out = std::string(real) + "/" + path.substr(slash == std::string::npos ? 0 : slash + 1);
  std::free(real);
  return out;
}

/// A lock file of ours holds a process id and a newline, or nothing yet.
/// Anything else at that name is somebody's file: it was truncated,
/// overwritten with the id and removed at exit (a CSV named model.lock
/// beside --save model, or a link to one).
bool looksLikeLock(int fd, const struct stat &st) {
  if (!S_ISREG(st.st_mode) || st.st_nlink > 1 || st.st_size > 24) return false;
  char text[32] = {};
  ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  if (n < 0) return false;
  ssize_t i = 0;
  while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
  return i == n || (i > 0 && i + 1 == n && text[i] == '\n');
}

} // namespace

std::string claimForWriting(const std::string &path, const std::string &what) {
  std::string lockPath = writtenPath(path) + ".lock";
  auto notALock = [&](const char *why) {
    return fmt::format("{} {}: {} {}, not a lock file of ours; move it away, or give this run another path", what,
                       path, lockPath, why);
  };
  // A holder that exits removes the file after another process opened it:
  // that one then holds a lock on a file no one else will open, so it
  // checks the name still leads to what it locked, and tries again if not.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0 && errno == ELOOP) return notALock("is a symbolic link");
    if (fd < 0 && errno == EISDIR) return notALock("is a directory");
    if (fd < 0) return "";
    struct stat locked {};
    if (::fstat(fd, &locked) != 0 || !looksLikeLock(fd, locked)) {
      ::close(fd);
      return notALock(!S_ISREG(locked.st_mode) ? "is not a regular file"
                      : locked.st_nlink > 1    ? "has other names (hard links)"
                                               : "holds other data");
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      // A file system without locks (ENOLCK, EINVAL) claims nothing.
      if (errno != EWOULDBLOCK) {
        ::close(fd);
        return "";
      }
      char text[32] = {};
      ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
      ::close(fd);
      long pid = n > 0 ? std::strtol(text, nullptr, 10) : 0;
      return fmt::format("{} {} is in use: another run ({}) is saving to it; give this run another path, or wait for "
                         "that one to end",
                         what, path, pid > 0 ? fmt::format("process {}", pid) : "another process");
    }
    struct stat named;
    if (::stat(lockPath.c_str(), &named) == 0 && sameFile(locked, named)) {
      std::string pid = fmt::format("{}\n", long(getpid()));
      if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
      claims().push_back({lockPath, fd, removeOnQuit(lockPath, QuitRemoval::Lock, fd)});
      static bool atExit = std::atexit(releaseClaims) == 0;
      (void)atExit;
      return "";
    }
    ::close(fd);
  }
  return "";
}

} // namespace grt
