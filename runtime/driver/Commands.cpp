//===- runtime/driver/Commands.cpp - option handling shared by the commands ===//
#include "driver/Commands.h"
#include "driver/Cluster.h"
#include "driver/DataParallel.h"
#include "core/Gemm.h"
#include "gradrt/hypers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sched.h>
#include <filesystem>
#include <sys/stat.h>
#include <thread>

namespace grt {

/// The CPUs this process may run on (its affinity mask, which containers
/// and taskset narrow), else what the hardware reports.
static int availableCores() {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  int hw = int(std::thread::hardware_concurrency());
  return hw > 0 ? hw : 1;
}

int threadsOption(const Args &a) {
  // Workers spin while they wait for the next parallel loop, so a thread
  // more than there are cores only takes time from the others (64 threads
  // on 2 cores ran 80 times slower). Results are the same for any count, so
  // capping loses nothing.
  constexpr int64_t kMaxThreads = 4096;
  int cores = availableCores();
  // The processes of a data-parallel run on one machine share its cores
  // (mpirun usually binds each to its own, and then `cores` is 1 already).
  int share = std::max(1, cores / Cluster::get().localSize);
  int64_t asked = a.integer("threads", share, 1, kMaxThreads);
  if (asked > cores) {
    fmt::print(stderr, "note: --threads {} is more than the {} core{} this process may use; using {}\n", asked, cores,
               cores == 1 ? "" : "s", cores);
    return cores;
  }
  return int(asked);
}

std::string precisionOption(const Args &a, const GrtModel &m) {
  std::string p = a.str("precision", "f32");
  setPrecision(p, m, "--precision");
  return p;
}

void setPrecision(const std::string &p, const GrtModel &m, const char *from) {
  if (p == "f32") return setMatmulPrecision(MatmulPrecision::F32);
  if (p != "bf16") fail("{} must be f32 or bf16, not '{}'", from, p);
  if (!gemmBf16Supported())
    fail("{} bf16 needs a CPU with AVX-512 BF16 (VDPBF16PS), and this one has none; train in f32", from);
  if (!(modelProducts(m) & GRT_PRODUCTS_F32))
    fmt::print(stderr, "note: {} bf16 changes nothing here: it rounds the operands of f32 matrix products with no side "
               "under 5, and this model has none\n", from);
  setMatmulPrecision(MatmulPrecision::BF16);
}

int32_t modelProducts(const GrtModel &m) {
  int32_t bits = 0;
  for (int32_t i = 0; i < m.num_entries; ++i) bits |= m.entries[i].products;
  return bits;
}

std::string dataPath(const Args &a) {
  // `-` is standard input, as for gradc itself; the data is read once.
  std::string path = a.str("data");
  // mpirun forwards standard input to rank 0 alone (the others read
  // /dev/null), so every process stops here, before any reads it: rank 1
  // said "cannot read /dev/stdin: not a regular file".
  if (path == "-" && Cluster::get().parallel())
    fail("--data -: under mpirun, standard input reaches rank 0 only, so the other processes cannot read the data; "
         "pass it as a file (--data FILE)");
  return path == "-" ? "/dev/stdin" : path;
}

DataOptions dataOptions(const Args &a) {
  DataOptions d;
  d.path = dataPath(a);
  d.valFraction = a.number("val-frac", 0.1);
  if (d.valFraction < 0 || d.valFraction >= 1) fail("--val-frac must be in [0, 1), not {}", d.valFraction);
  d.seed = uint64_t(a.integer("seed", 0, 0));
  if (a.has("val-batches")) d.valBatches = int(a.integer("val-batches", 8, 1, 100000));
  d.tokenizer = a.str("tokenizer");
  d.writesCache = Cluster::get().leader();
  return d;
}

void applyHypers(Session &s, const Args &a) {
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_HYPER) Session::set(sl, 0, sl.tensor->default_value);
  // The values training descends with: gradrt/hypers.h.
  auto checkRange = [&](const std::string &name, double v, const std::string &flag) {
    if (const char *why = hyperRangeError(name.c_str(), v, s.hyperInF32(s.find(name)))) fail("{} {}, not {}", flag, why, v);
  };
  if (a.has("lr") && s.find("lr") < 0) fail("this model has no learning rate to set");
  if (a.has("lr")) checkRange("lr", a.number("lr", 0), "--lr");
  if (a.has("lr")) s.setHyper("lr", a.number("lr", 0));
  auto hps = a.all("hp");
  // Two flags for one value: --hp lr won, whatever the order, silently.
  if (a.has("lr") && std::any_of(hps.begin(), hps.end(), [](const std::string &kv) { return kv.rfind("lr=", 0) == 0; }))
    fail("--lr and --hp lr both set the learning rate: give one");
  std::vector<std::string> named;
  for (auto &kv : hps) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) fail("--hp takes NAME=VALUE, not '{}'", kv);
    std::string name = kv.substr(0, eq);
    if (std::find(named.begin(), named.end(), name) != named.end())
      fail("--hp {} is given twice: give it once", name);
    named.push_back(name);
    double v = 0;
    switch (parseReal(kv.substr(eq + 1), v)) {
    case NumberText::Malformed: fail("--hp {}: '{}' is not a number", name, kv.substr(eq + 1));
    case NumberText::OutOfRange:
      fail("--hp {}: {} is out of range: {}", name, kv.substr(eq + 1), kRealRange);
    case NumberText::Ok: break;
    }
    // Whether the model has it before whether the value fits: --hp
    // momentum=2 on a model without momentum said "must be less than 1".
    if (int i = s.find(name); i >= 0 && Session::setByRuntime(*s.slots[size_t(i)].tensor))
      fail("--hp cannot set '{}'; the runtime sets it", name);
    if (int i = s.find(name); i < 0 || !Session::isUserHyper(*s.slots[size_t(i)].tensor)) {
      std::string known;
      for (auto &sl : s.slots)
        if (Session::isUserHyper(*sl.tensor))
          known += (known.empty() ? "" : ", ") + std::string(sl.tensor->name);
      // A momentum, clip or warmup of 0 in the train statement compiles that
      // part of the update out, though `info` lists it as 0.
      std::string_view optimizer = s.model.optimizer ? s.model.optimizer : "";
      if (name == "min_lr" && optimizerArgument(optimizer, "decay") == "none")
        fail("--hp min_lr: the model was built with decay = none, so no decay reaches a min_lr; give its train "
             "statement decay = \"cosine\" to set it with --hp (the model has: {})",
             known);
      std::string built = optimizerArgument(optimizer, name);
      double zero = 1;
      if (!built.empty() && parseReal(built, zero) == NumberText::Ok && zero == 0)
        fail("--hp {}: the model was built with {} = 0, which leaves it out of the compiled update; give it a "
             "non-zero value in the model's train statement to set it with --hp (the model has: {})",
             name, name, known);
      if (!built.empty() && parseReal(built, zero) != NumberText::Ok)
        fail("--hp {}: the model was built with {} = {}, a choice made when it is compiled, not a number --hp can "
             "set; change the model's train statement (the model has: {})",
             name, name, built, known);
      fail("--hp {}: the model has no hyperparameter '{}' (it has: {})", name, name, known);
    }
    checkRange(name, v, "--hp " + name + ":");
    s.setHyper(name, v);
  }
}

uint64_t modelSeed(const Args &a, const Metadata &meta, const std::string &from) {
  if (a.has("seed")) return uint64_t(a.integer("seed", 0, 0));
  // A safetensors file another tool wrote has no seed: there is no run to follow.
  return meta.count("seed") ? checkpointSeed(meta, from) : 0;
}

void seedBatch(Session &s, uint64_t seed, int64_t batch) {
  s.setHyper("seed", randomSeedWord(seed, 0));
  s.setHyper("step", double(batch));
}

std::string optimizerArgument(std::string_view optimizer, std::string_view name) {
  // GrtModel.optimizer is "adamw(lr = 0.001, decay = cosine, ...)": the
  // argument is the whole of a "NAME = VALUE" item, not a suffix of another
  // name's ("_lr" is not "min_lr").
  size_t open = optimizer.find('('), close = optimizer.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return "";
  std::string_view args = optimizer.substr(open + 1, close - open - 1);
  while (!args.empty()) {
    size_t comma = args.find(", ");
    std::string_view item = args.substr(0, comma);
    if (size_t eq = item.find(" = "); eq != std::string_view::npos && item.substr(0, eq) == name)
      return std::string(item.substr(eq + 3));
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 2);
  }
  return "";
}

std::string humanCount(double x) {
  if (x >= 1e9) return fmt::format("{:.1f}G", x / 1e9);
  if (x >= 1e6) return fmt::format("{:.1f}M", x / 1e6);
  if (x >= 1e3) return fmt::format("{:.1f}k", x / 1e3);
  return fmt::format("{:.0f}", x);
}

/// Whether paths a and b are one existing file (device and inode).
static bool sameFile(const std::string &a, const std::string &b, struct stat *st = nullptr) {
  struct stat x, y;
  if (a.empty() || b.empty() || stat(a.c_str(), &x) != 0 || stat(b.c_str(), &y) != 0) return false;
  if (st) *st = x;
  return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

void refuseOverwritingInput(const std::string &out, const char *outWhat, const std::string &in, const char *inWhat) {
  struct stat o;
  if (sameFile(out, in, &o) && S_ISREG(o.st_mode))
    fail("{} {} is the file {} {} reads; writing it would destroy it: choose another path", outWhat, out, inWhat, in);
}

void refuseOverwritingCorpus(const std::string &out, const char *outWhat, const std::string &corpus, bool isDefault,
                             bool directory) {
  struct stat st;
  if (out.empty() || corpus.empty() || stat(corpus.c_str(), &st) != 0) return;
  const char *unset = isDefault ? " (read when --data is not given)" : "";
  if (!S_ISDIR(st.st_mode)) {
    struct stat o;
    if (sameFile(out, corpus, &o) && S_ISREG(o.st_mode))
      fail("{} {} is {} {}{}; writing it would destroy it: choose another path", outWhat, out,
           isDefault ? "the model's default corpus" : "the file --data", corpus, isDefault ? unset : " reads");
    return;
  }
  std::string dir = fmt::format("{} {}{}", isDefault ? "the model's default corpus directory" : "the directory --data",
                                corpus, unset);
  namespace fs = std::filesystem;
  std::error_code ea, eb;
  fs::path target = canonicalPath(out, ea), canonical = canonicalPath(corpus, eb);
  // "plots/" names the directory plots, whose parent is the corpus's.
  if (!target.has_filename()) target = target.parent_path();
  if (!ea && !eb && target.parent_path() == canonical)
    fail("{} {} is {}in {}, whose files are the text; {}: choose a path outside it", outWhat, out,
         directory ? "a directory " : "", dir,
         directory ? "no output goes in a corpus directory" : "writing there would replace or join them");
  // The same file under another name: a hard link from outside.
  for (const fs::directory_entry &e : fs::directory_iterator(corpus, ea)) {
    struct stat o;
    if (sameFile(out, e.path().string(), &o) && S_ISREG(o.st_mode))
      fail("{} {} is the file {} of {}; writing it would destroy it: choose another path", outWhat, out,
           e.path().string(), dir);
  }
}

void refuseOverwritingProgram(const std::string &out, const char *outWhat) {
  if (sameFile(out, "/proc/self/exe"))
    fail("{} {} is this program's own executable; writing it would destroy it: choose another path", outWhat, out);
}

std::filesystem::path canonicalPath(const std::string &p, std::error_code &ec) {
  // Absolute first: weakly_canonical leaves a relative path whose first
  // part does not exist as it is, so `--save x.ckpt` run inside the corpus
  // directory had no parent there, and was let in (its lock file, holding
  // a PID, was then read as text).
  std::filesystem::path abs = std::filesystem::absolute(p, ec);
  return ec ? abs : std::filesystem::weakly_canonical(abs, ec);
}

bool samePlace(const std::string &a, const std::string &b) {
  std::error_code ea, eb;
  auto pa = canonicalPath(a, ea), pb = canonicalPath(b, eb);
  return !ea && !eb && pa == pb;
}

std::string humanBytes(double x) {
  if (x >= 1 << 20) return sizeText(x);
  if (x >= 1 << 10) return fmt::format("{:.1f} KiB", x / (1 << 10));
  return fmt::format("{:.0f} B", x);
}

EvalResult evaluate(Session &s, Dataset &d, uint64_t seed, const volatile std::sig_atomic_t *stop, bool notes) {
  EvalResult r;
  // Training's seed word (its process's) and step, put back at the end.
  std::vector<std::pair<int, double>> kept;
  for (const char *name : {"seed", "step"})
    if (int i = s.find(name); i >= 0) kept.push_back({i, Session::get(s.slots[size_t(i)], 0)});
  const GrtEntry *e = s.entry("eval");
  if (!e) fail("the model has no eval entry");
  std::vector<std::string> outs = splitList(e->outputs);
  // A batch standing for k rows adds k times its mean: the sum over them.
  std::vector<double> sums(outs.size(), 0);
  double rows = 0;
  r.batches = d.numValBatches();
  // The processes of a data-parallel run take every size-th batch each;
  // their sums are added in rank order, so every process gets the same.
  Cluster &c = Cluster::get();
  // (A process that stops early still joins the sums below, so the others
  // are not left waiting.)
  // A large split takes minutes (a 2 GB corpus: 1.3 million windows of a
  // tiny model ran 2 minutes with no word, like a hang): past 10 s, a line
  // on stderr now and then says how far it is.
  using Clock = std::chrono::steady_clock;
  Clock::time_point begin = Clock::now(), nextNote = begin + std::chrono::seconds(10);
  for (int64_t i = c.rank; i < r.batches && !(stop && *stop); i += c.size) {
    double k = d.fillValBatch(s, i);
    seedBatch(s, seed, i);
    s.run("eval");
    for (size_t j = 0; j < outs.size(); ++j) {
      // A batch with a negative weight subtracts rows an earlier one added
      // (evalBatches): an infinite row would give inf - inf = NaN, where
      // the mean over the rows is inf. Not finite, it adds with |weight|.
      double v = s.scalar(outputTensor(outs[j]));
      sums[j] += std::isfinite(v) ? k * v : std::fabs(k) * v;
    }
    rows += k;
    if (Clock::time_point now = Clock::now(); notes && now >= nextNote && c.leader()) {
      double spent = std::chrono::duration<double>(now - begin).count(), done = double(i + 1) / double(r.batches);
      fmt::print(stderr, "validating: batch {} of {} ({:.1f}%), {:.0f} s so far, about {:.0f} s to go\n", i + 1,
                 r.batches, 100 * done, spent, spent / done - spent);
      // Every 10 s for the first minute, then every minute.
      nextNote = now + std::chrono::seconds(spent < 60 ? 10 : 60);
    }
  }
  for (auto [i, v] : kept) Session::set(s.slots[size_t(i)], 0, v);
  if (c.parallel()) {
    for (double &x : sums) x = c.sum(x);
    rows = c.sum(rows);
  }
  for (size_t j = 0; j < outs.size(); ++j) {
    double mean = rows > 0 ? sums[j] / rows : NAN;
    if (outs[j] == "loss") r.loss = mean;
    else r.metrics.push_back({std::string(withoutPrefix(outs[j], GRT_METRIC_PREFIX)), mean});
  }
  return r;
}

std::string bitsPerByte(const Dataset &d, double loss) {
  double bpt = d.bytesPerToken();
  if (bpt <= 0 || !std::isfinite(loss)) return "";
  return fmt::format(" ({:.4f} bits/byte)", loss / std::log(2.0) / bpt);
}

} // namespace grt
