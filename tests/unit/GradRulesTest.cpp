//===- tests/unit/GradRulesTest.cpp - every gradient rule vs finite differences
//
// For each differentiable op, a tiny model whose loss runs through that op is
// compiled in f64, run in-process, and its symbolic gradients compared with
// central finite differences (tools/GradCheck.h) at a random point, to 1e-6
// relative. The loss is sum(sin(y)) + 0.1·sum(y²), non-linear in y, so a
// rule that is merely proportional to the right answer still fails.
//
//===----------------------------------------------------------------------===//
#include "tools/GradCheck.h"

#include "ir/Builder.h"
#include "passes/GradRules.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

/// Compiles a module (from source or built in C++) for gradient checking and
/// returns the report. The Compiler must outlive the JIT'd code.
struct Checked {
  std::unique_ptr<Compiler> compiler;
  GradCheckReport report;
  std::string errors;
};

/// Diagnostics of the test compilers, shown when a test fails.
std::string diagnostics;
llvm::raw_string_ostream diagStream(diagnostics);

Checked check(std::unique_ptr<Compiler> c, bool fromSource, const std::string &src, uint64_t seed = 1) {
  Checked out;
  diagnostics.clear();
  if (fromSource && !c->load(src)) {
    out.errors = diagnostics;
    return out;
  }
  if (!c->runPipeline() || !c->lower() || !c->optimize()) {
    out.errors = "compilation failed";
    return out;
  }
  const GrtModel *m = c->jit();
  if (!m) {
    out.errors = "jit failed";
    return out;
  }
  GradCheckOptions o;
  o.seed = seed;
  out.report = gradCheck(*m, o);
  out.compiler = std::move(c);
  return out;
}

std::unique_ptr<Compiler> f64Compiler() {
  CompileOptions o;
  o.input = "op.grad";
  o.sema.floatType = DType::F64;
  o.passes.gradsEntry = true;
  return std::make_unique<Compiler>(o, diagStream);
}

Checked checkExpr(const std::string &expr) {
  std::string src = "model t {\n"
                    "  input c: f32[3, 4]\n"
                    "  param p: f32[3, 4] = normal(1)\n"
                    "  param q: f32[3, 4] = normal(1)\n"
                    "  param r: f32[4] = normal(1)\n"
                    "  param s: f32[3, 1] = normal(1)\n"
                    "  param w: f32[4, 5] = normal(1)\n"
                    "  y = " + expr + "\n"
                    "  loss = sum(sin(y)) + 0.1 * sum(y * y)\n"
                    "  train sgd(lr = 0.1)\n"
                    "}\n";
  return check(f64Compiler(), true, src);
}

std::string describe(const GradCheckReport &r) {
  std::string s;
  llvm::raw_string_ostream os(s);
  r.print(os);
  return s;
}

struct OpCase {
  const char *name;
  const char *expr;
};

void PrintTo(const OpCase &c, std::ostream *os) { *os << c.name; }

class GradRule : public ::testing::TestWithParam<OpCase> {};

TEST_P(GradRule, MatchesFiniteDifferences) {
  Checked c = checkExpr(GetParam().expr);
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  EXPECT_TRUE(c.report.passed()) << GetParam().expr << "\n" << describe(c.report);
}

const OpCase kCases[] = {
    {"add", "p + q"},
    {"sub", "p - q"},
    {"mul", "p * q"},
    {"div", "p / (2 + q * q)"},
    {"neg", "-p * q"},
    {"exp", "exp(p * 0.5)"},
    {"log", "log(1 + p * p)"},
    {"sqrt", "sqrt(1 + p * p)"},
    {"tanh", "tanh(p) * q"},
    {"sin", "sin(p) * q"},
    {"cos", "cos(p) * q"},
    {"max", "maximum(p, q)"},
    {"min", "minimum(p, q)"},
    {"select", "where(q > 0, p * p, p * 3)"},
    {"broadcast", "p * r + s"},
    {"reshape", "reshape(p, [2, 6]) * 2"},
    {"transpose", "transpose(reshape(p * q, [3, 2, 2]), [2, 0, 1])"},
    {"slice", "p[1:3, 0:2] * q[0:2, 2:4]"},
    {"index", "p[:, 1] * s[:, 0]"},
    {"concat", "concat([p, q * 2], 1)"},
    {"concat0", "concat([p, reshape(r, [1, 4])], 0)"},
    {"reduce_sum", "sum(p * q, 1)"},
    {"reduce_sum_keep", "sum(p, 0, true) * r"},
    {"reduce_max", "max(p * q, 1)"},
    // Every element ties with its copy: the gradient must not count twice.
    {"reduce_max_ties", "max(concat([p, p], 0), 0, true) * q"},
    {"matmul", "p @ w"},
    {"matmul_ta", "transpose(p) @ q"},
    {"matmul_tb", "p @ transpose(q)"},
    {"matmul_tatb", "transpose(w) @ transpose(p)"},
    {"matmul_batched", "reshape(p, [3, 2, 2]) @ reshape(q, [3, 2, 2])"},
    {"matmul_rank3_by_matrix", "reshape(p, [3, 1, 4]) @ w"},
    // Two batch dimensions, as attention's [B, H, T, D] has.
    {"matmul_two_batch_dims", "reshape(p, [2, 3, 2, 1]) @ reshape(q, [2, 3, 1, 2])"},
    {"matmul_two_batch_dims_tb", "reshape(p, [2, 3, 2, 1]) @ transpose(reshape(q, [2, 3, 2, 1]))"},
    {"attention_heads", "reshape(transpose(reshape(p, [3, 2, 2]), [1, 0, 2]) @ transpose(reshape(q, [3, 2, 2]), [1, 2, 0]), [2, 9])"},
    {"gather", "gather(w, concat([arange(3), arange(2)]))"},
    // Composites from the prelude, differentiated through their primitives.
    {"sigmoid", "sigmoid(p) * q"},
    {"relu", "relu(p) * q"},
    {"abs", "abs(p) * q"},
    {"gelu", "gelu(p) * q"},
    {"softmax", "softmax(p * q)"},
    {"log_softmax", "log_softmax(p * q)"},
    {"layer_norm", "ln.layer_norm(p * q)"},
    {"variance", "variance(p * q, 1)"},
    {"mean", "mean(p * q, 0)"},
    {"cross_entropy", "cross_entropy(p * q, arange(3))"},
    {"binary_cross_entropy", "binary_cross_entropy(sigmoid(p), sigmoid(q))"},
    {"mse", "mse(p, q)"},
};

INSTANTIATE_TEST_SUITE_P(Ops, GradRule, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<OpCase> &i) { return std::string(i.param.name); });

/// Ops the language does not write directly: build the model in C++.
Checked checkBuilt(const std::function<Node *(Builder &, Graph &)> &body) {
  auto c = f64Compiler();
  c->module = std::make_unique<Module>();
  Module &m = *c->module;
  m.name = "built";
  m.after = stepOf(Step::Sema).name.str(); // as sema would leave it
  m.train.optimizer = "sgd";
  m.train.args = {{"lr", 0.1}, {"decay", std::string("none")}};
  Graph &g = m.addGraph("model");
  Builder b(g);
  Node *y = body(b, g);
  Node *loss = b.add(b.sumToShape(b.unary(OpKind::Sin, y), {}), b.scale(b.sumToShape(b.mul(y, y), {}), 0.1));
  g.outputs.push_back({"loss", loss});
  return check(std::move(c), false, "");
}

TEST(GradRuleBuilt, Pad) {
  Checked c = checkBuilt([](Builder &b, Graph &) {
    Attrs init;
    init.set(AttrKey::Init, std::string("normal(1)"));
    Node *p = b.leaf(OpKind::Param, "p", TensorType(DType::F64, {3, 4}), init);
    return b.mul(b.pad(p, {1, 0}, {5, 4}), b.pad(b.unary(OpKind::Tanh, p), {0, 0}, {5, 4}));
  });
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  EXPECT_TRUE(c.report.passed()) << describe(c.report);
}

TEST(GradRuleBuilt, ScatterAdd) {
  Checked c = checkBuilt([](Builder &b, Graph &) {
    Attrs init;
    init.set(AttrKey::Init, std::string("normal(1)"));
    Node *u = b.leaf(OpKind::Param, "u", TensorType(DType::F64, {6, 4}), init);
    Node *i3 = b.iota(TensorType(DType::I32, {3}), 0);
    Attrs axis;
    axis.set(AttrKey::Axis, int64_t(0));
    Node *idx = b.create(OpKind::Concat, {i3, i3}, axis); // 0 1 2 0 1 2: rows receive two updates each
    TensorType out(DType::F64, {3, 4});
    return b.create(OpKind::ScatterAdd, {idx, b.mul(u, u)}, {}, &out);
  });
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  EXPECT_TRUE(c.report.passed()) << describe(c.report);
}

TEST(GradCheck, StopGradientBlocksTheGradient) {
  // The true derivative with respect to q is not zero, but stop_gradient
  // says to ignore it: autodiff gives exactly zero for q, and the check of p
  // (which does not go through stop_gradient) passes.
  Checked c = checkExpr("p * stop_gradient(q)");
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  for (auto &t : c.report.tensors) {
    if (t.name == "q") {
      EXPECT_EQ(t.maxGrad, 0.0);
    }
    if (t.name == "p") {
      EXPECT_LE(t.maxRel, 1e-6) << describe(c.report);
    }
  }
}

TEST(GradCheck, AllZeroGradientsFail) {
  Checked c = checkExpr("stop_gradient(p) + c");
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  EXPECT_FALSE(c.report.anyNonZero);
  EXPECT_FALSE(c.report.passed());
}

TEST(Autodiff, AMissingRuleIsAnErrorNamingTheOp) {
  auto comp = f64Compiler();
  comp->opts.passes.missingGradRule = "tanh";
  ASSERT_TRUE(comp->load("model t {\n input c: f32[3]\n param p: f32[3]\n loss = sum(tanh(p * c))\n train sgd(lr = 0.1)\n}\n"));
  std::string err;
  llvm::raw_string_ostream os(err);
  auto e = runPasses(*comp->module, {"autodiff"}, comp->opts.passes);
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(llvm::toString(std::move(e)), "autodiff: no gradient rule for op 'tanh' (used at op.grad:4:13)");
}

TEST(Autodiff, EveryOpHasARuleOrNeedsNone) {
  for (unsigned i = 0; i < kNumOps; ++i) {
    const OpInfo &info = opInfo(OpKind(i));
    if (info.has(Leaf) || info.has(NoGrad)) continue;
    EXPECT_NE(gradRule(OpKind(i)), nullptr) << info.mnemonic.str();
  }
}

TEST(GradCheck, CatchesABrokenRule) {
  auto comp = f64Compiler();
  comp->opts.passes.breakGradRule = "tanh";
  std::string src = "model t {\n input c: f32[3, 4]\n param p: f32[3, 4] = normal(1)\n y = tanh(p)\n"
                    " loss = sum(sin(y))\n train sgd(lr = 0.1)\n}\n";
  Checked c = check(std::move(comp), true, src);
  ASSERT_TRUE(c.errors.empty()) << c.errors;
  EXPECT_FALSE(c.report.passed()) << describe(c.report);
}

} // namespace
