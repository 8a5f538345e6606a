//===- codegen/Link.cpp - object + runtime = executable -------------------===//
#include "codegen/Link.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"

#include <atomic>
#include <csignal>
#include <cstring>
#include <cerrno>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// A signal to gradc alone (kill PID, timeout) while it links: LLVM's
// handler removes OUTPUT.tmp-PID, but the linker (a grandchild, under the
// compiler driver) went on and wrote it again, and gradc's exit left it
// behind. The link runs in a process group of its own, and the interrupt
// function, run by that handler after the removal, stops the group, waits
// for the driver, and removes the file once more. (Only async-signal-safe
// calls there.)
std::atomic<pid_t> linkerPid{0};
char linkerOutput[4096];

void stopLinker() {
  if (pid_t p = linkerPid.load(); p > 0) {
    ::kill(-p, SIGTERM); // (not SIGKILL: the driver and collect2 remove their own temporary files)
    ::waitpid(p, nullptr, 0);
  }
  if (linkerOutput[0]) ::unlink(linkerOutput);
  ::_exit(128 + SIGTERM);
}

/// Runs the link in a process group of its own; its exit status, or -1
/// when it could not start (`err` says why). `quietly`: its standard error
/// goes to /dev/null.
int runLinker(const std::string &program, llvm::ArrayRef<llvm::StringRef> args, std::string &err, bool quietly = false) {
  std::vector<std::string> owned(args.begin(), args.end());
  std::vector<char *> argv;
  for (auto &a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (quietly) posix_spawn_file_actions_addopen(&files, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int e = posix_spawn(&pid, program.c_str(), &files, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (e != 0) {
    err = "cannot run " + program + ": " + std::strerror(e);
    return -1;
  }
  linkerPid = pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  linkerPid = 0;
  if (WIFSIGNALED(status)) {
    err = std::string("killed by signal ") + std::to_string(WTERMSIG(status));
    return -2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

namespace gradc {

static llvm::Error fail(const llvm::Twine &msg) { return llvm::createStringError(llvm::inconvertibleErrorCode(), msg); }

// Anchor for finding our own executable's path.
static int anchor;

std::string gradcExecutable() { return llvm::sys::fs::getMainExecutable(nullptr, &anchor); }

llvm::Expected<std::string> findRuntimeLibrary() {
  if (auto env = llvm::sys::Process::GetEnv("GRADC_RUNTIME")) {
    if (llvm::sys::fs::exists(*env)) return *env;
    return fail("GRADC_RUNTIME=" + *env + " does not exist");
  }
  std::string self = gradcExecutable();
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(self));
  for (const char *rel : {"../runtime/libgradrt.a", "../lib/gradc/libgradrt.a", "libgradrt.a"}) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, rel);
    llvm::sys::path::remove_dots(p, true);
    if (llvm::sys::fs::exists(p)) return std::string(p);
  }
  return fail("cannot find the runtime library libgradrt.a next to " + self + "; set GRADC_RUNTIME to its path");
}

llvm::Error linkExecutable(llvm::ArrayRef<std::string> objects, llvm::StringRef output) {
  auto runtime = findRuntimeLibrary();
  if (!runtime) return runtime.takeError();
  llvm::ErrorOr<std::string> cxx = llvm::sys::findProgramByName("c++");
  if (!cxx) cxx = llvm::sys::findProgramByName("g++");
  if (!cxx) cxx = llvm::sys::findProgramByName("clang++");
  if (!cxx) return fail("no C++ compiler driver (c++, g++ or clang++) to link with; install g++");
  // The linker writes OUTPUT.tmp-PID, renamed over OUTPUT once whole: a
  // link that fails part way (a full disk, a file-size limit, Ctrl-C) left
  // a truncated file in place of a working executable.
  std::string out = (output + ".tmp-" + llvm::Twine(llvm::sys::Process::getProcessId())).str();
  llvm::sys::RemoveFileOnSignal(out);
  if (out.size() < sizeof linkerOutput) std::memcpy(linkerOutput, out.c_str(), out.size() + 1);
  llvm::sys::SetInterruptFunction(stopLinker);
  auto cleanUp = llvm::make_scope_exit([&] {
    llvm::sys::SetInterruptFunction(nullptr);
    linkerOutput[0] = 0;
    llvm::sys::fs::remove(out);
    llvm::sys::DontRemoveFileOnSignal(out);
  });
  auto done = [&]() -> llvm::Error {
    if (std::error_code ec = llvm::sys::fs::rename(out, output))
      return fail("cannot write " + output + ": " + ec.message());
    return llvm::Error::success();
  };
  llvm::SmallVector<llvm::StringRef, 13> args{*cxx};
  for (auto &o : objects) args.push_back(o);
  args.append({*runtime, "-o", out, "-lpthread", "-ldl", "-lm"});
  std::string err;
  int rc = 0;
  // gold (binutils, so wherever g++ is) links the GPT in 0.10 s against
  // 0.22 s for the default BFD ld: an eighth of `gradc build`. Newer
  // binutils may lack it or drop it; then, or if it fails, the default.
  if (llvm::sys::findProgramByName("ld.gold")) {
    args.push_back("-fuse-ld=gold");
    // Quietly: when gold fails, the default linker runs, and says why if
    // it fails too (both linkers' errors were printed, each naming the
    // temporary file).
    rc = runLinker(*cxx, args, err, /*quietly=*/true);
    if (rc == 0) return done();
    args.pop_back();
    err.clear();
  }
  rc = runLinker(*cxx, args, err);
  if (rc != 0)
    return fail("linking " + output + " failed (" + *cxx + " exited with " + llvm::Twine(rc) + ")" +
                (err.empty() ? "" : ": " + err) +
                (llvm::sys::fs::exists(output) ? "; " + output + " is as it was" : std::string()));
  return done();
}

} // namespace gradc
