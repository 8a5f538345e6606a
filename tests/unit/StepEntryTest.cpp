//===- tests/unit/StepEntryTest.cpp - @step against @predict ---------------===//
//
// The step-entry pass derives @step (one new position, keys and values
// cached) from @predict. Here examples/gpt.grad, small (2 layers, 2 heads,
// 16 wide, context T = 12, batch 3, random weights), runs @predict once on
// random tokens, then @step (for the first 1, 2 or all 3 sequences) on the
// same tokens one position at a time from empty caches: at every position
// t and every sequence, step.logits must equal predict's logits[b, t, :] to
// 1e-5 of the row's largest logit in f32, and 1e-12 in f64, at every fusion
// level. Then a second pass over the same
// context, its caches now full of the first pass's values, must agree too
// (stale entries after t are masked off), and a model that averages over
// positions is refused with its location.
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace gradc;

namespace {

constexpr int kB = 3, kT = 12;

struct Case {
  DType dtype;
  unsigned fusion;
  int stepBatch; // sequences @step generates: the first of predict's kB rows
  double tolerance;
  friend void PrintTo(const Case &c, std::ostream *os) {
    *os << dtypeName(c.dtype).str() << " at fusion " << c.fusion << ", step batch " << c.stepBatch << ", tolerance "
        << c.tolerance;
  }
};

class StepEntry : public testing::TestWithParam<Case> {};

TEST_P(StepEntry, EqualsPredictAtEveryPosition) {
  CompileOptions o;
  o.input = std::string(GRADC_EXAMPLES_DIR) + "/gpt.grad";
  for (auto [k, v] : {std::pair{"n_layer", "2"}, {"n_head", "2"}, {"n_embd", "16"}, {"T", "12"}, {"B", "3"}})
    o.sema.defines.push_back({k, v});
  o.sema.floatType = GetParam().dtype;
  o.passes.fusionLevel = GetParam().fusion;
  o.passes.stepEntry = PassOptions::StepEntry::On;
  o.passes.stepBatch = GetParam().stepBatch;
  const int Bs = GetParam().stepBatch;
  Compiler c(o);
  ASSERT_TRUE(c.load() && c.runPipeline() && c.lower() && c.optimize());
  const GrtModel *m = c.jit();
  ASSERT_TRUE(m);
  grt::Session s(*m, 1);
  s.initParams(7);
  ASSERT_TRUE(s.has(GRT_ENTRY_STEP));

  std::mt19937 rng(3);
  std::vector<int> ctx(kB * kT);
  for (int &t : ctx) t = int(rng() % 256);
  auto &idx = s.slot("idx");
  for (int i = 0; i < kB * kT; ++i) grt::Session::set(idx, i, ctx[i]);
  s.run("predict");
  auto &full = s.slot(GRT_OUTPUT_PREFIX "logits");
  const int V = 256;
  ASSERT_EQ(full.numel, int64_t(kB) * kT * V);
  std::vector<double> want(full.numel);
  for (int64_t i = 0; i < full.numel; ++i) want[i] = grt::Session::get(full, i);

  auto &tok = s.slot(GRT_STEP_PREFIX "idx");
  auto &pos = s.slot(GRT_STEP_POS);
  auto &got = s.slot(GRT_OUTPUT_PREFIX GRT_STEP_PREFIX "logits");
  ASSERT_EQ(got.numel, int64_t(Bs) * V);
  for (int pass = 0; pass < 2; ++pass)
    for (int t = 0; t < kT; ++t) {
      for (int b = 0; b < Bs; ++b) grt::Session::set(tok, b, ctx[b * kT + t]);
      grt::Session::set(pos, 0, t);
      s.run(GRT_ENTRY_STEP);
      for (int b = 0; b < Bs; ++b) {
        const double *row = &want[(int64_t(b) * kT + t) * V];
        double scale = 0;
        for (int v = 0; v < V; ++v) scale = std::max(scale, std::fabs(row[v]));
        for (int v = 0; v < V; ++v)
          ASSERT_NEAR(grt::Session::get(got, int64_t(b) * V + v), row[v], GetParam().tolerance * scale)
              << "pass " << pass << ", position " << t << ", row " << b << ", logit " << v;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Builds, StepEntry,
                         testing::Values(Case{DType::F32, 2, 1, 1e-5}, Case{DType::F32, 2, 3, 1e-5},
                                         Case{DType::F64, 0, 2, 1e-12}, Case{DType::F64, 1, 1, 1e-12},
                                         Case{DType::F64, 2, 1, 1e-12}, Case{DType::F64, 2, 3, 1e-12}),
                         [](const auto &info) {
                           return std::string(info.param.dtype == DType::F32 ? "f32" : "f64") + "_fusion" +
                                  std::to_string(info.param.fusion) + "_batch" + std::to_string(info.param.stepBatch);
                         });

TEST(StepEntryRefuses, AnOutputThatSeesLaterPositions) {
  // Each position's logits add the sum of the embeddings of all positions.
  const char *source = "model m {\n"
                       "  input idx: i32[2, 8]\n"
                       "  input targets: i32[2, 8]\n"
                       "  param wte: f32[16, 4] = normal(0.02)\n"
                       "  x = gather(wte, idx)\n"
                       "  logits = (x + sum(x, 1, keepdims = true)) @ transpose(wte)\n"
                       "  loss = cross_entropy(logits, targets)\n"
                       "  output logits\n"
                       "  train sgd(lr = 0.1)\n"
                       "  data text(input = idx, target = targets, corpus = \"unused.txt\")\n"
                       "}\n";
  CompileOptions o;
  o.input = "pooled.grad";
  o.passes.stepEntry = PassOptions::StepEntry::On;
  Compiler c(o);
  ASSERT_TRUE(c.load(source));
  testing::internal::CaptureStderr(); // where the compiler reports a pass's error
  EXPECT_FALSE(c.runPipeline());
  std::string errors = testing::internal::GetCapturedStderr();
  // At the op's line, with the source and a caret, as the front end's.
  EXPECT_NE(errors.find("pooled.grad:6:"), std::string::npos) << errors;
  EXPECT_NE(errors.find(": error: --step-entry: cannot compute 'reduce_sum' of f32[2,1,4] one position at a time"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("reduces over the position axis"), std::string::npos) << errors;
  EXPECT_NE(errors.find("\n  logits = (x + sum(x, 1, keepdims = true)) @ transpose(wte)\n"), std::string::npos) << errors;
  EXPECT_NE(errors.find("^"), std::string::npos) << errors;
}

} // namespace
