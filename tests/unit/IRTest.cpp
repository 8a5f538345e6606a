//===- tests/unit/IRTest.cpp - verifier, printer, op table, layouts -------===//
#include "ir/Builder.h"
#include "ir/Layout.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

struct Fixture {
  Module m;
  Graph *g;
  Builder *b;
  std::unique_ptr<Builder> owned;
  Fixture() {
    m.name = "t";
    g = &m.addGraph("model");
    owned = std::make_unique<Builder>(*g);
    b = owned.get();
  }
};

TEST(OpTable, EveryOpHasAMnemonicThatParsesBack) {
  for (unsigned i = 0; i < kNumOps; ++i) {
    const OpInfo &info = opInfo(OpKind(i));
    EXPECT_EQ(info.kind, OpKind(i));
    auto k = parseOpKind(info.mnemonic);
    ASSERT_TRUE(k) << info.mnemonic.str();
    EXPECT_EQ(*k, OpKind(i));
  }
}

TEST(OpTable, TypeRulesRejectBadOperands) {
  TensorType a(DType::F32, {2, 3}), b(DType::F32, {4, 5});
  auto mm = inferType(OpKind::MatMul, {a, b}, {}, nullptr);
  ASSERT_FALSE(mm);
  EXPECT_EQ(llvm::toString(mm.takeError()), "'matmul' inner dims differ: f32[2,3] @ f32[4,5]");
  auto add = inferType(OpKind::Add, {a, a.withDType(DType::F64)}, {}, nullptr);
  ASSERT_FALSE(add);
  EXPECT_EQ(llvm::toString(add.takeError()), "'add' operands differ: f32[2,3] and f64[2,3]");
  Attrs axes;
  axes.set(AttrKey::Axes, std::vector<int64_t>{1});
  auto r = inferType(OpKind::ReduceSum, {a}, axes, nullptr);
  ASSERT_TRUE(bool(r));
  EXPECT_EQ(str(*r), "f32[2,1]");
}

// Offsets come from text IR as any int64: one near 2^63 wrapped the sum
// offset + size negative, so a window outside its tensor passed and the
// executable read out of bounds.
TEST(OpTable, WindowOffsetsDoNotOverflow) {
  TensorType big(DType::F32, {4, 2}), small(DType::F32, {4, 1});
  Attrs at;
  at.set(AttrKey::Offsets, std::vector<int64_t>{0, INT64_MAX});
  auto slice = inferType(OpKind::Slice, {big}, at, &small);
  ASSERT_FALSE(slice);
  EXPECT_EQ(llvm::toString(slice.takeError()),
            "'slice' window f32[4,1] at offsets [0, 9223372036854775807] does not fit f32[4,2]");
  auto pad = inferType(OpKind::Pad, {small}, at, &big);
  ASSERT_FALSE(pad);
  EXPECT_EQ(llvm::toString(pad.takeError()), "'pad' window f32[4,1] at offsets [0, 9223372036854775807] does not fit f32[4,2]");
  at.set(AttrKey::Offsets, std::vector<int64_t>{0, 1});
  EXPECT_TRUE(bool(inferType(OpKind::Slice, {big}, at, &small)));
}

// Concat's result dim is a sum over its operands, which a long enough
// operand list took past 64 bits.
TEST(OpTable, ConcatDimDoesNotOverflow) {
  TensorType half(DType::F32, {int64_t(1) << 62});
  Attrs axis;
  axis.set(AttrKey::Axis, int64_t(0));
  auto c = inferType(OpKind::Concat, {half, half}, axis, nullptr);
  ASSERT_FALSE(c);
  EXPECT_EQ(llvm::toString(c.takeError()), "'concat' joins more than 137438953472 elements on axis 0");
}

TEST(Verifier, AcceptsAWellFormedGraph) {
  Fixture f;
  Node *x = f.b->leaf(OpKind::Input, "x", TensorType(DType::F32, {2}));
  Node *w = f.b->leaf(OpKind::Param, "w", TensorType(DType::F32, {2}));
  Node *loss = f.b->reshape(f.b->reduce(OpKind::ReduceSum, f.b->mul(x, w), {0}), {});
  f.g->outputs.push_back({"loss", loss});
  f.g->updates.push_back({w, f.b->sub(w, x)});
  EXPECT_TRUE(verify(f.m).empty());
}

TEST(Verifier, ReportsEveryProblem) {
  Fixture f;
  Node *x = f.b->leaf(OpKind::Input, "x", TensorType(DType::F32, {2}));
  Node *w = f.b->leaf(OpKind::Param, "w", TensorType(DType::F32, {2}));
  Node *y = f.b->add(x, w);
  y->type = TensorType(DType::F32, {3}); // wrong type
  Node *early = f.b->neg(x);
  std::swap(f.g->nodes[0], f.g->nodes[3]); // `early` now comes before its operand
  f.g->renumber();
  f.b->leaf(OpKind::Input, "x", TensorType(DType::F32, {2})); // duplicate input name
  f.g->outputs.push_back({"loss", y});
  f.g->outputs.push_back({"loss", early});
  f.g->updates.push_back({x, y});                                      // not stateful
  f.g->updates.push_back({w, f.b->constant(1, TensorType(DType::F32, {5}))}); // wrong type
  auto errs = verify(f.m);
  std::string all;
  for (auto &e : errs) all += e + "\n";
  EXPECT_NE(all.find("has type f32[3] but its operands give f32[2]"), std::string::npos) << all;
  EXPECT_NE(all.find("uses a value that is not defined before it"), std::string::npos) << all;
  EXPECT_NE(all.find("redefines input \"x\""), std::string::npos) << all;
  EXPECT_NE(all.find("output \"loss\" is defined twice"), std::string::npos) << all;
  EXPECT_NE(all.find("an update targets something that is not a param or state"), std::string::npos) << all;
  EXPECT_NE(all.find("update of \"w\" has type f32[5], not f32[2]"), std::string::npos) << all;
}

TEST(Printer, NamesLocationsAndProvenance) {
  Fixture f;
  uint32_t file = f.m.fileId("t.grad");
  f.m.sourceLines[{file, 3}] = "pred = x * w";
  f.b->loc = Location{file, 3, 10};
  Node *x = f.b->leaf(OpKind::Input, "x", TensorType(DType::F32, {2}));
  Node *w = f.b->leaf(OpKind::Param, "w", TensorType(DType::F32, {2}));
  Node *p = f.b->mul(x, w);
  p->name = "pred";
  f.b->prov = {Phase::Backward, "pred", "mul.rhs"};
  Node *g = f.b->mul(x, p);
  f.g->outputs.push_back({"pred", p});
  f.g->outputs.push_back({"g", g});
  std::string text = toString(f.m);
  EXPECT_NE(text.find("  %pred = mul %x, %w : f32[2] loc(\"t.grad\":3:10)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  %0 = mul %x, %pred : f32[2] loc(\"t.grad\":3:10) grad(\"pred\", \"mul.rhs\")\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("// t.grad:3: pred = x * w"), std::string::npos) << text;
  EXPECT_NE(text.find("// backward of pred   (t.grad:3: pred = x * w)"), std::string::npos) << text;
  EXPECT_NE(text.find("  output \"pred\" = %pred\n"), std::string::npos) << text;
}

TEST(Layout, ReshapeStridesSplitAndMerge) {
  // Contiguous [6, 4] viewed as [2, 3, 4]: a split.
  auto s = reshapeStrides({6, 4}, {4, 1}, {2, 3, 4});
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, (Dims{12, 4, 1}));
  // A transposed [4, 6] (strides 1, 4) cannot merge into one dim of 24.
  EXPECT_FALSE(reshapeStrides({4, 6}, {1, 4}, {24}));
  // But unit dims come and go freely.
  auto u = reshapeStrides({4, 1, 6}, {1, 99, 4}, {4, 6});
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (Dims{1, 4}));
}

TEST(Layout, StridedViewThroughTransposeAndBroadcast) {
  Fixture f;
  Node *x = f.b->leaf(OpKind::Input, "x", TensorType(DType::F32, {3, 4}));
  Node *t = f.b->transpose(x, {1, 0});
  Node *bc = f.b->broadcastTo(t, {5, 4, 3});
  auto v = stridedView(bc, [](const Node *n) { return n->has(Leaf); });
  ASSERT_TRUE(v);
  EXPECT_EQ(v->base, x);
  EXPECT_EQ(v->strides, (Dims{0, 1, 4}));
}

TEST(Types, BroadcastShapes) {
  EXPECT_EQ(*broadcastShapes({4, 1}, {3}), (Dims{4, 3}));
  EXPECT_EQ(*broadcastShapes({}, {2, 2}), (Dims{2, 2}));
  EXPECT_FALSE(broadcastShapes({4, 2}, {3}));
}

} // namespace
