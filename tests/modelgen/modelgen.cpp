//===- tests/modelgen/modelgen.cpp - generate models, check, reduce -------===//
//
//   modelgen run --seed S --count N     generate N models and check each one
//   modelgen check FILE|DIR...          check given models (the regressions)
//   modelgen gen --seed S               print a generated model
//   modelgen translate FILE             print a model as PyTorch code
//   modelgen reduce FILE -o OUT         shrink a failing model
//
// Every model is checked in a child process (fork), so a crash, an
// internal error (exit 70) or a hang (past --timeout) is seen and reported
// like any other failure, and the campaign goes on. Oracles.h says what is
// checked; Generator.h what is generated; Reducer.h how a failure shrinks.
//
//===----------------------------------------------------------------------===//
#include "Generator.h"
#include "Oracles.h"
#include "Reducer.h"
#include "TorchTranslator.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace gradc::modelgen;
namespace cl = llvm::cl;

static cl::OptionCategory category("modelgen options");
static cl::SubCommand runCmd("run", "Generate models and check each one with every oracle");
static cl::SubCommand checkCmd("check", "Check the given .grad files (or every .grad file in a directory)");
static cl::SubCommand genCmd("gen", "Print generated models");
static cl::SubCommand translateCmd("translate", "Print a .grad model translated to PyTorch");
static cl::SubCommand reduceCmd("reduce", "Shrink a failing model while it fails the same way");

static cl::opt<uint64_t> seed("seed", cl::desc("First seed (default 1)"), cl::init(1), cl::sub(runCmd), cl::sub(genCmd),
                              cl::cat(category));
static cl::opt<uint64_t> count("count", cl::desc("How many models, from consecutive seeds (default 1)"), cl::init(1),
                               cl::sub(runCmd), cl::sub(genCmd), cl::cat(category));
static cl::opt<unsigned> jobs("jobs", cl::desc("Models checked at once, each in its own process (default 1)"), cl::init(1),
                              cl::sub(runCmd), cl::sub(checkCmd), cl::cat(category));
static cl::opt<unsigned> timeout("timeout", cl::desc("Seconds one model may take before it counts as a hang (default 120)"),
                                 cl::init(120), cl::sub(runCmd), cl::sub(checkCmd), cl::sub(reduceCmd), cl::cat(category));
static cl::opt<std::string> outDir("out", cl::desc("Write each failing model here, with what failed (default: modelgen-failures)"),
                                   cl::init("modelgen-failures"), cl::sub(runCmd), cl::cat(category));
static cl::opt<std::string> torchDir("torch", cl::desc("Also write PyTorch cases here, for torch_oracle.py"),
                                     cl::value_desc("dir"), cl::sub(runCmd), cl::sub(checkCmd), cl::cat(category));
static cl::opt<bool> reduceFailures("reduce", cl::desc("Shrink each failing model (writes NAME.reduced.grad beside it)"),
                                    cl::sub(runCmd), cl::cat(category));
static cl::opt<bool> quick("quick", cl::desc("Skip the f32 build and the rebuild from text (the smoke test's setting)"),
                           cl::sub(runCmd), cl::sub(checkCmd), cl::cat(category));
static cl::opt<bool> requireCoverage("require-coverage",
                                     cl::desc("Fail unless the generated models used every builtin, prelude function, "
                                              "operator and statement kind at least once"),
                                     cl::sub(runCmd), cl::cat(category));
static cl::list<std::string> inputs(cl::Positional, cl::desc("<model.grad | directory>..."), cl::sub(checkCmd),
                                    cl::sub(translateCmd), cl::sub(reduceCmd), cl::cat(category));
static cl::opt<std::string> output("o", cl::desc("Where the reduced model goes (default: NAME.reduced.grad)"),
                                   cl::value_desc("file"), cl::sub(reduceCmd), cl::cat(category));

namespace {

//===--- one check in a child process --------------------------------------===//

struct Child {
  pid_t pid = -1;
  std::string name, source, resultPath, errPath;
  std::chrono::steady_clock::time_point start;
  uint64_t seed = 0;
  std::map<std::string, int> features;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The last lines of a text, for a report.
std::string tail(const std::string &text, size_t lines = 12) {
  // Back over lines + 1 newlines (the text's own last one ends its last
  // line); a text with fewer lines, or none (a child that died silently), is
  // returned whole.
  size_t start = text.size();
  for (size_t n = 0; n <= lines; ++n) {
    size_t nl = start == 0 ? std::string::npos : text.rfind('\n', start - 1);
    if (nl == std::string::npos) return text;
    start = nl;
  }
  return text.substr(start + 1);
}

OracleOptions oracleOptions(const std::string &torch) {
  OracleOptions o;
  o.f32 = !quick;
  o.resume = !quick;
  o.torchDir = torch;
  return o;
}

Child spawn(const std::string &name, const std::string &source, const std::string &torch) {
  static int serial = 0;
  Child c;
  c.name = name;
  c.source = source;
  std::string base = fmt::format("{}/modelgen-{}-{}", llvm::sys::path::get_separator().str() == "/" ? "/tmp" : ".", getpid(), ++serial);
  c.resultPath = base + ".result";
  c.errPath = base + ".stderr";
  c.start = std::chrono::steady_clock::now();
  std::fflush(stdout);
  llvm::outs().flush();
  llvm::errs().flush();
  c.pid = fork();
  if (c.pid == 0) {
    // The child: stderr to a file, the verdict to another.
    FILE *err = std::freopen(c.errPath.c_str(), "w", stderr);
    (void)err;
    Verdict v = checkModel(source, name, oracleOptions(torch));
    std::ofstream out(c.resultPath);
    out << int(v.kind) << "\n" << v.oracle << "\n" << v.detail;
    out.close();
    std::fflush(stderr);
    _exit(0);
  }
  return c;
}

/// The verdict of a child that ended with `status`.
Verdict collect(const Child &c, int status) {
  Verdict v;
  std::string err = readFile(c.errPath);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    std::string r = readFile(c.resultPath);
    std::istringstream in(r);
    int kind = 0;
    in >> kind;
    in.ignore(1);
    std::getline(in, v.oracle);
    std::stringstream rest;
    rest << in.rdbuf();
    v.kind = Verdict::Kind(kind);
    v.detail = rest.str();
  } else if (WIFEXITED(status)) {
    v.kind = Verdict::InternalError;
    v.oracle = WEXITSTATUS(status) == 70 ? "internal error" : fmt::format("exit status {}", WEXITSTATUS(status));
    v.detail = tail(err);
  } else {
    v.kind = Verdict::Crash;
    v.oracle = fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    v.detail = tail(err);
  }
  std::remove(c.resultPath.c_str());
  std::remove(c.errPath.c_str());
  return v;
}

/// Waits for one of `running` to finish (or time out); returns its index
/// and verdict.
std::pair<size_t, Verdict> waitAny(std::vector<Child> &running) {
  while (true) {
    for (size_t i = 0; i < running.size(); ++i) {
      int status = 0;
      pid_t r = waitpid(running[i].pid, &status, WNOHANG);
      if (r == running[i].pid) return {i, collect(running[i], status)};
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - running[i].start).count();
      if (secs > timeout) {
        kill(running[i].pid, SIGKILL);
        waitpid(running[i].pid, &status, 0);
        collect(running[i], status);
        return {i, Verdict{Verdict::Hang, "time limit", fmt::format("still running after {} s", unsigned(timeout))}};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Verdict checkIsolated(const std::string &name, const std::string &source, const std::string &torch = "") {
  std::vector<Child> one{spawn(name, source, torch)};
  return waitAny(one).second;
}

bool failed(const Verdict &v) { return v.kind != Verdict::Pass && v.kind != Verdict::Discard; }

/// What makes two failures "the same" for the reducer: the kind, the
/// oracle, and for a compiler error its first line.
std::string signature(const Verdict &v) {
  std::string s = kindName(v.kind).str() + "/" + v.oracle;
  if (v.kind == Verdict::InternalError || v.kind == Verdict::Crash || v.kind == Verdict::CompileError) {
    llvm::StringRef d = v.detail;
    size_t at = d.find("error");
    if (at != llvm::StringRef::npos) d = d.substr(at);
    s += "/" + d.split('\n').first.str();
  }
  return s;
}

std::string describe(const Verdict &v) {
  std::string s = kindName(v.kind).str();
  if (!v.oracle.empty()) s += " (" + v.oracle + ")";
  return s;
}

/// The verdict as comment lines, for the top of a saved model.
std::string commentBlock(const std::string &first, const Verdict &v) {
  std::string out = "# " + first + "\n";
  std::istringstream in(v.detail);
  std::string line;
  for (int n = 0; n < 8 && std::getline(in, line); ++n) out += "#   " + line + "\n";
  return out;
}

std::string reduceFile(const std::string &name, const std::string &source, const Verdict &v) {
  std::string want = signature(v);
  int tries = 0;
  std::string reduced = reduceModel(
      source,
      [&](const std::string &candidate) {
        ++tries;
        return signature(checkIsolated(name, candidate)) == want;
      },
      [&](const std::string &step) { llvm::errs() << "  reduce: " << step << "\n"; });
  llvm::errs() << fmt::format("  reduced {} lines to {} in {} checks\n", std::count(source.begin(), source.end(), '\n'),
                              std::count(reduced.begin(), reduced.end(), '\n'), tries);
  return reduced;
}

void writeFile(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    llvm::errs() << "modelgen: cannot write " << path << ": " << ec.message() << "\n";
    std::exit(1);
  }
  os << text;
}

std::string duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", int(s) / 60, int(s) % 60);
  return fmt::format("{}h{:02}m", int(s) / 3600, int(s) / 60 % 60);
}

//===--- subcommands ----------------------------------------------------------------===//

int runCommand() {
  auto start = std::chrono::steady_clock::now();
  std::map<Verdict::Kind, int> byKind;
  std::map<std::string, int> byOracle, coverage;
  std::vector<std::string> failures;
  std::vector<Child> running;
  uint64_t next = seed, done = 0, end = seed + count;
  double lastReport = 0;
  if (!torchDir.empty()) llvm::sys::fs::create_directories(torchDir);
  while (done < count) {
    while (next < end && running.size() < std::max(1u, unsigned(jobs))) {
      GeneratedModel g = generateModel(next);
      for (auto &[f, n] : g.features) coverage[f] += n;
      Child c = spawn(fmt::format("gen{}.grad", next), g.source, torchDir);
      c.seed = next++;
      running.push_back(std::move(c));
    }
    auto [i, v] = waitAny(running);
    Child c = std::move(running[i]);
    running.erase(running.begin() + i);
    ++done;
    ++byKind[v.kind];
    if (failed(v)) {
      ++byOracle[describe(v)];
      llvm::sys::fs::create_directories(outDir);
      std::string path = fmt::format("{}/seed-{}.grad", outDir.getValue(), c.seed);
      writeFile(path, commentBlock(fmt::format("modelgen run --seed {}: {}", c.seed, describe(v)), v) + c.source);
      failures.push_back(path);
      llvm::errs() << fmt::format("FAIL seed {}: {}\n{}\n", c.seed, describe(v), tail(v.detail, 6));
      if (reduceFailures) {
        std::string reduced = reduceFile(c.name, c.source, v);
        std::string rpath = fmt::format("{}/seed-{}.reduced.grad", outDir.getValue(), c.seed);
        writeFile(rpath, commentBlock(fmt::format("modelgen run --seed {} (reduced): {}", c.seed, describe(v)), v) + reduced);
        llvm::errs() << "  wrote " << rpath << "\n";
      }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (secs - lastReport >= 10 || done == count) {
      lastReport = secs;
      llvm::errs() << fmt::format("modelgen: {}/{} models, {:.2f} s each: {} pass, {} discarded, {} failed; eta {}\n", done,
                                  uint64_t(count), secs / double(done), byKind[Verdict::Pass], byKind[Verdict::Discard],
                                  failures.size(), duration(secs / double(done) * double(count - done)));
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::outs() << fmt::format("{} models (seeds {}..{}) in {}: {} pass, {} discarded (not finite at the point), {} "
                              "rejected, {} failed\n",
                              uint64_t(count), uint64_t(seed), end - 1, duration(secs), byKind[Verdict::Pass],
                              byKind[Verdict::Discard], byKind[Verdict::Reject], failures.size() - byKind[Verdict::Reject]);
  for (auto &[what, n] : byOracle) llvm::outs() << fmt::format("  {:>6}  {}\n", n, what);
  for (auto &f : failures) llvm::outs() << "  failed: " << f << "\n";
  std::vector<std::string> missing;
  std::string cov;
  for (auto &f : allFeatures()) {
    if (!coverage.count(f)) missing.push_back(f);
    cov += fmt::format(" {} {}", f, coverage[f]);
  }
  llvm::outs() << "coverage (models using each feature):" << cov << "\n";
  if (!missing.empty()) {
    llvm::outs() << "never generated:";
    for (auto &m : missing) llvm::outs() << " " << m;
    llvm::outs() << "\n";
  }
  return failures.empty() && (!requireCoverage || missing.empty()) ? 0 : 1;
}

std::vector<std::string> modelFiles() {
  std::vector<std::string> files;
  for (auto &in : inputs) {
    if (!llvm::sys::fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    std::error_code ec;
    std::vector<std::string> found;
    for (llvm::sys::fs::directory_iterator it(in, ec), e; it != e && !ec; it.increment(ec))
      if (llvm::StringRef(it->path()).ends_with(".grad")) found.push_back(it->path());
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

int checkCommand() {
  int bad = 0;
  std::vector<std::string> files = modelFiles();
  if (files.empty()) {
    llvm::errs() << "modelgen: no .grad files to check\n";
    return 1;
  }
  for (auto &f : files) {
    auto buf = llvm::MemoryBuffer::getFile(f);
    if (!buf) {
      llvm::errs() << "modelgen: cannot read " << f << "\n";
      return 1;
    }
    Verdict v = checkIsolated(llvm::sys::path::filename(f).str(), (*buf)->getBuffer().str(), torchDir);
    bool ok = v.kind == Verdict::Pass;
    bad += !ok;
    llvm::outs() << fmt::format("{:<8} {}{}\n", ok ? "ok" : kindName(v.kind).str(), f, ok ? "" : ": " + describe(v));
    if (!ok) llvm::outs() << tail(v.detail, 10) << "\n";
  }
  llvm::outs() << fmt::format("{} models, {} failed\n", files.size(), bad);
  return bad ? 1 : 0;
}

int reduceCommand() {
  if (inputs.size() != 1) {
    llvm::errs() << "modelgen: reduce takes one model\n";
    return 1;
  }
  auto buf = llvm::MemoryBuffer::getFile(inputs[0]);
  if (!buf) {
    llvm::errs() << "modelgen: cannot read " << inputs[0] << "\n";
    return 1;
  }
  std::string name = llvm::sys::path::filename(inputs[0]).str(), source = (*buf)->getBuffer().str();
  Verdict v = checkIsolated(name, source);
  if (!failed(v)) {
    llvm::errs() << "modelgen: " << inputs[0] << " does not fail (" << kindName(v.kind) << "); nothing to reduce\n";
    return 1;
  }
  llvm::errs() << "reducing " << inputs[0] << ": " << describe(v) << "\n";
  std::string reduced = reduceFile(name, source, v);
  std::string path = output.empty() ? (llvm::StringRef(inputs[0]).drop_back(5) + ".reduced.grad").str() : output.getValue();
  writeFile(path, commentBlock("reduced by modelgen from " + name + ": " + describe(v), v) + reduced);
  llvm::outs() << path << "\n";
  return 0;
}

/// A compiler bug in the child ends it with a short message and status 70.
void internalError(void *, const char *reason, bool) {
  std::fprintf(stderr, "internal error: %s\n", reason);
  std::fflush(stderr);
  _exit(70);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::install_fatal_error_handler(internalError);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "modelgen: random valid models, checked against differential oracles.\n\n"
                              "  modelgen run --seed S --count N [--jobs J] [--reduce]   a campaign\n"
                              "  modelgen check FILE|DIR...                              check models\n"
                              "  modelgen gen --seed S [--count N]                       print models\n"
                              "  modelgen translate FILE                                 the model in PyTorch\n"
                              "  modelgen reduce FILE [-o OUT]                           shrink a failure\n\n"
                              "Each model is compiled in f64 at fusion levels 0 to 3 and in f32, its text IR\n"
                              "round-tripped after every pass, run at a random point and for a few training steps\n"
                              "with one and two threads, and its gradients compared with finite differences;\n"
                              "tests/modelgen/torch_oracle.py compares the cases --torch writes with PyTorch.\n");
  if (runCmd) return runCommand();
  if (checkCmd) return checkCommand();
  if (reduceCmd) return reduceCommand();
  if (genCmd) {
    for (uint64_t s = seed; s < seed + count; ++s) llvm::outs() << generateModel(s).source << "\n";
    return 0;
  }
  if (translateCmd) {
    for (auto &f : inputs) {
      auto buf = llvm::MemoryBuffer::getFile(f);
      std::string python, errors;
      if (!buf || !translateToTorch((*buf)->getBuffer(), f, python, errors)) {
        llvm::errs() << "modelgen: cannot translate " << f << "\n" << errors;
        return 1;
      }
      llvm::outs() << python;
    }
    return 0;
  }
  llvm::errs() << "modelgen: give a subcommand: run, check, gen, translate or reduce (see --help)\n";
  return 1;
}
