//===- tests/unit/BlockedSumTest.cpp - long f32 sums keep their digits ----===//
//
// A sum of a million f32 terms in one accumulator drifts: each addend is
// tiny beside the running total. Long sums are added in blocks of about
// sqrt(terms) (codegen/Schedule.cpp for sums inside loops,
// passes/BlockLongSums.cpp for column sums). Here a full sum, column sums
// and row sums over x: f32[2^18 + 3, 9] (odd, so the last block is short)
// are compared with the same sums in f64, at every fusion level and at one
// and two threads: each must be within 1e-6 relative. One accumulator
// misses by 1e-5 to 1e-4 on these inputs.
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"

#include "runtime/driver/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace gradc;

namespace {

constexpr int64_t kRows = (1 << 18) + 3, kCols = 9;

// A batch of one [N, 9] matrix: @predict keeps only outputs with a row per
// input row, and sums over a batch of N rows have none.
const char *kSource = R"(const N = 262147
model m {
  input x: f32[1, N, 9]
  param w: f32[9] = ones
  total = sum(tanh(x * w) + 1)
  cols = sum(tanh(x * w * 2) + 1, axis = 1)
  rows = sum(transpose(tanh(x * w * 0.5) + 1, [0, 2, 1]), axis = 2)
  output total
  output cols
  output rows
  loss = mean(x * w)
  train sgd(lr = 0.1)
}
)";

struct Sums {
  double total = 0;
  std::vector<double> cols, rows;
};

Sums runCompiled(unsigned fusion, int threads, const std::vector<float> &x) {
  CompileOptions o;
  o.input = "blocked.grad";
  o.passes.fusionLevel = fusion;
  std::string diagnostics;
  llvm::raw_string_ostream diag(diagnostics);
  Compiler c(o, diag);
  Sums out;
  if (!c.load(kSource) || !c.runPipeline() || !c.lower() || !c.optimize()) {
    ADD_FAILURE() << "compiling failed: " << diagnostics;
    return out;
  }
  const GrtModel *m = c.jit();
  if (!m) {
    ADD_FAILURE() << "jit failed";
    return out;
  }
  grt::Session s(*m, threads);
  s.initParams(0);
  auto &xs = s.slot("x");
  for (size_t i = 0; i < x.size(); ++i) grt::Session::set(xs, i, x[i]);
  s.run("predict");
  out.total = grt::Session::get(s.slot(grt::outputTensor("total")), 0);
  for (int64_t c = 0; c < kCols; ++c) {
    out.cols.push_back(grt::Session::get(s.slot(grt::outputTensor("cols")), c));
    out.rows.push_back(grt::Session::get(s.slot(grt::outputTensor("rows")), c));
  }
  return out;
}

double relative(double got, double want) { return std::fabs(got - want) / std::fabs(want); }

TEST(BlockedSums, LongF32SumsMatchF64AtEveryFusionLevel) {
  // Positive terms of similar size (tanh(x) + 1 for x in [-1, 3]): the
  // case where one accumulator drifts furthest, as the total outgrows each
  // term. Each sum computes its own tanh inside its loop, where LLVM keeps
  // one accumulator; a sum of loads it would vectorise into per-lane
  // partial sums, which hides most of the drift.
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(-1.0f, 3.0f);
  std::vector<float> x(kRows * kCols);
  for (float &v : x) v = u(rng);
  Sums want;
  want.cols.assign(kCols, 0);
  want.rows.assign(kCols, 0);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kCols; ++c) {
      double v = x[r * kCols + c];
      want.total += std::tanh(v) + 1;
      want.cols[c] += std::tanh(2 * v) + 1;
      want.rows[c] += std::tanh(0.5 * v) + 1;
    }

  for (unsigned fusion : {0u, 1u, 2u, 3u})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("fusion " + std::to_string(fusion) + ", " + std::to_string(threads) + " threads");
      Sums got = runCompiled(fusion, threads, x);
      ASSERT_EQ(got.cols.size(), size_t(kCols));
      EXPECT_LE(relative(got.total, want.total), 1e-6) << got.total << " vs " << want.total;
      for (int64_t c = 0; c < kCols; ++c) {
        EXPECT_LE(relative(got.cols[c], want.cols[c]), 1e-6) << "cols[" << c << "] " << got.cols[c] << " vs " << want.cols[c];
        EXPECT_LE(relative(got.rows[c], want.rows[c]), 1e-6) << "rows[" << c << "] " << got.rows[c] << " vs " << want.rows[c];
      }
    }
}

} // namespace
