//===- tools/GradCheck.cpp - symbolic gradients against finite differences ===//
#include "GradCheck.h"

#include "runtime/driver/Data.h"
#include "runtime/driver/Session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradc {

bool GradCheckReport::passed() const {
  if (!anyNonZero || !std::isfinite(loss)) return false;
  for (auto &t : tensors)
    if (!(t.maxRel <= tolerance)) return false;
  return true;
}

void GradCheckReport::print(llvm::raw_ostream &os) const {
  os << fmt::format("{:<28} {:<14} {:>7} {:>12} {:>12} {:>12}\n", "parameter", "shape", "checked", "max |grad|",
                    "max abs err", "max rel err");
  int64_t kinks = 0;
  for (auto &t : tensors) {
    std::string note;
    if (t.noisy)
      note = fmt::format("  ({} below the differences' rounding noise, compared absolutely)", t.noisy);
    if (t.nonFinite)
      note += fmt::format("  ({} of the symbolic gradient's elements are not finite)", t.nonFinite);
    // A param the point does not reach (a where() branch never taken, a
    // table row never looked up) passes by comparing zeros with zeros.
    if (t.maxGrad == 0 && t.checked > t.kinks && t.nonFinite == 0)
      note += "  (every checked gradient is 0 at this point: it tests nothing of this param)";
    if (t.nearKinks)
      // A kink within the stencil, or a smooth curve too steep for it
      // (exp(100 x)): the wider differences cannot tell them apart, and
      // "near a kink" sent a user looking for one in a smooth loss.
      note += fmt::format("  ({} compared at a narrower step: a kink or steep curvature near the point)", t.nearKinks);
    if (t.kinks)
      note += fmt::format("  ({} at kinks, skipped; e.g. element {}: slopes {:.6g} left, {:.6g} right)", t.kinks,
                         t.kinkElement, t.kinkLeft, t.kinkRight);
    os << fmt::format("{:<28} {:<14} {:>7} {:>12.3e} {:>12.3e} {:>12.3e}  {}{}\n", t.name, t.shape, t.checked, t.maxGrad,
                      t.maxAbs, t.maxRel, t.maxRel <= tolerance ? "ok" : "FAIL", note);
    kinks += t.kinks;
  }
  if (kinks)
    os << fmt::format("{} element(s) sit at a kink of the loss (relu at 0, a tie in max, a where() whose condition flips "
                      "within the step): its left and right slopes differ, so no derivative exists there to compare\n",
                      kinks);
  if (!std::isfinite(loss))
    // A model that takes the log of its inputs, or masks classes its
    // targets may fall in, failed element by element with no word why.
    os << fmt::format("FAIL: the loss is {} at the point checked, so no difference of it means anything. Where the "
                      "model has no data block, its inputs are drawn from a normal distribution (an index from its "
                      "whole range): one that takes the log or square root of an input, or masks classes a target "
                      "may name, has no finite loss there; give it a data block that draws valid inputs, or try "
                      "another --seed\n",
                      std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf");
  if (!anyNonZero) {
    // Elements at kinks are skipped, so "every gradient is zero" would be
    // false when they are all there is.
    int64_t checked = 0;
    for (auto &t : tensors) checked += t.checked;
    if (kinks == checked && checked > 0)
      os << "FAIL: every checked element sits at a kink, so no derivative was compared; the check proves nothing\n";
    else
      os << "FAIL: every gradient " << (kinks ? "not at a kink " : "") << "is zero; the check proves nothing\n";
  }
  os << (passed() ? "gradient check passed" : "gradient check FAILED") << fmt::format(" (tolerance {:g} relative)\n", tolerance);
}

void prepareSession(grt::Session &s, uint64_t seed, double noise) {
  grt::Rng rng(seed, grt::hashName("gradcheck"));
  // The model's own data, where it can give a batch. Where it cannot (a
  // table smaller than one batch, a corpus that is not there), the error
  // told the user to pass --data, which gradcheck has not: the gradients
  // are checked at random inputs instead, as for a model with no data.
  bool ownData = s.model.data_kind != GRT_DATA_NONE;
  if (ownData) {
    grt::DataOptions d;
    d.seed = seed;
    d.valFraction = 0;
    grt::setFatalThrows(true);
    try {
      grt::loadData(s, d)->nextTrainBatch(s);
    } catch (const grt::FatalError &e) {
      // Its advice ("pass --data") is train's: what it says up to there.
      std::string what = e.message.substr(0, e.message.find("; "));
      fmt::print(stderr, "note: the model's data give no batch to check at ({}); checking at random inputs instead\n", what);
      ownData = false;
    }
    grt::setFatalThrows(false);
  }
  if (!ownData) {
    // Every input gets values, not only the float ones: i32 and bool inputs
    // left at 0 looked up row 0 of every table and took one side of every
    // where(), and the check passed on gradients it never exercised. An
    // index lies in the table it reads (the limits the executable checks
    // its data against); any other integer in -3..3, so signs and zero
    // meet // and %. Their own stream keeps the float inputs' values as
    // they were.
    grt::Rng ints(seed, grt::hashName("gradcheck-integers"));
    for (auto &sl : s.slots) {
      const GrtTensor &t = *sl.tensor;
      if (t.role != GRT_INPUT) continue;
      int64_t perRow = t.rank > 0 && t.dims[0] > 0 ? std::max<int64_t>(1, sl.numel / t.dims[0]) : 1;
      for (int64_t i = 0; i < sl.numel; ++i) {
        double v = 0;
        if (t.dtype == GRT_F64 || t.dtype == GRT_F32) {
          v = rng.normal();
        } else if (t.dtype == GRT_BOOL) {
          v = double(ints.below(2));
        } else if (t.dtype == GRT_I32) {
          grt::Session::IndexRange r = grt::Session::indexRange(t, i % perRow);
          v = r.bounded() ? double(r.low + int64_t(ints.below(uint64_t(r.limit - r.low))))
                          : double(int64_t(ints.below(7)) - 3);
        }
        grt::Session::set(sl, i, v);
      }
    }
  }
  s.initParams(seed);
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_PARAM)
      for (int64_t i = 0; i < sl.numel; ++i) grt::Session::set(sl, i, grt::Session::get(sl, i) + noise * rng.normal());
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_HYPER) grt::Session::set(sl, 0, sl.tensor->default_value);
}

namespace {

/// How many elements of each parameter to check: samplesPerTensor, lowered
/// (to no fewer than two) when the total would pass maxElements.
int64_t elementsPerTensor(const grt::Session &s, const GradCheckOptions &opts) {
  int64_t tensors = 0, total = 0;
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_PARAM) ++tensors, total += std::min(sl.numel, opts.samplesPerTensor);
  if (opts.maxElements <= 0 || total <= opts.maxElements || tensors == 0) return opts.samplesPerTensor;
  return std::max<int64_t>(2, opts.maxElements / tensors);
}

} // namespace

GradCheckReport gradCheck(const GrtModel &model, const GradCheckOptions &opts) {
  grt::Session s(model, 1);
  prepareSession(s, opts.seed, opts.noise);
  return gradCheck(s, opts);
}

GradCheckReport gradCheck(grt::Session &s, const GradCheckOptions &opts) {
  grt::Rng rng(opts.seed, grt::hashName("gradcheck-samples"));
  s.run(GRT_ENTRY_GRADS);
  GradCheckReport report;
  report.tolerance = opts.tolerance;
  // Hold every stopped value at its value here (see GradCheck.h).
  report.frozen = s.has(GRT_ENTRY_CAPTURE);
  if (report.frozen) {
    s.run(GRT_ENTRY_CAPTURE);
    for (auto &sl : s.slots) {
      llvm::StringRef name = sl.tensor->name;
      if (!name.consume_front(GRT_OUTPUT_PREFIX GRT_CAPTURE_PREFIX)) continue;
      // Optimisation may have found the loss does not need this value.
      int dst = s.find(GRT_FROZEN_PREFIX + name.str());
      if (dst >= 0) std::copy_n(static_cast<const char *>(sl.data), sl.bytes, static_cast<char *>(s.slots[dst].data));
    }
  }
  auto loss = [&] {
    if (report.frozen) {
      s.run(GRT_ENTRY_FROZEN);
      return s.scalar(GRT_OUTPUT_PREFIX GRT_FROZEN_LOSS);
    }
    // The loss with dropout on, as @grads computes it; @eval turns it off.
    s.run(s.has(GRT_ENTRY_TRAIN_LOSS) ? GRT_ENTRY_TRAIN_LOSS : "eval");
    return s.scalar(GRT_OUTPUT_PREFIX "loss");
  };
  report.loss = loss();
  report.perTensor = elementsPerTensor(s, opts);
  int64_t total = 0, done = 0;
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_PARAM) total += std::min(sl.numel, report.perTensor);

  for (auto &sl : s.slots) {
    if (sl.tensor->role != GRT_PARAM) continue;
    auto &g = s.slot(grt::outputTensor(grt::gradName(sl.tensor->name)));
    std::vector<double> analytic(g.numel);
    for (int64_t i = 0; i < g.numel; ++i) analytic[i] = grt::Session::get(g, i);
    std::vector<int64_t> which;
    if (sl.numel <= report.perTensor) {
      for (int64_t i = 0; i < sl.numel; ++i) which.push_back(i);
    } else {
      for (int64_t k = 0; k < report.perTensor; ++k) which.push_back(int64_t(rng.below(sl.numel)));
    }
    TensorCheck t{sl.tensor->name, grt::shapeStr(*sl.tensor)};
    for (int64_t i : which) {
      double orig = grt::Session::get(sl, i), h = opts.step;
      auto at = [&](double delta) {
        grt::Session::set(sl, i, orig + delta);
        return loss();
      };
      double lp = at(h), lm = at(-h);
      auto stencil = [&](double hs) { return (8 * (at(hs) - at(-hs)) - (at(2 * hs) - at(-2 * hs))) / (12 * hs); };
      double numeric = (8 * (lp - lm) - (at(2 * h) - at(-2 * h))) / (12 * h);
      double a = analytic[i];
      // The stencil's rounding noise at the step it ends on (below); 0 until
      // the step has been halved.
      double noise = 0;
      auto relErr = [&](double n) {
        return std::fabs(a - n) / std::max({std::fabs(a), std::fabs(n), opts.absFloor, noise / opts.tolerance});
      };
      double err = std::fabs(a - numeric), rel = relErr(numeric);
      if (rel > opts.tolerance && std::isfinite(rel)) {
        // A steep loss (tanh of tanh) leaves truncation error at h: halving
        // the step divides it by 16 when the symbolic gradient is right, and
        // leaves it alone when the gradient is wrong. So the estimate at h/2,
        // then h/4, replaces the one before while the miss shrinks fourfold.
        //
        // Rounding goes the other way: each loss value is off by an ulp or
        // two of |L| (a deep model's, a sum over thousands of terms, by
        // more), and the stencil multiplies that by 1.5/h. A gradient of
        // 2e-6 against a loss of 5.5 (a GRU unrolled over 24 steps) comes
        // out with 1e-11 of error, 5e-6 relative, at any of the three
        // steps: the loss differences are a few thousand ulps, so they are
        // quantised, and the estimates may even agree exactly. So the
        // symbolic gradient is held absolutely to that noise, six ulps of
        // the loss over the step (the spread of the three estimates would be
        // no measure: on a steep loss it is the truncation error, which
        // would let a wrong gradient pass).
        double hBest = h;
        for (double hs = h / 2; hs >= h / 4; hs /= 2) {
          double n2 = stencil(hs);
          if (!(std::fabs(a - n2) <= std::fabs(a - numeric) / 4)) break; // NaN too
          numeric = n2, hBest = hs;
        }
        err = std::fabs(a - numeric);
        bool resolved = relErr(numeric) <= opts.tolerance;
        noise = 6 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(lp), std::fabs(lm)) / hBest;
        rel = relErr(numeric);
        if (!resolved && rel <= opts.tolerance) ++t.noisy;
      }
      if (!std::isfinite(a) || !std::isfinite(numeric)) rel = err = INFINITY;
      bool kink = false;
      if (rel > opts.tolerance) {
        // One-sided slopes at h and at h/10 (see GradCheck.h): a kink keeps
        // them apart at any step; a smooth loss brings them together.
        double l0 = at(0), h2 = h / 10, lp2 = at(h2), lm2 = at(-h2);
        double right = (lp2 - l0) / h2, left = (l0 - lm2) / h2;
        double gapWide = (lp - l0) / h - (l0 - lm) / h, gapNarrow = right - left;
        double scale = std::max({std::fabs(right), std::fabs(left), std::fabs(a), opts.absFloor});
        bool kinkHere = std::fabs(gapNarrow) > 1e-4 * scale && std::fabs(gapWide) < 5 * std::fabs(gapNarrow);
        // A kink at a distance c from the point spoils every stencil wider
        // than c, and no central difference narrower than c: that one sees
        // one smooth piece and measures the derivative, which exists. So the
        // element is compared at h/10, h/100 or h/1000, the first that
        // agrees (a kink at 0.95·h/10 passes neither one-sided test: its
        // narrow slopes barely differ; a WaveNet's bias, which moves 1536
        // relus, failed with 1e-3 that way). For a smooth loss all three
        // converge on the true derivative, so a wrong gradient agrees with
        // none of them.
        bool nearKink = false;
        for (double hs = h2; !nearKink && hs >= h / 1000; hs /= 10) {
          double n = hs == h2 ? (lp2 - lm2) / (2 * h2) : (at(hs) - at(-hs)) / (2 * hs);
          if (relErr(n) <= opts.tolerance) nearKink = true, err = std::fabs(a - n), rel = relErr(n);
        }
        if (std::isfinite(a) && nearKink) {
          ++t.nearKinks;
        } else if (std::isfinite(a) && kinkHere) {
          if (t.kinkElement < 0) t.kinkElement = i, t.kinkLeft = left, t.kinkRight = right;
          ++t.kinks;
          kink = true;
          rel = err = 0;
        }
      }
      grt::Session::set(sl, i, orig);
      t.maxAbs = std::max(t.maxAbs, err);
      t.maxRel = std::max(t.maxRel, rel);
      t.maxGrad = std::max(t.maxGrad, std::fabs(a));
      if (!std::isfinite(a)) ++t.nonFinite;
      if (a != 0 && !kink) report.anyNonZero = true;
      ++t.checked;
      if (opts.progress) opts.progress(++done, total);
    }
    report.tensors.push_back(t);
  }
  return report;
}

} // namespace gradc
