//===- tests/unit/PassEquivalenceTest.cpp - passes do not change numbers --===//
//
// Each example is compiled twice in f64: once without the pass under test,
// once with it, both then fused and planned the same way. Both run one
// training step, an eval and a predict from the same inputs and parameters;
// every output and every updated parameter must agree to 1e-10 relative.
// (Not bit for bit: a pass may change how a fused sum is associated.)
// Fusion itself is checked the same way: level 0 against level 1.
//
//===----------------------------------------------------------------------===//
#include "tools/GradCheck.h"

#include "runtime/driver/Session.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace gradc;

namespace {

using Snapshot = std::map<std::string, std::vector<double>>;

struct Built {
  std::unique_ptr<Compiler> compiler;
  const GrtModel *model = nullptr;
};

Built build(const std::string &example, const std::vector<std::string> &middle, unsigned fusion,
            const std::vector<std::pair<std::string, std::string>> &defines = {}) {
  CompileOptions o;
  // An example, or a model of tests/lit/Inputs named by its file.
  bool input = llvm::StringRef(example).ends_with(".grad");
  o.input = input ? std::string(GRADC_TEST_INPUTS_DIR) + "/" + example : std::string(GRADC_EXAMPLES_DIR) + "/" + example + ".grad";
  o.sema.floatType = DType::F64;
  o.sema.defines = defines;
  o.passes.fusionLevel = fusion;
  Built b;
  b.compiler = std::make_unique<Compiler>(o);
  Compiler &c = *b.compiler;
  std::vector<std::string> passes{"autodiff", "optimizer", "split-entries"};
  passes.insert(passes.end(), middle.begin(), middle.end());
  passes.push_back("fuse");
  passes.push_back("fuse-slices");
  passes.push_back("plan-memory");
  if (!c.load() || !c.runPasses(passes) || !c.lower() || !c.optimize()) return b;
  b.model = c.jit();
  return b;
}

Snapshot run(const GrtModel &m) {
  grt::Session s(m, 1);
  prepareSession(s, 7, 0.1);
  Snapshot snap;
  auto take = [&](llvm::StringRef prefix) {
    for (auto &sl : s.slots) {
      bool out = sl.tensor->role == GRT_OUTPUT && sl.tensor->name != grt::outputTensor("lr");
      if (!out && sl.tensor->role != GRT_PARAM && sl.tensor->role != GRT_STATE) continue;
      auto &v = snap[prefix.str() + sl.tensor->name];
      v.clear();
      for (int64_t i = 0; i < sl.numel; ++i) v.push_back(grt::Session::get(sl, i));
    }
  };
  for (const char *e : {"predict", "eval", "train"})
    if (s.has(e)) {
      s.run(e);
      take(std::string(e) + ":");
    }
  return snap;
}

void expectSame(const Snapshot &a, const Snapshot &b, const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (auto &[name, va] : a) {
    auto it = b.find(name);
    ASSERT_NE(it, b.end()) << what << ": " << name;
    const auto &vb = it->second;
    ASSERT_EQ(va.size(), vb.size()) << name;
    for (size_t i = 0; i < va.size(); ++i) {
      // Relative, with an absolute floor of 1e-16 below magnitude 1e-6: a
      // gradient that is zero in exact arithmetic (a key bias: softmax
      // ignores a constant added to every score) is rounding noise.
      double scale = std::max({std::fabs(va[i]), std::fabs(vb[i]), 1e-6});
      ASSERT_LE(std::fabs(va[i] - vb[i]) / scale, 1e-10) << what << ": " << name << "[" << i << "] " << va[i] << " vs " << vb[i];
    }
  }
}

struct Case {
  std::string example, pass;
};
// Names the case in test listings (instead of its bytes).
[[maybe_unused]] void PrintTo(const Case &c, std::ostream *os) { *os << c.example << " " << c.pass; }

class PassKeepsNumbers : public ::testing::TestWithParam<Case> {};

TEST_P(PassKeepsNumbers, SameOutputsBeforeAndAfter) {
  const Case &c = GetParam();
  if (c.pass == "fuse") {
    // One kernel per op against each fusion level (2 adds matmul epilogues).
    Built unfused = build(c.example, {}, 0);
    ASSERT_TRUE(unfused.model);
    Snapshot a = run(*unfused.model);
    EXPECT_FALSE(a.empty());
    for (unsigned level : {1u, 2u, 3u}) {
      Built fused = build(c.example, {}, level);
      ASSERT_TRUE(fused.model);
      expectSame(a, run(*fused.model), c.example + " at fusion 0 and " + std::to_string(level));
    }
    return;
  }
  Built before = build(c.example, {}, 2), after = build(c.example, {c.pass}, 2);
  ASSERT_TRUE(before.model && after.model);
  Snapshot a = run(*before.model), b = run(*after.model);
  EXPECT_FALSE(a.empty());
  expectSame(a, b, c.example + " with and without " + c.pass);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char *ex : {"linreg", "logreg", "mlp_1d", "mlp_nd", "moons"})
    for (const char *p : {"constfold", "matvec", "simplify", "cse", "dce", "fuse"}) out.push_back({ex, p});
  // Products with a side of 2 to 4 in every orientation (matvec's thin forms).
  out.push_back({"thin_products.grad", "matvec"});
  // Products with one-hot matrices, in every orientation, indices outside
  // [0, N) included (onehot-products' lookups and scatter_adds).
  out.push_back({"onehot_products.grad", "onehot-products"});
  // Transposes moved out of elementwise ops and reductions.
  out.push_back({"transposed_reductions.grad", "simplify"});
  return out;
}

// Every fused kernel of the GPT (softmax, layer norm, cross-entropy, Adam,
// matmul epilogues, attention run slice by slice forward and backward)
// against one kernel per op, on odd sizes: batch 3, context 7, width 15 in
// 3 heads of 5, vocabulary 256.
TEST(FusedKernels, SameAsOneKernelPerOpOnOddSizes) {
  std::vector<std::pair<std::string, std::string>> odd{
      {"B", "3"}, {"T", "7"}, {"n_embd", "15"}, {"n_head", "3"}, {"n_layer", "1"}};
  Built unfused = build("gpt", {}, 0, odd);
  ASSERT_TRUE(unfused.model);
  Snapshot a = run(*unfused.model);
  EXPECT_FALSE(a.empty());
  for (unsigned level : {1u, 2u, 3u}) {
    Built fused = build("gpt", {}, level, odd);
    ASSERT_TRUE(fused.model);
    if (level == 3) {
      // Attention forward and backward each run as one slice group over
      // [3, 3], with the [7, 7] scores in per-slice scratch.
      const Graph *train = fused.compiler->module->graph("train");
      ASSERT_TRUE(train);
      ASSERT_EQ(train->sliceGroups.size(), 2u);
      for (const SliceGroup &sg : train->sliceGroups) EXPECT_EQ(sg.batch, (Dims{3, 3}));
      EXPECT_TRUE(llvm::any_of(train->nodes, [](auto &n) { return n->storage.kind == Storage::Local; }));
    }
    expectSame(a, run(*fused.model), "gpt (odd sizes) at fusion 0 and " + std::to_string(level));
  }
}

// codegen/RebaseBuffers.cpp moves base pointers only: the kernels of the
// windows x[:, i:i+8] read and write the same elements as before, so every
// output and updated parameter is the same, bit for bit.
TEST(RebaseBuffers, SameBitsAsUnmoved) {
  auto make = [](bool rebase) {
    CompileOptions o;
    o.input = std::string(GRADC_TEST_INPUTS_DIR) + "/slice_windows.grad";
    o.sema.floatType = DType::F64;
    o.sema.defines = {{"L", "9"}};
    o.schedule.rebaseBuffers = rebase;
    Built b;
    b.compiler = std::make_unique<Compiler>(o);
    Compiler &c = *b.compiler;
    if (c.load() && c.runPipeline() && c.lower() && c.optimize()) b.model = c.jit();
    return b;
  };
  Built moved = make(true), unmoved = make(false);
  ASSERT_TRUE(moved.model && unmoved.model);
  Snapshot a = run(*unmoved.model), b = run(*moved.model);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Examples, PassKeepsNumbers, ::testing::ValuesIn(cases()),
                         [](const auto &info) {
                           std::string name = info.param.example + "_" + info.param.pass;
                           llvm::erase_if(name, [](char c) { return !llvm::isAlnum(c) && c != '_'; });
                           return name;
                         });

} // namespace
