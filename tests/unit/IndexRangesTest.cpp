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

TEST(IndexRanges, ThroughLayoutOpsAndNonUniformShifts) {
  // Transposed, concatenated with a differently shifted copy, and shifted
  // by a constant that is not one number (column c by c).
  auto r = rangesOf("model m {\n  input ids: i32[4, 3]\n  param e: f32[6, 2] = normal(0.1)\n"
                    "  a = gather(e, transpose(ids, [1, 0]) - 1)\n"
                    "  b = gather(e, concat([ids[:, 0:1] + 1, ids[:, 1:3]], 1))\n"
                    "  c = gather(e, ids + reshape(arange(3), [1, 3]))\n"
                    "  loss = mean(a) + mean(b) + mean(c)\n  train sgd(lr = 0.1)\n}\n",
                    "ids");
  ASSERT_EQ(r.size(), 3u);
  // Column 0: a takes 1..6, b -1..4, c 0..5; column 1: a 1..6, b 0..5,
  // c -1..4; column 2: a 1..6, b 0..5, c -2..3.
  EXPECT_EQ(str(r[0]), "1..4");
  EXPECT_EQ(str(r[1]), "1..4");
  EXPECT_EQ(str(r[2]), "1..3");
}

TEST(IndexRanges, ShiftsPastI32AreNotChecked) {
  // i32 arithmetic wraps: y - 2147483647 takes y = 2147483647, and the
  // range [2147483647, 2147483650) does not fit in i32. No range, rather
  // than one that refuses the valid values (or no value at all).
  EXPECT_EQ(str(rangesOf(classifier("y - 2147483647"), "y")[0]), "any");
  EXPECT_EQ(str(rangesOf(classifier("(y + 2000000000) + 2000000000"), "y")[0]), "any");
  EXPECT_EQ(str(rangesOf(classifier("y - 2147483645"), "y")[0]), "2147483645..2147483647");
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

TEST(IndexRanges, LargeInputsWithOneShiftKeepTheirRange) {
  // 900000 labels read as y - 1: the constant is one number, read without
  // computing its elements (it once fell past the budget, and the labels
  // went unchecked: label 0 trained with a loss of 0).
  auto r = rangesOf("model m {\n  input x: f32[900000, 2]\n  input y: i32[900000]\n"
                    "  param w: f32[2, 3] = zeros\n  loss = cross_entropy(x @ w, y - 1)\n  train sgd(lr = 0.1)\n}\n",
                    "y");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0]), "1..3");
}

TEST(IndexRanges, LargeInputsWhoseColumnsDifferGetNone) {
  // Past the budget, which column reaches which use is not followed: one
  // range for all would refuse valid values of the other column (users
  // 10..14 as ids[:, 0] - 10, items 0..4: no value fits both, and the
  // build failed). With uses that disagree, no column is checked.
  auto r = rangesOf("model m {\n  input ids: i32[3000000, 2]\n  param u: f32[5, 2] = normal(0.1)\n"
                    "  param v: f32[5, 2] = normal(0.1)\n"
                    "  loss = mean(gather(u, ids[:, 0] - 10) * gather(v, ids[:, 1]))\n  train sgd(lr = 0.1)\n}\n",
                    "ids");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(str(r[0]), "any");
  EXPECT_EQ(str(r[1]), "any");
}

} // namespace
} // namespace gradc
