//===- tests/unit/IndexRangesTest.cpp - what an index input may hold -----===//
//
// ir/IndexRanges.h on models as users write them: labels used as they
// are, shifted (labels 1..K as `y - 1`), column by column, through
// ops that end the trail, and uses no value fits.
//
//===----------------------------------------------------------------------===//
#include "ir/IndexRanges.h"

#include "TestUtil.h"

namespace gradc {
namespace {

using test::analyze;

/// The ranges of input `name` in @model of a model with `body`.
std::vector<IndexRange> rangesOf(llvm::StringRef body, llvm::StringRef name) {
  auto a = analyze(body);
  EXPECT_TRUE(a.module) << a.errors;
  if (!a.module) return {};
  Graph *g = a.module->graph("model");
  for (Node *in : g->leaves(OpKind::Input))
    if (in->attrs.getString(AttrKey::Name) == name) return indexRanges(*g, g->users(), in);
  ADD_FAILURE() << "no input " << name.str();
  return {};
}

std::string str(const IndexRange &r) {
  if (!r.bounded()) return "any";
  return std::to_string(r.low) + ".." + std::to_string(r.limit - 1);
}

std::string classifier(llvm::StringRef labels) {
  return ("model m {\n  input x: f32[4, 2]\n  input y: i32[4]\n  param w: f32[2, 3] = zeros\n"
          "  loss = cross_entropy(x @ w, " + labels + ")\n  train sgd(lr = 0.1)\n}\n").str();
}

TEST(IndexRanges, LabelsAsTheyAre) {
  auto r = rangesOf(classifier("y"), "y");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0]), "0..2");
}

TEST(IndexRanges, ShiftedLabels) {
  // Labels 1..3 written as y - 1; a shift the other way; two shifts.
  EXPECT_EQ(str(rangesOf(classifier("y - 1"), "y")[0]), "1..3");
  EXPECT_EQ(str(rangesOf(classifier("y + 2"), "y")[0]), "-2..0");
  EXPECT_EQ(str(rangesOf(classifier("1 + (y - 3)"), "y")[0]), "2..4");
}

TEST(IndexRanges, OpsThatEndTheTrail) {
  // Negated, scaled or clamped labels say nothing about which inputs are
  // valid: the range stays open rather than refusing good data.
  EXPECT_EQ(str(rangesOf(classifier("2 - y"), "y")[0]), "any");
  EXPECT_EQ(str(rangesOf(classifier("y * 2"), "y")[0]), "any");
  EXPECT_EQ(str(rangesOf(classifier("clamp(y, 0, 2)"), "y")[0]), "any");
  EXPECT_EQ(str(rangesOf(classifier("y + y"), "y")[0]), "any");
}

TEST(IndexRanges, ColumnsShiftedApart) {
  // ids[:, 0] indexes 5 users from 1, ids[:, 1] 100 items from 0.
  auto r = rangesOf("model m {\n  input ids: i32[4, 2]\n  input y: f32[4, 1]\n"
                    "  param u: f32[5, 3] = normal(0.1)\n  param v: f32[100, 3] = normal(0.1)\n"
                    "  s = sum(gather(u, ids[:, 0] - 1) * gather(v, ids[:, 1]), axis = 1, keepdims = true)\n"
                    "  loss = mean(square(s - y))\n  train sgd(lr = 0.1)\n}\n",
                    "ids");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(str(r[0]), "1..5");
  EXPECT_EQ(str(r[1]), "0..99");
}

TEST(IndexRanges, UsesThatNoValueFits) {
  auto r = rangesOf("model m {\n  input x: f32[4, 2]\n  input y: i32[4]\n  param w: f32[2, 3] = zeros\n"
                    "  loss = cross_entropy(x @ w, y) + cross_entropy(x @ w, y - 5)\n  train sgd(lr = 0.1)\n}\n",
                    "y");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].empty());
  EXPECT_EQ(r[0].low, 5);
  EXPECT_EQ(r[0].limit, 3);
  ASSERT_TRUE(r[0].lowUse && r[0].limitUse);
  EXPECT_NE(r[0].lowUse, r[0].limitUse);
}

TEST(IndexRanges, TooLargeToFollowByElement) {
  // 2048 x 2048 labels are past the element-by-element budget: every
  // column gets the one range, shift included.
  auto r = rangesOf("model m {\n  input x: f32[2048, 2048, 2]\n  input y: i32[2048, 2048]\n"
                    "  param w: f32[2, 3] = zeros\n  loss = cross_entropy(x @ w, y - 1)\n  train sgd(lr = 0.1)\n}\n",
                    "y");
  ASSERT_EQ(r.size(), 2048u);
  EXPECT_EQ(str(r[0]), "1..3");
  EXPECT_EQ(str(r[2047]), "1..3");
}

} // namespace
} // namespace gradc
