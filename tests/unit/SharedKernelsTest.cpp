//===- tests/unit/SharedKernelsTest.cpp - sharing changes no bit ----------===//
//
// Kernels that differ only in scalar constants (the steps of an unrolled
// loop, each with its own time t) share one compiled function that reads
// the constants from memory (codegen/EmitModule.cpp, EmitKernel.cpp). The
// shared function must compute what each kernel computes with its
// constants in the code, bit for bit: LLVM turns a division by a constant
// into a multiplication by its reciprocal inside a loop (LICM), and outside
// one only when the reciprocal is a normal number (InstCombine), and the
// shared kernel has to do the same by hand. Each model here is built with
// sharing and without (shareKernelsFrom = 0), trained a few steps from the
// same point, and every parameter and output compared bit for bit.
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"
#include "tools/GradCheck.h"

#include "runtime/driver/Session.h"

#include <gtest/gtest.h>

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

/// Three training steps from the point seed 7 gives, then @eval and
/// @grads: every parameter, output and gradient. The outputs (h, of every
/// row) and the gradients show a difference in the last bit; a
/// parameter's small update may round it away.
Values train(const GrtModel &m) {
  grt::Session s(m, 1);
  prepareSession(s, 7, 0.1);
  for (int i = 0; i < 3; ++i) s.run("train");
  s.run("eval");
  s.run("grads");
  Values out;
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_OUTPUT || sl.tensor->role == GRT_PARAM || sl.tensor->role == GRT_GRADIENT)
      for (int64_t i = 0; i < sl.numel; ++i) out[sl.tensor->name].push_back(grt::Session::get(sl, i));
  return out;
}

/// Builds `source` both ways; sharing must take fewer functions and give
/// the same bits.
void expectSameBits(const std::string &source) {
  Built shared = build(source, 4), separate = build(source, 0);
  ASSERT_TRUE(shared.model && separate.model);
  EXPECT_LT(shared.functions, separate.functions) << "nothing was shared: the test no longer tests sharing";
  Values a = train(*shared.model), b = train(*separate.model);
  ASSERT_EQ(a.size(), b.size());
  for (auto &[name, va] : a) {
    const std::vector<double> &vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size()) << name;
    for (size_t i = 0; i < va.size(); ++i)
      EXPECT_EQ(0, std::memcmp(&va[i], &vb[i], sizeof(double)))
          << name << "[" << i << "] = " << va[i] << " shared, " << vb[i] << " not";
  }
}

// Each step's own time t scales a product's epilogue, divides (inside the
// epilogue's loop: by the reciprocal, rounded), and an i32 compares with
// the step's position in a mask.
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
    keep = where(arange(4) >= i % 4, 1.0, 0.5)
    h = h + 0.1 * sin(t) * (tanh(h @ W1 + b1) @ W2) * keep / (1.5 + t)
  }
  loss = mean(square(h - y))
  output h
  train adam(lr = 0.01)
}
)");
}

// A scalar param divided by the step's constant before the loops (the
// division is hoisted out of them): a multiplication by 1/d, a normal
// number, but a division by 3e38, whose reciprocal in f32 is subnormal.
// Inside the loop the same 3e38 is a multiplication by that subnormal.
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
    d = 3.0 + float(i) * 0.7
    big = 3.0e38 - float(i) * 1.0e36
    h = tanh(h @ W) - s / d + (s * 1.0e38) / big + (h * 1.0e38) / big
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)");
}

// The same in f64, where 1/1e308 is subnormal.
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
    big = 1.0e308 - float(i) * 1.0e306
    h = tanh(h @ W) * (1.0 + float(i)) / 7.0 + (s * 1.0e308) / big + (h * 1.0e308) / big
  }
  loss = mean(square(h - y))
  output h
  train sgd(lr = 0.01)
}
)");
}

} // namespace
