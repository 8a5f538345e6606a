//===- tests/unit/DropoutTest.cpp - random numbers inside the model -------===//
//
// Dropout's mask is hash(seed, step, call site, element) (SemaBuiltins'
// randomBits). One model reads two dropouts of the same parameter,
//   loss = sum(dropout(w, p)) + 2 * sum(dropout(w, p)) + sum(x),
// w: [64, 128] ones, x: [1] zeros (a model needs an input),
// so d loss / d w = m1/(1-p) + 2 m2/(1-p), and each element of the gradient
// tells both masks apart. On 8192 elements the checks below are:
//   - each mask keeps 1-p of the elements, within 4.5 standard deviations;
//   - the two call sites draw independent masks (both kept: (1-p)^2);
//   - the same (seed, step) gives the same masks, bit for bit; another step
//     or another seed gives new ones;
//   - @eval and @predict have no dropout: the loss is 3 * sum(w);
//   - in f32 and in f64 builds, at every fusion level, the same masks
//     (the threshold is compared on the integer bits).
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace gradc;

namespace {

constexpr double kP = 0.25;
constexpr int kRows = 64, kCols = 128, kN = kRows * kCols;

const char *kSource = "model m {\n"
                      "  input x: f32[1]\n"
                      "  param w: f32[64, 128] = ones\n"
                      "  loss = sum(dropout(w, 0.25)) + 2 * sum(dropout(w, 0.25)) + sum(x)\n"
                      "  train sgd(lr = 0.1)\n"
                      "}\n";

struct Masks {
  std::vector<bool> first, second;
  double loss = 0;
};

struct Build {
  std::unique_ptr<Compiler> compiler;
  std::unique_ptr<grt::Session> session;

  Build(DType dtype, unsigned fusion) {
    CompileOptions o;
    o.input = "dropout.grad";
    o.sema.floatType = dtype;
    o.passes.fusionLevel = fusion;
    o.passes.gradsEntry = true;
    compiler = std::make_unique<Compiler>(o);
    if (!compiler->load(kSource) || !compiler->runPipeline() || !compiler->lower() || !compiler->optimize()) return;
    if (const GrtModel *m = compiler->jit()) {
      session = std::make_unique<grt::Session>(*m, 1);
      session->initParams(0);
    }
  }

  /// The two masks at (seed, step), read back from the gradient.
  Masks at(int32_t seed, int32_t step) {
    grt::Session &s = *session;
    s.setHyper("seed", seed);
    s.setHyper("step", step);
    s.run(GRT_ENTRY_GRADS);
    Masks m;
    m.loss = s.scalar(GRT_OUTPUT_PREFIX "loss");
    auto &g = s.slot(grt::outputTensor(grt::gradName("w")));
    double k = 1 / (1 - kP);
    for (int i = 0; i < kN; ++i) {
      double v = grt::Session::get(g, i);
      // v is k*m1 + 2k*m2: one of 0, k, 2k, 3k.
      long code = std::lround(v / k);
      EXPECT_NEAR(v, double(code) * k, 1e-5 * k) << "element " << i;
      m.first.push_back(code == 1 || code == 3);
      m.second.push_back(code == 2 || code == 3);
    }
    return m;
  }
};

double fraction(const std::vector<bool> &m) { return double(std::count(m.begin(), m.end(), true)) / double(m.size()); }

double agreement(const std::vector<bool> &a, const std::vector<bool> &b) {
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

/// |observed - expected| within 4.5 standard deviations of a binomial
/// fraction over kN trials: a false alarm about once in 150,000 runs.
void expectFraction(double observed, double expected, const char *what) {
  double sd = std::sqrt(expected * (1 - expected) / kN);
  EXPECT_NEAR(observed, expected, 4.5 * sd) << what;
}

TEST(Dropout, MasksKeepOneMinusPIndependentlyPerCallSite) {
  Build b(DType::F32, 2);
  ASSERT_TRUE(b.session);
  Masks m = b.at(7, 3);
  expectFraction(fraction(m.first), 1 - kP, "first call site keeps 1-p");
  expectFraction(fraction(m.second), 1 - kP, "second call site keeps 1-p");
  std::vector<bool> both(kN);
  for (int i = 0; i < kN; ++i) both[size_t(i)] = m.first[size_t(i)] && m.second[size_t(i)];
  expectFraction(fraction(both), (1 - kP) * (1 - kP), "the call sites draw independently");
  // The loss is what the gradient says: sum over elements of k*m1 + 2k*m2.
  double want = (fraction(m.first) + 2 * fraction(m.second)) * kN / (1 - kP);
  EXPECT_NEAR(m.loss, want, 1e-5 * want);
}

TEST(Dropout, TheMaskIsAFunctionOfSeedAndStep) {
  Build b(DType::F32, 2);
  ASSERT_TRUE(b.session);
  Masks base = b.at(7, 3), again = b.at(7, 3), nextStep = b.at(7, 4), otherSeed = b.at(8, 3);
  EXPECT_EQ(base.first, again.first);
  EXPECT_EQ(base.second, again.second);
  EXPECT_EQ(base.loss, again.loss);
  // Independent masks agree where both keep or both drop: (1-p)^2 + p^2.
  double chance = (1 - kP) * (1 - kP) + kP * kP;
  expectFraction(agreement(base.first, nextStep.first), chance, "another step draws a new mask");
  expectFraction(agreement(base.first, otherSeed.first), chance, "another seed draws a new mask");
}

TEST(Dropout, EvalAndPredictLeaveXAlone) {
  Build b(DType::F32, 2);
  ASSERT_TRUE(b.session);
  b.session->setHyper("step", 3);
  b.session->run("eval");
  EXPECT_EQ(b.session->scalar(GRT_OUTPUT_PREFIX "loss"), 3.0 * kN);
  // Gradient checking compares @grads with the loss dropout is on in.
  ASSERT_TRUE(b.session->has(GRT_ENTRY_TRAIN_LOSS));
  b.session->setHyper("seed", 7);
  b.session->run(GRT_ENTRY_TRAIN_LOSS);
  EXPECT_EQ(b.session->scalar(GRT_OUTPUT_PREFIX "loss"), b.at(7, 3).loss);
  EXPECT_NE(b.at(7, 3).loss, 3.0 * kN);
}

TEST(Dropout, SameMasksInEveryBuild) {
  Build reference(DType::F32, 2);
  ASSERT_TRUE(reference.session);
  Masks want = reference.at(11, 5);
  for (DType dtype : {DType::F32, DType::F64})
    for (unsigned fusion : {0u, 1u, 2u}) {
      Build b(dtype, fusion);
      ASSERT_TRUE(b.session);
      Masks got = b.at(11, 5);
      EXPECT_EQ(want.first, got.first) << dtypeName(dtype).str() << " at fusion " << fusion;
      EXPECT_EQ(want.second, got.second) << dtypeName(dtype).str() << " at fusion " << fusion;
    }
}

} // namespace
