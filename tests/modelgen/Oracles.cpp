//===- tests/modelgen/Oracles.cpp - differential checks of one model ------===//
#include "Oracles.h"

#include "TorchTranslator.h"

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "runtime/driver/Session.h"
#include "tools/GradCheck.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

namespace gradc::modelgen {

llvm::StringRef kindName(Verdict::Kind k) {
  switch (k) {
  case Verdict::Pass: return "pass";
  case Verdict::Discard: return "discard";
  case Verdict::Reject: return "reject";
  case Verdict::CompileError: return "compile-error";
  case Verdict::Mismatch: return "mismatch";
  case Verdict::InternalError: return "internal-error";
  case Verdict::Crash: return "crash";
  case Verdict::Hang: return "hang";
  }
  return "?";
}

namespace {

Verdict verdict(Verdict::Kind k, llvm::StringRef oracle, const std::string &detail) {
  return Verdict{k, oracle.str(), detail};
}

//===--- the point every build runs at --------------------------------------===//

/// Values by tensor name, as doubles: the inputs and parameters of the
/// random point, converted to each build's dtype when applied.
using Values = std::map<std::string, std::vector<double>>;

/// `# modelgen: input NAME in LO..HI`: the range of an integer input.
std::map<std::string, std::pair<int64_t, int64_t>> inputRanges(llvm::StringRef source) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  llvm::Regex re("#[ ]*modelgen:[ ]*input[ ]+([A-Za-z_][A-Za-z_0-9]*)[ ]+in[ ]+(-?[0-9]+)[.][.](-?[0-9]+)");
  llvm::SmallVector<llvm::StringRef, 4> m;
  llvm::StringRef rest = source;
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    if (!re.match(line, &m)) continue;
    int64_t lo = 0, hi = 1;
    m[2].getAsInteger(10, lo);
    m[3].getAsInteger(10, hi);
    if (hi > lo) out[m[1].str()] = {lo, hi};
  }
  return out;
}

Values makePoint(const GrtModel &model, llvm::StringRef source, uint64_t seed) {
  grt::Session s(model, 1);
  s.initParams(seed);
  grt::Rng rng(seed, grt::hashName("modelgen-point"));
  auto ranges = inputRanges(source);
  Values v;
  for (auto &sl : s.slots) {
    const GrtTensor &t = *sl.tensor;
    if (t.role != GRT_INPUT && t.role != GRT_PARAM) continue;
    // Names the gradient checker adds are not part of the model.
    if (llvm::StringRef(t.name).starts_with(GRT_FROZEN_PREFIX)) continue;
    auto &out = v[t.name];
    for (int64_t i = 0; i < sl.numel; ++i) {
      double x;
      if (t.role == GRT_PARAM) {
        x = grt::Session::get(sl, i) + 0.1 * rng.normal();
      } else if (t.dtype == GRT_I32) {
        // The range the source's annotation gives, else the one the
        // compiler found from the input's index uses (a hand-written model
        // has no annotation: every id was 0, and an embedding's gradient
        // one row), else 0 to 3.
        int64_t perRow = t.rank > 0 && t.dims[0] > 0 ? std::max<int64_t>(1, sl.numel / t.dims[0]) : 1;
        grt::Session::IndexRange found = grt::Session::indexRange(t, i % perRow);
        auto it = ranges.find(t.name);
        auto [lo, hi] = it != ranges.end() ? it->second
                        : found.bounded()  ? std::pair<int64_t, int64_t>{found.low, found.limit}
                                           : std::pair<int64_t, int64_t>{0, 4};
        x = double(lo + int64_t(rng.below(uint64_t(hi - lo))));
      } else if (t.dtype == GRT_BOOL) {
        x = double(rng.below(2));
      } else {
        x = rng.normal();
      }
      out.push_back(x);
    }
  }
  return v;
}

/// Where the range the compiler found for an annotated index input (what
/// the runtime refuses data outside) differs from the annotation's, which
/// is what the generator's uses take: "t: found 0..3, annotated 1..4".
/// "" when they agree, or the compiler found none (an input the model
/// reads through arithmetic, not as an index).
std::string indexRangeProblem(const GrtModel &model, llvm::StringRef source) {
  auto ranges = inputRanges(source);
  for (int i = 0; i < model.num_tensors; ++i) {
    const GrtTensor &t = model.tensors[i];
    auto it = ranges.find(t.name);
    if (t.role != GRT_INPUT || it == ranges.end()) continue;
    int64_t columns = 1;
    for (int r = 1; r < t.rank; ++r) columns *= t.dims[r];
    for (int64_t c = 0; c < columns; ++c) {
      grt::Session::IndexRange found = grt::Session::indexRange(t, c);
      if (found.bounded() && (found.low != it->second.first || found.limit != it->second.second))
        return fmt::format("{}: the compiler found {}..{}, the uses take {}..{}", t.name, found.low, found.limit - 1,
                           it->second.first, it->second.second - 1);
    }
  }
  return "";
}

void applyPoint(grt::Session &s, const Values &point) {
  for (auto &sl : s.slots) {
    const GrtTensor &t = *sl.tensor;
    if (t.role == GRT_STATE || t.role == GRT_OUTPUT) std::fill_n(static_cast<char *>(sl.data), sl.bytes, 0);
    if (t.role == GRT_HYPER) grt::Session::set(sl, 0, t.default_value);
    auto it = point.find(t.name);
    if (it == point.end()) continue;
    for (int64_t i = 0; i < sl.numel && i < int64_t(it->second.size()); ++i) grt::Session::set(sl, i, it->second[i]);
  }
}

//===--- what a build computes ------------------------------------------------===//

/// Every entry's results at the point, then a few training steps: keys
/// "point:grad.w", "eval:metric.acc", "predict:pred", "train2:loss",
/// "after:w.adam_m", ...
using Snapshot = std::map<std::string, std::vector<double>>;

/// split: train as a data-parallel process does, @grads then @apply (the
/// gradients stay in the Session's buffer between them), not @train.
Snapshot runBuild(const GrtModel &model, const Values &point, int threads, int steps, bool split = false) {
  grt::Session s(model, threads);
  Snapshot snap;
  auto take = [&](const std::string &prefix, auto pick) {
    for (auto &sl : s.slots) {
      if (!pick(*sl.tensor)) continue;
      llvm::StringRef name = sl.tensor->name;
      name.consume_front(GRT_OUTPUT_PREFIX);
      auto &out = snap[prefix + name.str()];
      out.resize(sl.numel);
      for (int64_t i = 0; i < sl.numel; ++i) out[i] = grt::Session::get(sl, i);
    }
  };
  auto outputs = [&](const char *entry) {
    const GrtEntry *e = s.entry(entry);
    std::vector<std::string> names = grt::splitList(e->outputs);
    return [names](const GrtTensor &t) {
      llvm::StringRef n = t.name;
      return n.consume_front(GRT_OUTPUT_PREFIX) && llvm::is_contained(names, n.str());
    };
  };
  applyPoint(s, point);
  for (const char *entry : {GRT_ENTRY_GRADS, "eval", "predict"}) {
    if (!s.has(entry)) continue;
    s.run(entry);
    take(std::string(entry == std::string(GRT_ENTRY_GRADS) ? "point" : entry) + ":", outputs(entry));
  }
  if (s.has("train")) {
    for (int step = 0; step < steps; ++step) {
      s.setHyper("step", step);
      s.setHyper("total_steps", steps);
      if (split) {
        s.run(GRT_ENTRY_GRADS);
        s.run(GRT_ENTRY_APPLY);
      } else {
        s.run("train");
      }
      take("train" + std::to_string(step) + ":", outputs("train"));
    }
    take("after:", [](const GrtTensor &t) {
      return (t.role == GRT_PARAM || t.role == GRT_STATE) && !llvm::StringRef(t.name).starts_with(GRT_FROZEN_PREFIX);
    });
  }
  return snap;
}

bool allFinite(const std::vector<double> &v) {
  return llvm::all_of(v, [](double x) { return std::isfinite(x); });
}

double maxAbs(const std::vector<double> &v) {
  double m = 0;
  for (double x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

/// What a value is, whatever tensor it belongs to: "point:grad" for every
/// gradient, "after:adam_v" for every second moment, "after:param" for the
/// parameters after training; other values are their own family.
std::string family(llvm::StringRef key) {
  auto [where, name] = key.split(':');
  if (name.starts_with(GRT_GRAD_PREFIX)) return (where + ":grad").str();
  for (llvm::StringRef state : {".adam_m", ".adam_v", ".momentum"})
    if (name.ends_with(state)) return (where + ":" + state.drop_front()).str();
  if (where == "after") return "after:param";
  return key.str();
}

/// The first element where `b` differs from the reference `a`, or "".
/// tol < 0 asks for equality bit for bit. The absolute floor scales with
/// the largest value of the tensor's family: a gradient that is zero in
/// exact arithmetic is rounding noise from terms the size of the others,
/// and so is Adam's first moment of it.
std::string compare(const Snapshot &a, const Snapshot &b, double tol) {
  std::map<std::string, double> scale;
  for (auto &[key, va] : a) scale[family(key)] = std::max(scale[family(key)], maxAbs(va));
  // Adam divides a gradient by its own root mean square, so the relative
  // rounding error of a gradient becomes an absolute error of the learning
  // rate times it in the parameter, whatever the parameter's size. A
  // gradient 1e-5 of the largest or less (zero in exact arithmetic, or
  // nearly: a saturated tanh) carries relative errors of 1e-11 and more.
  // Those elements of Adam-trained parameters are compared at the point
  // (their gradient), not after training.
  // When every gradient is zero in exact arithmetic (the variance of x + p
  // with respect to p: campaign seed 52495), the largest is noise too; so
  // the scale is at least 1e-8 of the loss, and a gradient below 1e-13 of
  // the loss is always rounding noise in f64.
  double gradScale = scale["point:grad"];
  if (auto it = a.find("point:loss"); it != a.end()) gradScale = std::max(gradScale, 1e-8 * maxAbs(it->second));
  std::map<std::string, std::vector<bool>> noise;
  for (auto &[key, va] : a) {
    llvm::StringRef name = key;
    if (!name.consume_front("point:" GRT_GRAD_PREFIX) || !a.count(("after:" + name + ".adam_m").str())) continue;
    auto &flags = noise[name.str()];
    for (double g : va) flags.push_back(std::fabs(g) <= 1e-5 * gradScale);
  }
  auto isNoise = [&](llvm::StringRef key, size_t i) {
    if (!key.consume_front("after:")) return false;
    for (llvm::StringRef state : {".adam_m", ".adam_v", ".momentum"}) key.consume_back(state);
    auto it = noise.find(key.str());
    return it != noise.end() && i < it->second.size() && it->second[i];
  };
  for (auto &[key, va] : a) {
    auto it = b.find(key);
    if (it == b.end()) return key + " is missing";
    const auto &vb = it->second;
    if (va.size() != vb.size()) return key + " has " + std::to_string(vb.size()) + " elements, not " + std::to_string(va.size());
    // Results the reference cannot compute finitely (a training step that
    // diverged) are not compared.
    if (!allFinite(va)) continue;
    // (1e-13 at the least: a loss that is zero in exact arithmetic, the
    // variance of equal values, is rounding noise of any size below that.)
    double floor = std::max(1e-2 * tol * scale[family(key)], 1e-3 * tol);
    for (size_t i = 0; i < va.size(); ++i) {
      double x = va[i], y = vb[i];
      bool same = tol < 0 ? std::memcmp(&x, &y, sizeof x) == 0
                          : std::fabs(x - y) <= tol * std::max(std::fabs(x), std::fabs(y)) + floor;
      if (!same && !isNoise(key, i)) return fmt::format("{}[{}] = {:.17g} vs {:.17g}", key, i, x, y);
    }
  }
  return "";
}

//===--- building -------------------------------------------------------------===//

struct Build {
  std::unique_ptr<Compiler> compiler;
  const GrtModel *model = nullptr;
};

/// The first line where two texts differ, for a round-trip failure.
std::string firstDifference(llvm::StringRef a, llvm::StringRef b) {
  for (int line = 1; !a.empty() || !b.empty(); ++line) {
    auto [la, ra] = a.split('\n');
    auto [lb, rb] = b.split('\n');
    if (la != lb) return fmt::format("line {}: '{}' printed back as '{}'", line, la.str(), lb.str());
    a = ra;
    b = rb;
  }
  return "";
}

/// print(parse(print(m))) == print(m), or what went wrong.
std::string roundTrip(const Module &m, std::unique_ptr<Module> *parsedOut = nullptr) {
  std::string text = toString(m), errors;
  llvm::raw_string_ostream es(errors);
  auto parsed = parseModule(text, "roundtrip.gir", es);
  if (!parsed) return "does not parse back: " + errors;
  std::string again = toString(*parsed);
  if (again != text) return firstDifference(text, again);
  if (parsedOut) *parsedOut = std::move(parsed);
  return "";
}

/// Compiles to a JIT model; round trip checks after every pass when asked.
/// `kernelsText`, when given, receives the module parsed back from its
/// kernels stage, for the resume oracle.
/// Fusion levels 0 to kTop (the default, passes/Pass.h): the top one is the
/// reference the others are compared with.
constexpr unsigned kTop = 3, kLevels = kTop + 1;

Verdict build(llvm::StringRef source, llvm::StringRef name, DType dtype, unsigned fusion, bool checkRoundTrip, Build &out,
              std::unique_ptr<Module> *kernelsParsed = nullptr) {
  CompileOptions o;
  o.input = name.str();
  o.sema.floatType = dtype;
  o.passes.fusionLevel = fusion;
  o.passes.gradsEntry = true;
  // The reference build also has @apply, for the split-step oracle, and
  // runs every kernel big enough for threads on them even when the whole
  // step is small, for the 1-vs-2-threads oracle.
  o.passes.dataParallel = fusion == kTop;
  o.schedule.oneThreadSmallEntries = fusion != kTop;
  // Half the models run every slice group that can in row blocks (of 1 or
  // 2 rows, so that the small generated models have several; single
  // slices too, which the default blocks only when huge), the other
  // half as the default does: whole slices, at their sizes.
  size_t pick = std::hash<std::string_view>{}(std::string_view(source.data(), source.size()));
  if (pick & 1) {
    o.passes.sliceBlockBytes = 1;
    o.passes.sliceBlockMinRows = pick & 2 ? 2 : 1;
    o.passes.singleSliceBlockBytes = 0; // single slices too
  }
  std::string diags;
  llvm::raw_string_ostream ds(diags);
  out.compiler = std::make_unique<Compiler>(o, ds);
  Compiler &c = *out.compiler;
  std::string what = fmt::format("{} fusion {}", dtypeName(dtype).str(), fusion);
  if (!c.load(source)) return verdict(Verdict::Reject, "frontend", diags);
  if (checkRoundTrip)
    if (auto e = roundTrip(*c.module); !e.empty()) return verdict(Verdict::Mismatch, "round trip", "graph stage: " + e);
  for (const std::string &pass : defaultPipeline()) {
    if (auto err = runPasses(*c.module, {pass}, o.passes))
      return verdict(Verdict::CompileError, "passes", what + ": " + llvm::toString(std::move(err)));
    if (!checkRoundTrip) continue;
    bool last = pass == defaultPipeline().back();
    if (auto e = roundTrip(*c.module, last ? kernelsParsed : nullptr); !e.empty())
      return verdict(Verdict::Mismatch, "round trip", "after pass " + pass + ": " + e);
  }
  if (!c.schedule() || !c.lower() || !c.optimize() || !(out.model = c.jit()))
    return verdict(Verdict::CompileError, "codegen", what);
  return {};
}

/// Compiles an already planned module (parsed from text) the rest of the way,
/// resuming the pipeline from the stage it records as `gradc build` does.
Verdict buildFrom(std::unique_ptr<Module> m, Build &out) {
  CompileOptions o;
  o.input = "resumed.gir";
  // The same schedule as the build it is compared with (build() above, at
  // fusion 3): a small entry run on the calling thread only has products
  // that sum differently (seed 93038: the last bits of a gradient).
  o.schedule.oneThreadSmallEntries = false;
  out.compiler = std::make_unique<Compiler>(o);
  out.compiler->module = std::move(m);
  Compiler &c = *out.compiler;
  if (!c.runPipeline() || !c.schedule() || !c.lower() || !c.optimize() || !(out.model = c.jit()))
    return verdict(Verdict::CompileError, "codegen", "the kernels stage parsed back from text");
  return {};
}

//===--- the oracles ------------------------------------------------------------===//

std::string gradientCheck(const GrtModel &model, const Values &point, uint64_t seed, const Snapshot &ref) {
  grt::Session s(model, 1);
  applyPoint(s, point);
  GradCheckOptions g;
  g.seed = seed;
  g.tolerance = 1e-5;
  // Finite differences see the loss's rounding error divided by the step:
  // about 1e-11 of |L| here. Gradients below the floor are held to an
  // absolute error of tolerance times it, so that noise never fails a
  // model, and neither do elements a millionth of the largest gradient.
  double largest = 0;
  for (auto &[key, v] : ref)
    if (llvm::StringRef(key).starts_with("point:" GRT_GRAD_PREFIX)) largest = std::max(largest, maxAbs(v));
  double loss = ref.count("point:loss") ? maxAbs(ref.at("point:loss")) : 0;
  g.absFloor = std::max({1e-6, 1e-6 * largest, 2e-6 * loss});
  g.samplesPerTensor = 6;
  g.maxElements = 60;
  GradCheckReport r = gradCheck(s, g);
  // A loss that ignores every parameter (or only sees them at kinks) proves
  // nothing either way.
  if (r.passed() || !r.anyNonZero) return "";
  std::string text;
  llvm::raw_string_ostream os(text);
  r.print(os);
  // The header and the failing rows first: the verdict shows the report's
  // last lines only, and a model of many params hid the row that failed
  // behind rows that were ok.
  llvm::SmallVector<llvm::StringRef, 16> lines, failing, rest;
  llvm::StringRef(text).split(lines, '\n', -1, false);
  for (size_t i = 1; i < lines.size(); ++i) (lines[i].contains(" FAIL") ? failing : rest).push_back(lines[i]);
  std::string out = lines.empty() ? "" : lines[0].str() + "\n";
  for (auto l : rest) out += l.str() + "\n";
  for (auto l : failing) out += l.str() + "\n";
  return out;
}

/// f32 against f64 at the point: per tensor, the largest difference within
/// 2e-3 of the tensor's largest magnitude (with a floor at 1e-3 of the
/// largest gradient anywhere, for gradients that are zero in exact
/// arithmetic and rounding noise in f32), or within 1e-4.
std::string compareF32(const Snapshot &f64, const Snapshot &f32) {
  double gradScale = 0;
  for (auto &[key, v] : f64)
    if (llvm::StringRef(key).starts_with("point:")) gradScale = std::max(gradScale, maxAbs(v));
  for (auto &[key, ref] : f64) {
    if (!llvm::StringRef(key).starts_with("point:")) continue;
    auto it = f32.find(key);
    if (it == f32.end()) return key + " is missing";
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      if (!(std::fabs(ref[i] - it->second[i]) <= worst)) worst = std::fabs(ref[i] - it->second[i]), at = i;
    double scale = std::max({maxAbs(ref), 1e-3 * gradScale, 1e-6});
    // And an absolute floor of 1e-4: f32's rounding of values near 1 is
    // ~1e-7, and a layer norm over a row of equal values (d = x - mean is 0
    // in f64, rounding noise in f32) divides it by sqrt(eps) ~ 3e-3 (seed
    // 30010), and a sum of a few such terms doubles or triples that: a
    // gradient that is 0 in exact arithmetic came out 2.3e-5 in f32 (seed
    // 105193: layer_norm of sum(where(x != 0.3, p, c), 0), every element
    // 3p). A code generation bug in f32 moves values of order 1 by far
    // more; the f64 oracles hold the small ones.
    if (!(worst <= 2e-3 * scale || worst <= 1e-4))
      return fmt::format("{}[{}] = {:.9g} in f64, {:.9g} in f32 (the tensor's largest magnitude is {:.3g})", key, at,
                         ref[at], it->second[at], maxAbs(ref));
  }
  return "";
}

llvm::json::Value tensorJson(const std::vector<double> &v, const GrtTensor &t) {
  llvm::json::Array shape, data;
  for (int i = 0; i < t.rank; ++i) shape.push_back(t.dims[i]);
  for (double x : v) data.push_back(x);
  return llvm::json::Object{{"shape", std::move(shape)}, {"dtype", grt::dtypeName(t.dtype)}, {"data", std::move(data)}};
}

/// NAME.py (the model in PyTorch) and NAME.json (the point and what our f64
/// build computed there), for torch_oracle.py.
std::string writeTorchCase(llvm::StringRef source, llvm::StringRef name, const std::string &dir, const GrtModel &model,
                           const Values &point, const Snapshot &ref) {
  std::string python, errors;
  llvm::sys::fs::create_directories(dir);
  std::string stem = dir + "/" + llvm::sys::path::stem(name).str();
  // Dropout's masks are our hash of (seed, step, call site, element), which
  // PyTorch has no way to draw; the other oracles check those models.
  // NAME.skip says so, so torch_oracle.py counts the model rather than
  // leave it out of its summary unsaid.
  if (source.contains("dropout(")) {
    std::error_code ec;
    llvm::raw_fd_ostream skip(stem + ".skip", ec);
    if (ec) return "cannot write " + stem + ".skip: " + ec.message();
    skip << "uses dropout, whose masks PyTorch cannot draw\n";
    return "";
  }
  if (!translateToTorch(source, name, python, errors)) return "cannot translate: " + errors;
  llvm::json::Object inputs, params, expect;
  for (int i = 0; i < model.num_tensors; ++i) {
    const GrtTensor &t = model.tensors[i];
    auto it = point.find(t.name);
    if (it == point.end()) continue;
    (t.role == GRT_INPUT ? inputs : params)[t.name] = tensorJson(it->second, t);
  }
  for (auto &[key, v] : ref) {
    llvm::StringRef k = key;
    if (!k.consume_front("point:") && !k.consume_front("eval:") && !k.consume_front("predict:")) continue;
    llvm::json::Array data;
    for (double x : v) data.push_back(x);
    expect[(key.substr(0, key.find(':')) + ":" + k).str()] = std::move(data);
  }
  std::error_code ec;
  llvm::raw_fd_ostream py(stem + ".py", ec);
  if (ec) return "cannot write " + stem + ".py: " + ec.message();
  py << python;
  llvm::raw_fd_ostream js(stem + ".json", ec);
  if (ec) return "cannot write " + stem + ".json: " + ec.message();
  js << llvm::json::Value(llvm::json::Object{{"inputs", std::move(inputs)}, {"params", std::move(params)},
                                              {"expect", std::move(expect)}});
  return "";
}

} // namespace

Verdict checkModel(llvm::StringRef source, llvm::StringRef name, const OracleOptions &opts) {
  // f64 at every fusion level; the last one also round-trips every stage.
  Build f64[kLevels];
  std::unique_ptr<Module> kernelsParsed;
  for (unsigned level = 0; level < kLevels; ++level) {
    bool last = level == kTop;
    Verdict v = build(source, name, DType::F64, level, last && opts.roundTrip, f64[level],
                      last && opts.resume ? &kernelsParsed : nullptr);
    if (v.kind != Verdict::Pass) return v;
  }
  if (std::string d = indexRangeProblem(*f64[kTop].model, source); !d.empty())
    return verdict(Verdict::Mismatch, "index range", d);
  Values point = makePoint(*f64[0].model, source, opts.seed);
  Snapshot ref = runBuild(*f64[kTop].model, point, 1, opts.trainSteps);
  // A value the model computes as inf or NaN at the point (an overflow)
  // leaves nothing to compare. A gradient that is not finite while the
  // loss and every output are is another thing: the generator keeps each
  // operand in its op's domain, so it comes from a rule's 0·∞ (x^y's
  // exponent at x = 0 once gave NaN, and these models were discarded).
  std::string forward, gradient;
  for (auto &[key, v] : ref) {
    llvm::StringRef k = key;
    if (!k.starts_with("point:") || allFinite(v)) continue;
    std::string &first = k.starts_with("point:" GRT_GRAD_PREFIX) ? gradient : forward;
    if (first.empty()) first = key;
  }
  if (!forward.empty()) return verdict(Verdict::Discard, "point", forward + " is not finite at the point");
  if (!gradient.empty())
    return verdict(Verdict::Mismatch, "gradients",
                   gradient + " is not finite at the point, though the loss and every output are (a rule's 0·inf?)");

  for (unsigned level = 0; level < kTop; ++level) {
    std::string d = compare(ref, runBuild(*f64[level].model, point, 1, opts.trainSteps), 1e-10);
    if (!d.empty()) return verdict(Verdict::Mismatch, "fusion", fmt::format("f64 fusion {} vs {}: {}", kTop, level, d));
  }
  if (opts.threads) {
    // Shuffled: a pseudo-random half of the loops run alone, one call over
    // the whole range, as while a worker is preempted; the rest split. Each
    // model is checked in a child process of its own, so the variable
    // reaches no other check.
    setenv("GRADC_THREADS_SHUFFLE", "1", 1);
    Snapshot two = runBuild(*f64[kTop].model, point, 2, opts.trainSteps);
    unsetenv("GRADC_THREADS_SHUFFLE");
    std::string d = compare(ref, two, -1);
    if (!d.empty()) return verdict(Verdict::Mismatch, "threads", "f64 fusion 3, 1 vs 2 threads: " + d);
  }
  // Data-parallel training runs the step as @grads, then @apply on the
  // gradients: the same arithmetic as @train, fused differently.
  if (grt::Session(*f64[kTop].model, 1).has(GRT_ENTRY_APPLY)) {
    std::string d = compare(ref, runBuild(*f64[kTop].model, point, 1, opts.trainSteps, true), 1e-10);
    if (!d.empty()) return verdict(Verdict::Mismatch, "split step", "@grads then @apply vs @train: " + d);
  }
  if (kernelsParsed) {
    Build resumed;
    Verdict v = buildFrom(std::move(kernelsParsed), resumed);
    if (v.kind != Verdict::Pass) return v;
    std::string d = compare(ref, runBuild(*resumed.model, point, 1, opts.trainSteps), -1);
    if (!d.empty()) return verdict(Verdict::Mismatch, "resume", "built from the kernels stage's text: " + d);
  }
  if (opts.gradients)
    if (std::string d = gradientCheck(*f64[kTop].model, point, opts.seed, ref); !d.empty())
      return verdict(Verdict::Mismatch, "gradients", d);
  // An f32 build when the source's floats are f32 (an explicit f64 stays f64),
  // and when nothing jumps: `a % d` and `a // d` jump where a crosses a
  // multiple of d, and an element within f32's rounding of a jump lands on
  // the other side than in f64, a whole period away (seed 109920: a
  // gradient of -0.0017 against -0.034). The f64 oracles check these models.
  if (opts.f32 && !source.contains("f64[") && !source.contains(" % ") && !source.contains(" // ")) {
    Build f32;
    Verdict v = build(source, name, DType::F32, 2, false, f32);
    if (v.kind != Verdict::Pass) return v;
    std::string d = compareF32(ref, runBuild(*f32.model, point, 1, 0));
    if (!d.empty()) return verdict(Verdict::Mismatch, "f32", d);
  }
  if (!opts.torchDir.empty())
    if (std::string d = writeTorchCase(source, name, opts.torchDir, *f64[kTop].model, point, ref); !d.empty())
      return verdict(Verdict::Mismatch, "torch", d);
  return {};
}

} // namespace gradc::modelgen
