//===- runtime/driver/StopSignals.cpp - Ctrl-C, SIGTERM, SIGHUP in train -===//
#include "driver/StopSignals.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <sys/stat.h>
#include <unistd.h>

namespace grt {

volatile std::sig_atomic_t stopSignal = 0;

namespace {

// What the handler reads: lock-free atomics, and text that stays where it
// is for the rest of the process.
std::atomic<bool> speaking{false};
std::atomic<const char *> stopMessage{nullptr};
std::atomic<const char *> savedPath{nullptr}; // nullptr: no --save
std::atomic<int64_t> savedStep{-1};
std::atomic<bool> savedFinal{false};
// A save to savedPath under way: its step (-1: none), and the inode the
// path had when it began (0: no file). The save is recorded once renamed,
// but the rename can land between a second signal's look and the end of
// the process (the handler may run on another thread; the record follows
// the rename by a few instructions), so the line must not claim it lost.
std::atomic<int64_t> savingStep{-1};
std::atomic<uint64_t> savingOver{0};
/// Set once the first signal's line is written: a second signal handled on
/// another thread at the same moment waits for it, so that its own line,
/// and the end of the process, come after it (it raised the fatal signal
/// first, and the run ended with no word at all).
std::atomic<bool> firstSaid{false};

/// removeOnQuit's slots. A slot's path is written only while the slot is
/// free (`used` false), and the handler reads it only while it is taken.
struct QuitSlot {
  std::atomic<bool> used{false};
  QuitRemoval how = QuitRemoval::File;
  int fd = -1;
  char path[4096] = {};
};
QuitSlot quitSlots[kQuitSlots];

/// Removes what the slots name (unlink, rmdir, stat and fstat are
/// async-signal-safe).
void removeQuitFiles() {
  for (QuitSlot &q : quitSlots) {
    if (!q.used.load()) continue;
    struct stat named, held;
    switch (q.how) {
    case QuitRemoval::File: ::unlink(q.path); break;
    case QuitRemoval::Lock:
      if (::stat(q.path, &named) == 0 && ::fstat(q.fd, &held) == 0 && named.st_dev == held.st_dev &&
          named.st_ino == held.st_ino)
        ::unlink(q.path);
      break;
    case QuitRemoval::EmptyDir: ::rmdir(q.path); break;
    }
  }
}

/// The line a handler writes, gathered in a buffer on its stack (at most
/// one write for the usual path).
class Line {
public:
  Line &operator<<(const char *text) {
    for (; *text; ++text) {
      if (used == sizeof buf) flush();
      buf[used++] = *text;
    }
    return *this;
  }
  Line &operator<<(int64_t n) {
    char digits[24];
    int k = 0;
    do digits[k++] = char('0' + n % 10);
    while ((n /= 10) > 0);
    char text[24];
    for (int i = 0; i < k; ++i) text[i] = digits[k - 1 - i];
    text[k] = 0;
    return *this << text;
  }
  void flush() {
    for (size_t at = 0; at < used;) {
      ssize_t n = ::write(STDERR_FILENO, buf + at, used - at);
      if (n <= 0) break;
      at += size_t(n);
    }
    used = 0;
  }

private:
  char buf[512];
  size_t used = 0;
};

/// The second signal's line: what the checkpoint file holds as the
/// process quits.
void sayQuitting() {
  Line line;
  const char *path = savedPath.load();
  int64_t step = savedStep.load();
  struct stat st;
  int64_t saving = savingStep.load();
  bool landed = saving >= 0 && ::stat(path ? path : "", &st) == 0 && uint64_t(st.st_ino) != savingOver.load();
  if (!path)
    line << "\nquitting at once; nothing saved (no --save given)\n";
  else if (landed)
    line << "\nquitting at once, unsaved: " << path << " holds step " << saving << ", the last checkpoint saved\n";
  else if (saving >= 0 && step < 0)
    line << "\nquitting at once, unsaved: this run has saved nothing to " << path << " yet, or step " << saving
         << " if the save under way lands as the process ends\n";
  else if (step < 0)
    line << "\nquitting at once, unsaved: this run has saved nothing to " << path << " yet\n";
  else if (::stat(path, &st) != 0)
    line << "\nquitting at once, unsaved: the checkpoint of step " << step << " is no longer at " << path << "\n";
  else if (savedFinal.load())
    line << "\nquitting at once: " << path << " holds step " << step << ", the run's final checkpoint\n";
  else if (saving >= 0 && saving != step)
    line << "\nquitting at once, unsaved: " << path << " holds step " << step << ", the last checkpoint saved, or step "
         << saving << " if the save under way lands as the process ends\n";
  else
    line << "\nquitting at once, unsaved: " << path << " holds step " << step << ", the last checkpoint saved\n";
  line.flush();
}

/// Waits up to a second for `flag` (clock_gettime is async-signal-safe;
/// the other handler only has a write or an unlink to finish).
void awaitUpToASecond(const std::atomic<bool> &flag) {
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!flag.load()) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > 1) return;
  }
}

void onStopSignal(int sig) {
  int savedErrno = errno; // the interrupted code may be about to read it
  // A hang-up comes more than once (the kernel's to the foreground group,
  // and the shell's to its jobs): a second one is not a second Ctrl-C,
  // and quit the run unsaved.
  static std::atomic<bool> hungUp{false};
  if (sig == SIGHUP && hungUp.exchange(true)) {
    errno = savedErrno;
    return;
  }
  // A process-directed signal goes to any thread that does not block it, so
  // two signals sent back to back can run this handler on two threads at
  // once (the main thread and a library's, MPI's; the pool's workers and the
  // gradient exchange block them). The count decides which is first (a
  // lock-free atomic is safe here).
  static std::atomic<int> received{0};
  int before = received.fetch_add(1);
  if (before == 0) {
    stopSignal = sig;
    if (const char *message = stopMessage.load(); message && speaking.load()) {
      Line line;
      line << message;
      line.flush();
    }
    firstSaid = true;
    errno = savedErrno;
    return;
  }
  // The second quits, whichever it is (SA_RESETHAND would reset only the
  // one delivered), after saying what is lost. A third, during that, quits
  // too. The raised signal is blocked until this handler returns (both are
  // in its mask), and then fatal.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);
  if (before == 1 && speaking.load()) {
    awaitUpToASecond(firstSaid);
    sayQuitting();
  }
  if (before == 1) removeQuitFiles();
  std::raise(sig);
  errno = savedErrno;
}

/// Before the first step: the run has nothing to save yet, so a signal
/// quits it at once, removing what it made (the lock, an empty --plot
/// directory). It died with no word, and left the lock file.
void onStartupSignal(int sig) {
  static std::atomic<int> received{0};
  static std::atomic<bool> cleaned{false};
  if (received.fetch_add(1) == 0) {
    removeQuitFiles();
    if (speaking.load()) {
      Line line;
      line << "\nstopped before the first step; nothing trained or saved\n";
      line.flush();
    }
    cleaned = true;
  } else {
    // Another signal, on another thread at once: the process ends when the
    // first one's clean-up is done, not before (the lock stayed).
    awaitUpToASecond(cleaned);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);
  std::raise(sig);
}

/// Installs `handler` for SIGINT, SIGTERM and SIGHUP, each blocking the
/// others while it runs on a thread, except where the process started with
/// the signal ignored: under nohup (SIGHUP), and as a background job of a
/// script (SIGINT, which the shell ignores for it so that Ctrl-C stops the
/// foreground command only); a run there was stopped by the Ctrl-C meant
/// for another command.
void installStopHandler(void (*handler)(int)) {
  const int signals[3] = {SIGINT, SIGTERM, SIGHUP};
  // As the process started, before any handler of ours.
  static const std::array<bool, 3> ignored = [&] {
    std::array<bool, 3> r;
    for (int i = 0; i < 3; ++i) {
      struct sigaction old = {};
      r[i] = sigaction(signals[i], nullptr, &old) == 0 && old.sa_handler == SIG_IGN;
    }
    return r;
  }();
  struct sigaction sa = {};
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGHUP);
  for (int i = 0; i < 3; ++i)
    if (!ignored[i]) sigaction(signals[i], &sa, nullptr);
}

} // namespace

void quitOnStopSignals(bool speaks) {
  speaking = speaks;
  installStopHandler(onStartupSignal);
}

void catchStopSignals(bool speaks) {
  speaking = speaks;
  // A hang-up (the terminal closed, the ssh session dropped) stops the run
  // as SIGTERM does: it killed it, unsaved, with the lock file left.
  installStopHandler(onStopSignal);
}

void setStopMessage(const char *message) { stopMessage = message; }

void setSavedCheckpoint(const std::string &path, int64_t step, bool final) {
  // Every path the handler may have read stays allocated, and in place (a
  // deque does not move its elements): --save and, at most, where its last
  // save was rescued to.
  static auto *paths = new std::deque<std::string>;
  if (path.empty()) {
    savedPath = nullptr;
  } else {
    if (paths->empty() || paths->back() != path) paths->push_back(path);
    savedPath = paths->back().c_str();
  }
  savedStep = step;
  savedFinal = final;
  savingStep = -1;
}

void setSavingCheckpoint(const std::string &path, int64_t step) {
  const char *saved = savedPath.load();
  if (!saved || path != saved) return; // a rescue elsewhere: the line names --save
  struct stat st;
  savingOver = ::stat(saved, &st) == 0 ? uint64_t(st.st_ino) : 0;
  savingStep = step;
}

int removeOnQuit(const std::string &path, QuitRemoval how, int fd) {
  if (path.size() >= sizeof QuitSlot::path) return -1;
  // Round the slots, so a slot just freed is the last one taken again: a
  // handler still reading it (on another thread, for microseconds) is done
  // long before its path is written over (the fields are plain, written
  // only while the slot is free).
  static int next = 0;
  for (int tried = 0; tried < kQuitSlots; ++tried) {
    int i = next;
    next = (next + 1) % kQuitSlots;
    QuitSlot &q = quitSlots[i];
    if (q.used.load()) continue;
    q.how = how;
    q.fd = fd;
    std::memcpy(q.path, path.c_str(), path.size() + 1);
    q.used = true;
    return i;
  }
  return -1;
}

void forgetOnQuit(int slot) {
  if (slot >= 0 && slot < kQuitSlots) quitSlots[slot].used = false;
}

} // namespace grt
