//===- tools/GradCheck.cpp - symbolic gradients against finite differences ===//
#include "GradCheck.h"

#include "runtime/Data.h"
#include "runtime/Session.h"

#include <fmt/format.h>

#include <cmath>

namespace gradc {

bool GradCheckReport::passed() const {
  if (!anyNonZero) return false;
  for (auto &t : tensors)
    if (!(t.maxRel <= tolerance)) return false;
  return true;
}

void GradCheckReport::print(llvm::raw_ostream &os) const {
  os << fmt::format("{:<28} {:<14} {:>7} {:>12} {:>12} {:>12}\n", "parameter", "shape", "checked", "max |grad|",
                    "max abs err", "max rel err");
  for (auto &t : tensors)
    os << fmt::format("{:<28} {:<14} {:>7} {:>12.3e} {:>12.3e} {:>12.3e}  {}\n", t.name, t.shape, t.checked, t.maxGrad,
                      t.maxAbs, t.maxRel, t.maxRel <= tolerance ? "ok" : "FAIL");
  if (!anyNonZero) os << "FAIL: every gradient is zero; the check proves nothing\n";
  os << (passed() ? "gradient check passed" : "gradient check FAILED") << fmt::format(" (tolerance {:.0e} relative)\n", tolerance);
}

void prepareSession(grt::Session &s, uint64_t seed, double noise) {
  grt::Rng rng(seed, grt::hashName("gradcheck"));
  if (s.model.data_kind != GRT_DATA_NONE) {
    grt::DataOptions d;
    d.seed = seed;
    d.valFraction = 0;
    grt::loadData(s, d)->nextTrainBatch(s);
  } else {
    for (auto &sl : s.slots)
      if (sl.tensor->role == GRT_INPUT && (sl.tensor->dtype == GRT_F64 || sl.tensor->dtype == GRT_F32))
        for (int64_t i = 0; i < sl.numel; ++i) grt::Session::set(sl, i, rng.normal());
  }
  s.initParams(seed);
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_PARAM)
      for (int64_t i = 0; i < sl.numel; ++i) grt::Session::set(sl, i, grt::Session::get(sl, i) + noise * rng.normal());
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_HYPER) grt::Session::set(sl, 0, sl.tensor->default_value);
}

GradCheckReport gradCheck(const GrtModel &model, const GradCheckOptions &opts) {
  grt::Session s(model, 1);
  grt::Rng rng(opts.seed, grt::hashName("gradcheck-samples"));
  prepareSession(s, opts.seed, opts.noise);

  s.run("grads");
  GradCheckReport report;
  report.tolerance = opts.tolerance;
  auto loss = [&] {
    s.run("eval");
    return s.scalar("output:loss");
  };
  for (auto &sl : s.slots) {
    if (sl.tensor->role != GRT_PARAM) continue;
    auto &g = s.slot(std::string("output:grad.") + sl.tensor->name);
    std::vector<double> analytic(g.numel);
    for (int64_t i = 0; i < g.numel; ++i) analytic[i] = grt::Session::get(g, i);
    std::vector<int64_t> which;
    if (sl.numel <= opts.samplesPerTensor) {
      for (int64_t i = 0; i < sl.numel; ++i) which.push_back(i);
    } else {
      for (int64_t k = 0; k < opts.samplesPerTensor; ++k) which.push_back(int64_t(rng.below(sl.numel)));
    }
    TensorCheck t{sl.tensor->name, grt::shapeStr(*sl.tensor)};
    for (int64_t i : which) {
      double orig = grt::Session::get(sl, i), h = opts.step;
      auto at = [&](double delta) {
        grt::Session::set(sl, i, orig + delta);
        return loss();
      };
      double numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      grt::Session::set(sl, i, orig);
      double a = analytic[i];
      double err = std::fabs(a - numeric);
      double rel = err / std::max({std::fabs(a), std::fabs(numeric), 1e-6});
      if (!std::isfinite(a) || !std::isfinite(numeric)) rel = err = INFINITY;
      t.maxAbs = std::max(t.maxAbs, err);
      t.maxRel = std::max(t.maxRel, rel);
      t.maxGrad = std::max(t.maxGrad, std::fabs(a));
      if (a != 0) report.anyNonZero = true;
      ++t.checked;
    }
    report.tensors.push_back(t);
  }
  return report;
}

} // namespace gradc
