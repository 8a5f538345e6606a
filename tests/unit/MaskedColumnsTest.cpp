//===- tests/unit/MaskedColumnsTest.cpp - skipping keeps inf and NaN ------===//
//
// codegen/MaskedColumns.cpp lets the products of causal attention skip the
// columns where dS is zero, and those where the probabilities P are (after
// a run-time check that they are): dQ = dS @ K and Y = P @ V sum over
// fewer of K's and V's rows, dKᵀ += Q[rows]ᵀ @ dS adds to fewer columns,
// dV += Pᵀ @ dY[rows] to fewer rows. 0·x is 0 only for a finite x, so each
// skips only after checking the other operand is finite. Here q, k, v and
// g (which scales dY) are parameters, so one SGD step turns their
// gradients into their new values. An inf in k's or v's last row (seen
// unmasked by the last query row only), or in q's or g's row 3 (the second
// block of 3 rows), makes the unskipped sums NaN in rows or columns the
// mask hides; the build that skips must give the same values, NaN for
// NaN, as the build that computes every column (--keep-masked-columns).
// And with finite values, the same values too (within f32 rounding; see
// expectSame).
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"
#include "tools/GradCheck.h"

#include "runtime/driver/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

using namespace gradc;

namespace {

/// The model, with masked scores set to `fill`. At -1e9 the probabilities'
/// masked columns are exp(-1e9 - m) / sum = 0. At 0 they hold exp(0 - m) /
/// sum, not 0, so the run-time check must refuse to skip them in Y = P @ V
/// and dV += Pᵀ @ dY.
std::string model(const char *fill) {
  return std::string(R"(
const B = 2
const H = 2
const T = 13
const D = 4
model masked {
  param q: f32[B, H, T, D] = normal(0.5)
  param k: f32[B, H, T, D] = normal(0.5)
  param v: f32[B, H, T, D] = normal(0.5)
  input g: f32[B, H, T, D]
  i = reshape(arange(T), [T, 1])
  j = reshape(arange(T), [1, T])
  att = softmax(where(i >= j, q @ transpose(k), )") +
         fill + R"())
  y = att @ v
  loss = mean(square(y) * g)
  train sgd(lr = 0.1)
}
)";
}

using Values = std::map<std::string, std::vector<double>>;

struct Built {
  std::unique_ptr<std::string> source; // outlives the compiler, which may refer to it
  std::unique_ptr<Compiler> compiler;
  const GrtModel *model = nullptr;
};

Built build(bool skip, const char *fill = "-1e9") {
  CompileOptions o;
  o.input = "masked.grad";
  o.passes.sliceBlockBytes = 1; // blocks of 3 rows: 0-2, 3-5, 6-8, 9-11, then 12
  o.passes.sliceBlockMinRows = 3;
  o.schedule.skipMaskedColumns = skip;
  Built b;
  b.source = std::make_unique<std::string>(model(fill));
  b.compiler = std::make_unique<Compiler>(o);
  Compiler &c = *b.compiler;
  if (c.load(*b.source) && c.runPipeline() && c.lower() && c.optimize()) b.model = c.jit();
  return b;
}

/// A param's or input's element set to a value.
struct Set {
  std::string name;
  int64_t at;
  double value;
};

/// One training step from the point seed 7 gives, with `sets` applied:
/// every output and the new parameters.
Values step(const GrtModel &m, const std::vector<Set> &sets) {
  grt::Session s(m, 1);
  prepareSession(s, 7, 0.1);
  for (const Set &set : sets)
    for (auto &sl : s.slots)
      if ((sl.tensor->role == GRT_PARAM || sl.tensor->role == GRT_INPUT) && sl.tensor->name == set.name)
        grt::Session::set(sl, set.at, set.value);
  s.run("train");
  Values out;
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_OUTPUT || sl.tensor->role == GRT_PARAM)
      for (int64_t i = 0; i < sl.numel; ++i) out[sl.tensor->name].push_back(grt::Session::get(sl, i));
  return out;
}

/// NaN where the other has NaN, the same infinity where it has one, and
/// finite values equal within f32 rounding. Not bit for bit: a row's sum
/// over fewer columns runs over a run-time range, which the vectoriser
/// splits into lanes differently from a fixed one (float sums may be
/// reassociated, codegen/EmitKernel.cpp), so it may round differently in
/// the last bit. A skipped 0·inf, or a skipped nonzero term, differs by
/// far more.
void expectSame(const Values &a, const Values &b, const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (auto &[name, va] : a) {
    const auto &vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size()) << what << ": " << name;
    for (size_t i = 0; i < va.size(); ++i) {
      bool same = std::isnan(va[i]) ? std::isnan(vb[i])
                  : std::isinf(va[i]) ? va[i] == vb[i]
                                      : std::isfinite(vb[i]) && std::abs(va[i] - vb[i]) <= 1e-6 * std::max(1.0, std::abs(vb[i]));
      EXPECT_TRUE(same) << what << ": " << name << "[" << i << "] = " << va[i] << " skipping, " << vb[i] << " not";
    }
  }
}

/// One step with param or input `name`'s element `at` set to `value` (none
/// when name is empty).
Values step(const GrtModel &m, const std::string &name, int64_t at, double value) {
  if (name.empty()) return step(m, std::vector<Set>{});
  return step(m, std::vector<Set>{{name, at, value}});
}

double at(const Values &v, const char *param, int64_t i) { return v.at(param)[i]; }

TEST(MaskedColumns, SkippingChecksTheOtherOperandIsFinite) {
  Built skip = build(true), keep = build(false);
  ASSERT_TRUE(skip.model && keep.model);
  const int64_t D = 4;
  expectSame(step(*skip.model, "", 0, 0), step(*keep.model, "", 0, 0), "finite");
  // k[0, 0, 12, 0] = inf: row 12 of the first slice's K.
  Values a = step(*skip.model, "k", 12 * D, INFINITY), b = step(*keep.model, "k", 12 * D, INFINITY);
  expectSame(a, b, "inf in K");
  // dQ[0, 0] = Σ_j dS[0, j]·K[j, 0] has 0·inf at j = 12, masked for row 0:
  // NaN when every column is summed (and so q[0, 0] after the step), so
  // skipping it unchecked would differ.
  EXPECT_TRUE(std::isnan(at(b, "q", 0))) << "the case no longer makes the unskipped sum NaN";
  // q[0, 0, 3, 0] = inf: a row of the second block's Q.
  a = step(*skip.model, "q", 3 * D, INFINITY), b = step(*keep.model, "q", 3 * D, INFINITY);
  expectSame(a, b, "inf in Q");
  // dK[8, 0] gets Q[3, 0]·dS[3, 8] = inf·0 from the second block, whose
  // rows (3..5) mask column 8.
  EXPECT_TRUE(std::isnan(at(b, "k", 8 * D))) << "the case no longer makes the unskipped sum NaN";
  // v[0, 0, 12, 0] = inf: Y[0, 0] = Σ_j P[0, j]·V[j, 0] has 0·inf at j = 12.
  a = step(*skip.model, "v", 12 * D, INFINITY), b = step(*keep.model, "v", 12 * D, INFINITY);
  expectSame(a, b, "inf in V");
  // That NaN reaches dY[0] and so dV[0] (v[0] after the step); skipped
  // unchecked, Y[0, 0] would be finite and v[0] an infinity.
  EXPECT_TRUE(std::isnan(at(b, "v", 0))) << "the case no longer makes the unskipped sum NaN";
  // g[0, 0, 3, 0] = inf makes dY[3, 0] inf: dV[8, 0] gets P[3, 8]·inf =
  // 0·inf from the second block, whose rows (3..5) mask column 8.
  a = step(*skip.model, "g", 3 * D, INFINITY), b = step(*keep.model, "g", 3 * D, INFINITY);
  expectSame(a, b, "inf in dY");
  EXPECT_TRUE(std::isnan(at(b, "v", 8 * D))) << "the case no longer makes the unskipped sum NaN";
}


TEST(MaskedColumns, ProbabilitiesAreSkippedOnlyWhereTheyAreZero) {
  Built skip = build(true, "0.0"), keep = build(false, "0.0");
  ASSERT_TRUE(skip.model && keep.model);
  Values a = step(*skip.model, "", 0, 0), b = step(*keep.model, "", 0, 0);
  expectSame(a, b, "masked probabilities not 0");
}

// dP = dY @ Vᵀ computes only the kept columns, once Σ|dY[rows]|·Σ|V| is
// below FLT_MAX / 4: the backward's row sum of dP·P then skips masked terms
// dP·0, which are zeros only where dP is finite. Here every operand is
// finite, but dP overflows: g's row 3 (the second block) is 3e38, making
// dY[3] about 1e36, and v's last row is 1e4, so dP[3, 12] = dY[3]·V[12] is
// inf, in a column row 3 masks. The row sum that covers it gets inf·0 =
// NaN; the build that skips must too, so it must not skip here. (Only row
// 12, the last block, which skips nothing, sees V[12] in the forward pass;
// a large V seen by rows of the narrowed blocks makes the softmax's
// backward cancel, and the two builds' roundings differ by far more than
// expectSame allows, with or without this rule.)
TEST(MaskedColumns, TheRowSumsProductIsSkippedOnlyWhereItIsFinite) {
  Built skip = build(true), keep = build(false);
  ASSERT_TRUE(skip.model && keep.model);
  const int64_t D = 4;
  std::vector<Set> sets{{"g", 3 * D, 3e38}};
  for (int64_t d = 0; d < D; ++d) sets.push_back({"v", 12 * D + d, 1e4});
  Values a = step(*skip.model, sets), b = step(*keep.model, sets);
  expectSame(a, b, "dP overflows");
  // dP's NaN row sum makes dS's row 3 NaN, and so dQ[3] and q[3].
  EXPECT_TRUE(std::isnan(at(b, "q", 3 * D))) << "the case no longer makes the unskipped sum NaN";
  // Without the overflow (v's row 12 left as it is), every value is finite
  // and the same.
  a = step(*skip.model, "g", 3 * D, 3e38), b = step(*keep.model, "g", 3 * D, 3e38);
  expectSame(a, b, "large dY");
}

} // namespace
