//===- codegen/Link.cpp - object + runtime = executable -------------------===//
#include "codegen/Link.h"

#include "ir/SourceDiag.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"

#include <sys/resource.h>

namespace gradc {

static llvm::Error fail(const llvm::Twine &msg) { return llvm::createStringError(llvm::inconvertibleErrorCode(), msg); }

// Anchor for finding our own executable's path.
static int anchor;

std::string gradcExecutable() { return llvm::sys::fs::getMainExecutable(nullptr, &anchor); }

llvm::Expected<std::string> findRuntimeLibrary() {
  if (auto env = llvm::sys::Process::GetEnv("GRADC_RUNTIME")) {
    // A regular file, or the linker waited on a FIFO forever and printed
    // raw errors for a directory or /dev/null.
    std::string shown = "GRADC_RUNTIME=" + shownValue(*env);
    llvm::sys::fs::file_status st;
    if (llvm::sys::fs::status(*env, st)) return fail(shown + " does not exist");
    if (st.type() != llvm::sys::fs::file_type::regular_file)
      return fail(shown + " is no regular file; it names the runtime library, libgradrt.a");
    return *env;
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

/// The reason in a failed link's output: its first line that is not
/// collect2's summary, without the "/usr/bin/ld: " prefix, the temporary
/// `tmp` named as `output`, and the file-size limit named where it is the
/// cause ("File too large").
static std::string linkerReason(llvm::StringRef said, llvm::StringRef tmp, llvm::StringRef output) {
  llvm::SmallVector<llvm::StringRef, 8> lines;
  said.split(lines, '\n', -1, false);
  for (llvm::StringRef line : lines) {
    line = line.trim();
    if (line.empty() || line.starts_with("collect2:")) continue;
    if (size_t colon = line.find(": "); colon != llvm::StringRef::npos && line.substr(0, colon).ends_with("ld"))
      line = line.substr(colon + 2);
    std::string r = line.str();
    for (size_t at; (at = r.find(tmp.str())) != std::string::npos;) r.replace(at, tmp.size(), output.str());
    struct rlimit rl;
    if (line.contains("File too large") && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      r += " (the file-size limit, ulimit -f, is " + std::to_string(uint64_t(rl.rlim_cur) / 1024) + " KiB)";
    return r;
  }
  return "";
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
  auto cleanUp = llvm::make_scope_exit([&] {
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
  bool failed = false;
  int rc = 0;
  // gold (binutils, so wherever g++ is) links the GPT in 0.10 s against
  // 0.22 s for the default BFD ld: an eighth of `gradc build`. Newer
  // binutils may lack it or drop it; then, or if it fails, the default.
  if (llvm::sys::findProgramByName("ld.gold")) {
    args.push_back("-fuse-ld=gold");
    // Quietly: when gold fails, the default linker runs, and says why if
    // it fails too (both linkers' errors were printed, each naming the
    // temporary file). ("" redirects to /dev/null.)
    std::optional<llvm::StringRef> quiet[] = {std::nullopt, std::nullopt, llvm::StringRef("")};
    rc = llvm::sys::ExecuteAndWait(*cxx, args, std::nullopt, quiet, 0, 0, &err, &failed);
    if (!failed && rc == 0) return done();
    args.pop_back();
    err.clear(), failed = false;
  }
  // The linker's own lines (ld's, then collect2's "ld returned 1 exit
  // status") went to the terminal, naming the temporary file; they are
  // read back and the reason is said once, of OUTPUT.
  llvm::SmallString<128> log;
  bool logged = !llvm::sys::fs::createTemporaryFile("gradc-link", "log", log);
  std::optional<llvm::StringRef> toLog[] = {std::nullopt, std::nullopt, llvm::StringRef(log)};
  rc = llvm::sys::ExecuteAndWait(*cxx, args, std::nullopt, logged ? llvm::ArrayRef(toLog) : llvm::ArrayRef<std::optional<llvm::StringRef>>(),
                                 0, 0, &err, &failed);
  std::string said;
  if (logged) {
    if (auto text = llvm::MemoryBuffer::getFile(log)) said = (*text)->getBuffer().str();
    llvm::sys::fs::remove(log);
  }
  if (failed || rc != 0) {
    std::string why = linkerReason(said, out, output);
    return fail("linking " + output + " failed (" + *cxx + " exited with " + llvm::Twine(rc) + ")" +
                (why.empty() ? "" : ": " + why) + (err.empty() ? "" : ": " + err) +
                (llvm::sys::fs::exists(output) ? "; " + output + " is as it was" : std::string()));
  }
  return done();
}

} // namespace gradc
