//===- tests/unit/SharedKernelsTest.cpp - sharing changes no bit ----------===//
//
// Kernels that differ only in scalar constants (the steps of an unrolled
// loop, each with its own time t) share one compiled function that reads
// the constants from memory (codegen/EmitModule.cpp, EmitKernel.cpp). The
// shared function must compute what each kernel computes with its
// constants in the code, bit for bit, so constants LLVM would do more with
// stay in the code (codegen/SharedConstants.cpp). Each model here is built
// with sharing and without (shareKernelsFrom = 0), trained a few steps from
// the same point, and every parameter, output and gradient compared bit
// for bit.
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"
#include "tools/GradCheck.h"

#include "runtime/driver/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>

using namespace gradc;

namespace {

struct Built {
  std::unique_ptr<std::string> source; // outlives the compiler, which may refer to it
  std::unique_ptr<Compiler> compiler;
  const GrtModel *model = nullptr;
  int functions = 0; // kernel functions in the module (epilogues included)
};

Built build(const std::string &source, size_t shareFrom) {
  CompileOptions o;
  o.input = "shared.grad";
  o.emit.shareKernelsFrom = shareFrom;
  o.sema.floatTypeFromSource = true; // as gradc without --dtype
  o.passes.gradsEntry = true;         // every gradient, to compare
  Built b;
  b.source = std::make_unique<std::string>(source);
  b.compiler = std::make_unique<Compiler>(o);
  Compiler &c = *b.compiler;
  if (!c.load(*b.source) || !c.runPipeline() || !c.lower()) return b;
  for (const llvm::Function &f : *c.llvmModule)
    if (!f.isDeclaration() && !f.getName().starts_with("gradc.")) ++b.functions;
  if (c.optimize()) b.model = c.jit();
  return b;
}

using Values = std::map<std::string, std::vector<double>>;

/// Three training steps from the point seed 7 gives, then the parameters,
/// and the outputs of @eval, @predict and @grads (every gradient), each
/// entry's own kernels. The outputs (h, of every row) and the gradients
/// show a difference in the last bit; a parameter's small update may round
/// it away.
Values train(const GrtModel &m) {
  grt::Session s(m, 1);
  prepareSession(s, 7, 0.1);
  for (int i = 0; i < 3; ++i) s.run("train");
  Values out;
  auto collect = [&](const std::string &prefix, int role) {
    for (auto &sl : s.slots)
      if (sl.tensor->role == role)
        for (int64_t i = 0; i < sl.numel; ++i) out[prefix + sl.tensor->name].push_back(grt::Session::get(sl, i));
  };
  collect("", GRT_PARAM);
  for (const char *entry : {"eval", "predict", "grads"})
    if (s.has(entry)) {
      s.run(entry);
      collect(std::string(entry) + " ", GRT_OUTPUT);
    }
  return out;
}

/// Builds `source` both ways; with `shares` sharing must take fewer
/// functions, and every value must agree: bit for bit when `tolerance` is
/// 0, else within it times the tensor's largest magnitude.
void expectAgree(const std::string &source, bool shares, double tolerance) {
  Built shared = build(source, 4), separate = build(source, 0);
  ASSERT_TRUE(shared.model && separate.model);
  if (shares) {
    EXPECT_LT(shared.functions, separate.functions) << "nothing was shared: the test no longer tests sharing";
  }
  Values a = train(*shared.model), b = train(*separate.model);
  ASSERT_EQ(a.size(), b.size());
  for (auto &[name, va] : a) {
    const std::vector<double> &vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size()) << name;
    double scale = 0;
    for (double v : vb) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < va.size(); ++i) {
      bool same = tolerance == 0 ? std::memcmp(&va[i], &vb[i], sizeof(double)) == 0
                                 : std::fabs(va[i] - vb[i]) <= tolerance * scale + 1e-12;
      EXPECT_TRUE(same) << name << "[" << i << "] = " << va[i] << " shared, " << vb[i] << " not";
    }
  }
}

/// The same bits both ways.
void expectSameBits(const std::string &source, bool shares = true) { expectAgree(source, shares, 0); }

// Each step's own time t scales a product's epilogue and divides it (by
// the reciprocal, a normal number, as LLVM does with a constant).
TEST(SharedKernels, ConstantsInLoops) {
  expectSameBits(R"(
const STEPS = 12
model steps {
  input x: f32[16, 4]
  input y: f32[16, 4]
  param W1: f32[4, 8] = normal(0.3)
  param b1: f32[8] = zeros
  param W2: f32[8, 4] = normal(0.3)
  h = x
  for i in 0..STEPS {
    t = float(i) * 0.05
    h = h + 0.1 * sin(t) * (tanh(h @ W1 + b1) @ W2) / (1.5 + t)
  }
  loss = mean(square(h - y))
  output h
  train adam(lr = 0.01)
}
)");
}

// A scalar param divided by the step's constant before the loops (the
// division is hoisted out of them): a multiplication by 1/d there too.
TEST(SharedKernels, DivisionsOutsideLoops) {
  expectSameBits(R"(
const STEPS = 6
model top {
  input x: f32[16, 4]
  input y: f32[16, 4]
  param W: f32[4, 4] = normal(0.3)
  param s: f32[] = ones
  h = x
  for i in 0..STEPS {
    h = tanh(h @ W) - s / (3.0 + float(i) * 0.7)
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)");
}

// The same in f64.
TEST(SharedKernels, F64) {
  expectSameBits(R"(
const STEPS = 8
model div64 {
  input x: f64[16, 4]
  input y: f64[16, 4]
  param W: f64[4, 4] = normal(0.3)
  param s: f64[] = ones
  h = x
  for i in 0..STEPS {
    h = tanh(h @ W) * (1.0 + float(i)) / 7.0 + s / (3.0 + float(i) * 0.7)
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)");
}

// What LLVM does with a constant in the code that a constant read from
// memory cannot do; an explorer found each (codegen/SharedConstants.cpp).
// Such constants stay in the code, and the steps do not share.

// A multiplication folded into a where's arms: `where(z > 0, 3c, 5c) + z`
// is a plain add, not the fused multiply-add of `where(...) * c + z`.
TEST(SharedKernels, ConstantFoldedIntoWhere) {
  expectSameBits(R"(
model selfma {
  input x: f32[32, 16]
  input y: f32[32, 16]
  param W: f32[16, 16] = normal(0.3)
  h = x
  for i in 0..5 {
    z = h @ W
    h = tanh(z + where(z > 0, 3.0, 5.0) * (0.37 + float(i) * 0.113))
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)", /*shares=*/false);
}

// One constant arm is enough (a reviewer found it): `where(z > 0, z, 3) *
// c + z` is `where(z > 0, z*c, 3c) + z` to LLVM, and so is relu(z) * c. The
// step's constant as the arm, times a constant, folds the same way.
TEST(SharedKernels, ConstantFoldedIntoOneArm) {
  expectSameBits(R"(
model onearm {
  input x: f32[64, 4]
  input y: f32[64, 4]
  param W: f32[4, 4] = normal(0.5)
  h = x
  for i in 0..8 {
    z = h @ W
    h = tanh(where(z > 0, z, 3.0) * (0.37 + float(i) * 0.113) + z)
    h = tanh(where(h > 0, h, 0.37 + float(i) * 0.113) * 0.37 + z)
    h = h + 0.1 * sin(float(i) * 0.1 + 0.1) * relu(z)
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)", /*shares=*/false);
}

// pow(x, 2.0) is x*x, and pow(x, -1.0) 1/x, each rounded otherwise than
// powf's result.
TEST(SharedKernels, PowByItsExponent) {
  expectSameBits(R"(
const CS = [1.5, 3.25, 3.5, 2.0, -1.0]
model powrepro {
  input x: f32[64, 64]
  input y: f32[64, 64]
  param W: f32[64, 64] = normal(0.05)
  h = x
  for i in 0..len(CS) {
    h = pow(abs(h @ W) + 0.5, CS[i]) * 0.25
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)", /*shares=*/false);
}

// A division by a constant whose f32 reciprocal is subnormal: LLVM divides
// each arm of the where (InstCombine keeps such a division), where a
// multiplication by the reciprocal keeps fewer bits.
TEST(SharedKernels, SubnormalReciprocal) {
  expectSameBits(R"(
model seldiv {
  input x: f32[32, 16]
  input y: f32[32, 16]
  param W: f32[16, 16] = normal(0.3)
  h = x
  for i in 0..6 {
    z = h @ W
    h = tanh(where(z > 0, 3.0, 7.0) / (2.35e38 + float(i) * 1.3e37) * 1.0e38 * z)
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)", /*shares=*/false);
}

// With the scale in the code, LLVM computes z * s once for log_softmax's
// max and its exponent; read from memory, the two stay apart. While any
// multiply could be fused into the subtraction after it, only the pair
// apart was, and the last bit differed (an explorer found it; this test
// then allowed 1e-5). With float arithmetic exactly as written outside sums
// (codegen/EmitKernel.cpp), the bits are the same.
TEST(SharedKernels, MergedMultipliesSameBits) {
  const std::string source = R"(
const S = [0.6, 1.5, 0.75, 2.2, 1.25, 3.0]
model lsm {
  input x: f32[32, 16]
  input y: f32[32, 16]
  param W: f32[16, 16] = normal(0.3)
  h = x
  for i in 0..6 {
    z = h @ W
    h = tanh(z) + log_softmax(z * S[i]) * 0.01
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)";
  expectSameBits(source, /*shares=*/true);
}

} // namespace
