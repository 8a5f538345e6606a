//===- tests/unit/LastReadTest.cpp - a copied gradient is read by its copy ===//
//
// Data-parallel training with --overlap averages a gradient in place as
// soon as the last kernel that reads it has run (Kernel::Stored::lastRead).
// When two params have one gradient (a + b in the prediction: CSE makes
// grad.b the same value as grad.a), @grads stores it once and then copies
// it into grad.b's slot, in a copy kernel after all the graph's kernels.
// That copy reads grad.a: it must count as grad.a's last reader, or grad.a
// is averaged while the copy still reads it (a different result each run).
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"

#include <gtest/gtest.h>

#include <string>

using namespace gradc;

TEST(LastRead, ACopyOfAGradientReadsItLast) {
  CompileOptions o;
  o.input = "shared.grad";
  o.passes.dataParallel = true;
  Compiler c(o);
  ASSERT_TRUE(c.load(R"(model shared {
  input x: f32[16, 3]
  input y: f32[16, 5]
  param w: f32[3, 5] = ones
  param a: f32[5] = zeros
  param b: f32[5] = zeros
  loss = mean(square(x @ w + a + b - y))
  train sgd(lr = 0.1)
}
)") && c.runPipeline() && c.schedule());
  const LoweredModel::Entry *grads = nullptr;
  for (auto &e : c.loops.entries)
    if (e.name == GRT_ENTRY_GRADS) grads = &e;
  ASSERT_TRUE(grads);
  // The kernel that copies a gradient slot into another reads that slot.
  int copy = -1;
  std::string source;
  for (size_t k = 0; k < grads->kernels.size(); ++k)
    for (auto &b : grads->kernels[k].buffers)
      if (grads->kernels[k].name.find(".copy") != std::string::npos && b.isSlot &&
          b.slot.rfind(GRT_OUTPUT_PREFIX GRT_GRAD_PREFIX, 0) == 0 && grads->kernels[k].summary != "output " + b.slot.substr(7)) {
        copy = int(k);
        source = b.slot;
      }
  ASSERT_GE(copy, 0) << "expected @grads to copy one gradient into another's slot";
  bool found = false;
  for (auto &k : grads->kernels)
    for (auto &st : k.stored)
      if (st.where.isSlot && st.where.slot == source) {
        found = true;
        EXPECT_GE(st.lastRead, copy) << st.what << " is read by " << grads->kernels[size_t(copy)].name;
      }
  EXPECT_TRUE(found) << source << " is stored by no kernel";
}
