//===- tests/unit/SemaTest.cpp - semantic analysis, good and bad programs -===//
#include "TestUtil.h"
#include "frontend/NearMiss.h"
#include "frontend/Parser.h"

#include "llvm/Support/MemoryBuffer.h"

#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <random>

using namespace gradc;
using namespace gradc::test;

namespace {

Node *output(const Module &m, llvm::StringRef name) { return m.graph("model")->output(name); }

TEST(Sema, LinearRegressionShapes) {
  auto a = analyze(model("  param w: f32[3, 1] = zeros\n  param b: f32[1]\n  pred = x @ w + b\n  loss = mean(square(pred - y))\n  output pred"));
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_TRUE(verify(*a.module).empty());
  EXPECT_EQ(str(output(*a.module, "pred")->type), "f32[4,1]");
  EXPECT_EQ(str(output(*a.module, "loss")->type), "f32[]");
  // The bias was broadcast explicitly.
  EXPECT_NE(toString(*a.module).find("broadcast %b : f32[4,1]"), std::string::npos);
}

TEST(Sema, BroadcastingFollowsNumPy) {
  auto a = analyze(model("  param w: f32[3] = ones\n  param s: f32[4, 1] = ones\n  z = x * w + s\n"
                         "  loss = sum(z)"));
  ASSERT_TRUE(a.module) << a.errors;
  auto text = toString(*a.module);
  EXPECT_NE(text.find("broadcast %w : f32[4,3]"), std::string::npos) << text;
  EXPECT_NE(text.find("broadcast %s : f32[4,3]"), std::string::npos) << text;
}

TEST(Sema, ConstantsAndOverrides) {
  std::string src = "const B = 8\nconst H = B / 2\nmodel m {\n input x: f32[B, H]\n param w: f32[H, 1]\n"
                    " loss = sum(x @ w)\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(a.module->graph("model")->findLeaf(OpKind::Input, "x")->type), "f32[8,4]");
  SemaOptions o;
  o.defines.push_back({"B", "6"});
  auto b = analyze(src, o);
  ASSERT_TRUE(b.module) << b.errors;
  EXPECT_EQ(str(b.module->graph("model")->findLeaf(OpKind::Input, "x")->type), "f32[6,3]");
  o.defines.push_back({"nope", "1"});
  auto c = analyze(src, o);
  EXPECT_FALSE(c.module);
  EXPECT_NE(c.errors.find("-D nope=1: the model has no constant 'nope' (its constants: B, H)"), std::string::npos) << c.errors;
}

TEST(Sema, FunctionConstantsSelectActivations) {
  std::string src = "const act = tanh\nmodel m {\n input x: f32[2, 2]\n param w: f32[2, 2]\n"
                    " loss = sum(act(x @ w))\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_NE(toString(*a.module).find("= tanh "), std::string::npos);
  SemaOptions o;
  o.defines.push_back({"act", "identity"});
  auto b = analyze(src, o);
  ASSERT_TRUE(b.module) << b.errors;
  EXPECT_EQ(toString(*b.module).find("= tanh "), std::string::npos);
}

TEST(Sema, WhereWithACompileTimeConditionPicksABranch) {
  // sigmoid (a where over x >= 0) of a number is a number too: the shape
  // below is [2, 3] only if both wheres are decided at compile time.
  std::string src = "const n = where(1 > 2, 5, 2)\nconst k = where(sigmoid(-1.0) < 0.5, 3, 4)\n"
                    "model m {\n input x: f32[n, k]\n param w: f32[k, 1]\n loss = sum(x @ w)\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(a.module->graph("model")->findLeaf(OpKind::Input, "x")->type), "f32[2,3]");
}

TEST(Sema, RemainderOfTheMostNegativeIntegerByMinusOneIsZero) {
  // -2^63 % -1 is 0 and fits (it was reported as an overflow); only the
  // quotient -2^63 // -1 = 2^63 does not.
  std::string src = "const BIG = 9007199254740992 * 512\nconst Q = (-BIG - BIG) % -1\n"
                    "model m {\n input x: f32[4, Q + 3]\n param w: f32[3, 1]\n loss = sum(x @ w)\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(a.module->graph("model")->findLeaf(OpKind::Input, "x")->type), "f32[4,3]");
  auto b = analyze("const BIG = 9007199254740992 * 512\nconst Q = (-BIG - BIG) // -1\n" + model("  param w: f32[3, 1]\n  loss = sum(x @ w)"));
  EXPECT_NE(b.errors.find("integer overflow in a constant expression: -9223372036854775808 // -1"), std::string::npos) << b.errors;
}

TEST(Sema, WarnsOfParamsOnlyBehindZeroGradients) {
  // No gradient flows through an op whose derivative is zero (Stepped in
  // ir/Ops.def: floor, sign, //, ...) nor through a conversion to an
  // integer, so a param the loss reads only through them never trains.
  std::vector<std::string> uses = {"float(i32(s * 3))"};
  for (unsigned k = 0; k < kNumOps; ++k) {
    const OpInfo &op = opInfo(OpKind(k));
    if (!op.has(Stepped)) continue;
    std::string name = surfaceName(op).str();
    uses.push_back(isFunctionSurface(op) ? name + "(s)" : "(s " + name + " 2)");
  }
  ASSERT_GE(uses.size(), 6u);
  for (auto &use : uses) {
    auto a = analyze(model("  param w: f32[3, 1]\n  param s: f32[] = ones\n  loss = mean(x @ w) + mean(x) * " + use));
    ASSERT_TRUE(a.module) << use << "\n" << a.errors;
    EXPECT_NE(a.errors.find("warning: the loss reads param 's' only through ops that pass no gradient"), std::string::npos)
        << use << "\n" << a.errors;
  }
  // Through a differentiable op it trains, and nothing is said.
  auto b = analyze(model("  param w: f32[3, 1]\n  param s: f32[] = ones\n  loss = mean(x @ w) * abs(s) + float(i32(s)) * s"));
  ASSERT_TRUE(b.module) << b.errors;
  EXPECT_EQ(b.errors.find("warning:"), std::string::npos) << b.errors;
}

TEST(Sema, NoneComparesAtCompileTime) {
  // A function tests whether a default was left as none: == and != with
  // none on either side are compile-time booleans, with any other value.
  std::string src = "fn lin(x, n = none) {\n if n == none { n = dim(x, -1) }\n param w: f32[dim(x, -1), n]\n"
                    " return x @ w\n}\n"
                    "model m {\n input x: f32[4, 3]\n a = p.lin(x)\n b = q.lin(x, 2)\n"
                    " c = where(none != x && x != none && !(none == 1) && \"s\" != none && none == none, 1, 0)\n"
                    " loss = sum(a) + sum(b) * c\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(a.module->graph("model")->findLeaf(OpKind::Param, "p.w")->type), "f32[3,3]");
  EXPECT_EQ(str(a.module->graph("model")->findLeaf(OpKind::Param, "q.w")->type), "f32[3,2]");
  // Other operators still refuse none.
  auto b = analyze(model("  param w: f32[3, 1]\n  loss = sum(x @ w) + (none < 1)"));
  EXPECT_NE(b.errors.find("'<' cannot combine none and the integer 1"), std::string::npos) << b.errors;
}

TEST(Sema, ScopedCallsNameParametersPerLayer) {
  std::string src = "fn layer(x) {\n param w: f32[dim(x, -1), 2] = xavier_uniform\n return tanh(x @ w)\n}\n"
                    "model m {\n input x: f32[4, 2]\n h = x\n for i in 0..3 { h = blocks[i].layer(h) }\n"
                    " loss = sum(h)\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  ASSERT_TRUE(a.module) << a.errors;
  auto params = a.module->graph("model")->leaves(OpKind::Param);
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0]->attrs.getString(AttrKey::Name), "blocks.0.w");
  EXPECT_EQ(params[2]->attrs.getString(AttrKey::Name), "blocks.2.w");
  EXPECT_EQ(params[2]->attrs.getString(AttrKey::Init), "xavier_uniform");
}

TEST(Sema, UnscopedRepeatedParameterIsAnError) {
  std::string src = "fn layer(x) {\n param w: f32[2, 2]\n return x @ w\n}\n"
                    "model m {\n input x: f32[4, 2]\n loss = sum(layer(layer(x)))\n train sgd(lr = 0.1)\n}\n";
  auto a = analyze(src);
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("parameter 'w' is defined twice"), std::string::npos) << a.errors;
  EXPECT_NE(a.errors.find("layer1.layer(...) and layer2.layer(...)"), std::string::npos) << a.errors;
  // One mistake, one error: the second call's uses of w raise nothing more.
  EXPECT_EQ(a.errors.find("error:", a.errors.find("error:") + 1), std::string::npos) << a.errors;
}

TEST(Sema, ListsJoinWithPlus) {
  // A loop collects the rows it makes, in order, for concat: [x·1, x·2, x·3].
  auto a = analyze(model("  param w: f32[3] = ones\n  outs = []\n  for i in 1..4 { outs = outs + [x[0:1, :] * w * i] }\n"
                         "  z = concat(outs, 0)\n  loss = sum(z)\n  output z"));
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(output(*a.module, "z")->type), "f32[3,3]");
  // Compile-time lists join too, and only with lists.
  auto b = analyze("const dims = [2] + [3, 1]\nmodel m {\n input x: f32[dims[0], dims[1]]\n param w: f32[1] = ones\n"
                   " loss = sum(x * w)\n"
                   " train sgd(lr = 0.1)\n}\n");
  ASSERT_TRUE(b.module) << b.errors;
  EXPECT_EQ(str(b.module->graph("model")->findLeaf(OpKind::Input, "x")->type), "f32[2,3]");
  auto c = analyze(model("  param w: f32[1] = ones\n  xs = [1] + 2\n  loss = sum(x * w)"));
  EXPECT_NE(c.errors.find("'+' cannot combine the list [1] and the integer 2"), std::string::npos) << c.errors;
  // Each item copied is a step of the budget: doubling a list 64 times
  // stops there, with the loop blamed, rather than exhausting memory.
  auto d = analyze(model("  param w: f32[1] = ones\n  xs = [1]\n  for i in 0..64 { xs = xs + xs }\n  loss = sum(x * w)"));
  EXPECT_FALSE(d.module);
  EXPECT_NE(d.errors.find("unrolling this loop (64 iterations) goes over the compile-time budget"), std::string::npos)
      << d.errors;
}

TEST(Sema, ReportsSeveralErrorsInOneRun) {
  auto a = analyze(model("  param w: f32[3, 1]\n  a = x @ q\n  b = x @ y\n  c = x + w\n  loss = sum(a)"));
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("unknown name 'q'"), std::string::npos) << a.errors;
  EXPECT_NE(a.errors.find("shape mismatch in '@': f32[4,3] @ f32[4,1]"), std::string::npos) << a.errors;
  EXPECT_NE(a.errors.find("cannot broadcast f32[4,3] and f32[3,1] in '+'"), std::string::npos) << a.errors;
}

TEST(Sema, ErrorsDoNotCascade) {
  // One unknown name used three times is reported once.
  auto a = analyze(model("  param w: f32[3, 1]\n  a = x @ nope\n  b = a + 1\n  c = b * a\n  loss = sum(c)"));
  EXPECT_FALSE(a.module);
  size_t first = a.errors.find("error:");
  EXPECT_EQ(a.errors.find("error:", first + 1), std::string::npos) << a.errors;
}

TEST(Sema, LossMustBeAFloatScalar) {
  auto a = analyze(model("  param w: f32[3, 1]\n  loss = x @ w"));
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("the loss must be a float scalar, but it is f32[4,1]"), std::string::npos) << a.errors;
}

TEST(Sema, DtypesDoNotMix) {
  auto a = analyze("model m {\n input t: i32[4]\n param w: f32[4]\n loss = sum(w * t)\n train sgd(lr = 0.1)\n}\n");
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("operands of '*' have different dtypes: f32[4] and i32[4]"), std::string::npos) << a.errors;
}

TEST(Sema, TableDataMustMatchTheInputs) {
  auto a = analyze(model("  param w: f32[3, 1]\n  loss = mean(square(x @ w - y))\n"
                         "  data table(rows = 10) {\n    x = rand_normal([10, 2])\n  }"));
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("data for input 'x' must be f32[10,3], but it is f32[10,2]"), std::string::npos) << a.errors;
  EXPECT_NE(a.errors.find("does not define input 'y'"), std::string::npos) << a.errors;
}

// In a data block, rand_* draw from the runtime's generator in order; in the
// model they hash (seed, step, call site, element), and training() is a
// switch that only the model has.
TEST(Sema, RandomInTheModelIsCounterBased) {
  auto a = analyze(model("  param w: f32[3, 1]\n  loss = sum(rand_normal([2]) * w)"));
  ASSERT_TRUE(a.module) << a.errors;
  Graph *g = a.module->graph("model");
  EXPECT_TRUE(g->findLeaf(OpKind::Hyper, "seed"));
  EXPECT_TRUE(g->findLeaf(OpKind::Hyper, "step"));
  EXPECT_TRUE(g->leaves(OpKind::RandNormal).empty());
  auto d = analyze(model("  param w: f32[3, 1]\n  loss = mean(square(x @ w - y))\n"
                         "  data table(rows = 10) {\n    x = rand_normal([10, 3])\n    y = x * float(training())\n  }"));
  EXPECT_FALSE(d.module);
  EXPECT_NE(d.errors.find("training() has a meaning only in the model"), std::string::npos) << d.errors;
}

TEST(Sema, F64BuildsPromoteEveryFloat) {
  SemaOptions o;
  o.floatType = DType::F64;
  auto a = analyze(model("  param w: f32[3, 1]\n  loss = mean(square(x @ w - y))"), o);
  ASSERT_TRUE(a.module) << a.errors;
  EXPECT_EQ(str(output(*a.module, "loss")->type), "f64[]");
}

TEST(Sema, RecursionIsCaught) {
  auto a = analyze("fn f(x) { return f(x) }\nmodel m {\n input x: f32[2]\n param w: f32[2]\n loss = sum(f(x) * w)\n"
                   " train sgd(lr = 1)\n}\n");
  EXPECT_FALSE(a.module);
  EXPECT_NE(a.errors.find("calls nest more than 64 deep; is 'f' recursive?"), std::string::npos) << a.errors;
}

// The prelude may not define a builtin's name: the builtin would never be
// called, with no message (abs was once both).
TEST(Sema, PreludeMayNotShadowABuiltin) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  llvm::SourceMgr sm;
  DiagEngine diag(sm, os);
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(test::model("  param w: f32[3, 1]\n  loss = sum(exp(x @ w))"), "m.grad"),
                        llvm::SMLoc());
  unsigned preludeId = sm.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy("fn exp(x) { return x }\nfn where(c, a, b) { return a }\n", "<prelude>"), llvm::SMLoc());
  auto user = Parser(sm.getMainFileID(), diag).parseProgram();
  auto prelude = Parser(preludeId, diag).parseProgram();
  EXPECT_FALSE(buildModule(*user, *prelude, diag, {}));
  EXPECT_NE(errors.find("<prelude>:1:4: error: the prelude defines 'exp', which is a builtin"), std::string::npos) << errors;
  EXPECT_NE(errors.find("<prelude>:2:4: error: the prelude defines 'where', which is a builtin"), std::string::npos) << errors;
}

} // namespace

// "Did you mean" computes an edit distance within a band of width 2·most
// around the table's diagonal (a full table cost a long name's length
// squared, on every pass of a loop): it must agree with LLVM's full one.
TEST(NearMiss, BandedDistanceMatchesTheFullOne) {
  std::mt19937 rng(11);
  auto word = [&](size_t len) {
    std::string w;
    for (size_t i = 0; i < len; ++i) w += char('a' + rng() % 3);
    return w;
  };
  for (int t = 0; t < 20000; ++t) {
    std::string a = word(rng() % 9), b = word(rng() % 9);
    for (unsigned most : {1u, 2u}) {
      unsigned full = llvm::StringRef(a).edit_distance(b, /*AllowReplacements=*/true);
      EXPECT_EQ(NearMiss::distanceWithin(a, b, most), std::min(full, most + 1)) << a << " " << b << " " << most;
    }
  }
  // A long name near another: linear, not quadratic, and none suggested.
  std::string longName(100000, 'v'), near = longName;
  near.back() = 'w';
  NearMiss nm(near);
  nm.consider(longName);
  EXPECT_EQ(nm.hint(), "");
  EXPECT_EQ(NearMiss::distanceWithin(longName, near, 2), 1u);
}
