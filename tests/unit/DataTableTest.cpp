//===- tests/unit/DataTableTest.cpp - the default table against its descriptor
//
// gradc makes each output of @data its input's type with the descriptor's
// data_rows rows. A descriptor that says otherwise (from a hand-edited .gir
// before the verifier held it to that) made the runtime copy rows past the
// end of the generated tensor. It now stops with one line.
//
// Validation's batches (grt::evalBatches) count every row once, in few
// batches, for any row count and batch size.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Runtime.h"
#include "runtime/driver/Data.h"
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

const char *kModel = R"(model m {
  input x: f32[4, 1]
  param w: f32[1, 1] = zeros
  loss = mean(x @ w)
  train sgd(lr = 0.1)
  data table(rows = 8) {
    x = rand_uniform([8, 1], -1, 1)
  }
}
)";

TEST(DataTable, RowsDisagreeingWithTheGeneratorAreRefused) {
  CompileOptions o;
  o.input = "table.grad";
  Compiler c(o);
  ASSERT_TRUE(c.load(kModel) && c.runPipeline() && c.lower() && c.optimize());
  const GrtModel *m = c.jit();
  ASSERT_TRUE(m);
  GrtModel wrong = *m;
  wrong.data_rows = 1000;
  grt::Session s(wrong, 1);
  grt::setFatalThrows(true);
  try {
    grt::loadData(s, grt::DataOptions{});
    ADD_FAILURE() << "a table of 1000 rows was read from 8 generated ones";
  } catch (const grt::FatalError &e) {
    EXPECT_EQ(e.message, "the model's data table gives input 'x' 8 values, not 1000 rows of 1");
  }
  grt::setFatalThrows(false);
}

/// Each row's total weight over the batches: sum of weight / B for every
/// slot holding it (a batch's mean times its weight).
std::vector<double> rowWeights(const std::vector<grt::EvalBatch> &batches, int64_t n, int64_t B) {
  std::vector<double> w(size_t(n), 0.0);
  for (const grt::EvalBatch &e : batches)
    for (int64_t b = 0; b < B; ++b) {
      int64_t row = e.row(b);
      EXPECT_TRUE(row >= 0 && row < n) << "n " << n << " B " << B << " slot " << b << " reads row " << row;
      if (row >= 0 && row < n) w[size_t(row)] += double(e.weight) / double(B);
    }
  return w;
}

TEST(EvalBatches, EveryRowCountsOnceInFewBatches) {
  for (int64_t B : {1, 2, 3, 7, 12, 32, 97, 4093})
    for (int64_t n : {int64_t(1), int64_t(2), int64_t(5), B - 1, B, B + 1, 2 * B + 25 % B, 3 * B - 2}) {
      if (n < 1) continue;
      std::vector<grt::EvalBatch> batches = grt::evalBatches(n, B);
      for (double w : rowWeights(batches, n, B)) EXPECT_NEAR(w, 1.0, 1e-9) << "n " << n << " B " << B;
      // n / B full batches, then a few (28 at most for any B below 20,000).
      EXPECT_LE(batches.size(), size_t(n / B) + 28) << "n " << n << " B " << B;
    }
}

TEST(EvalBatches, FewGroupsKeepPositiveWeights) {
  // r = 25 rows past a batch of 32: groups of 16, 8 and 1, each row once.
  std::vector<grt::EvalBatch> b = grt::evalBatches(57, 32);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[1].rows, 16);
  EXPECT_EQ(b[2].rows, 8);
  EXPECT_EQ(b[3].rows, 1);
  for (auto &e : b) EXPECT_EQ(e.weight, e.rows);
  // A prime batch with 6 rows left: the 6 rows in turn (each 682 times,
  // the first once more), then the first alone, subtracted.
  b = grt::evalBatches(4093 + 6, 4093);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[1].rows, 6);
  EXPECT_DOUBLE_EQ(b[1].weight, 4093.0 / 682);
  EXPECT_EQ(b[2].rows, 1);
  EXPECT_DOUBLE_EQ(b[2].weight, -1.0 / 682);
}

TEST(EvalBatches, LongestEuclidChain) {
  // 11201 rows left over a batch of 17747: the longest chain below 20,000.
  std::vector<grt::EvalBatch> b = grt::evalBatches(11201, 17747);
  EXPECT_EQ(b.size(), 28u);
  for (double w : rowWeights(b, 11201, 17747)) EXPECT_NEAR(w, 1.0, 1e-9);
}

} // namespace
