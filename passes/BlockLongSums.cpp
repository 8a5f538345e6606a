//===- passes/BlockLongSums.cpp - long column sums added up in blocks -----===//
//
// A column reduction (ir/Kernel.h) adds each row into its output row in
// turn. When millions of rows go into one sum, each addend is tiny beside
// the running total and f32 rounding piles up: a column sum over
// [262144, 9] came out 3e-4 off. So a float column sum of at least
// kBlockedSumTerms terms per output sums blocks of about sqrt(terms) terms
// first, then the block sums; the rounding error grows with about
// 2·sqrt(terms) instead of terms.
//
//   %s = reduce_sum %x {axes = [0]} : f32[1,9]          x: f32[262144,9]
// becomes
//   %v = reshape %x : f32[512,512,9]                    512 blocks of 512 rows
//   %p = reduce_sum %v {axes = [1]} : f32[512,1,9]      one sum per block
//   %q = reduce_sum %p {axes = [0]} : f32[1,1,9]        the block sums, in order
//   %s = reshape %q : f32[1,9]
//
// The longest reduced axis is the one split, into blocks of a divisor of its
// length near the ideal where there is one (blockedSumPart, ir/Kernel.h),
// else of a power of two of its entries, the entries past the last whole
// block then summed on their own (a slice) and added. Both sums are column reductions again, so the
// first still runs in memory order, threads sharing it by blocks. Sums in
// other kernels (a full mean, a row sum) are blocked in the loop itself
// (codegen/Schedule.cpp, blockedSum), by the same rule.
//
// The order depends on the shapes alone, so results stay bit-identical for
// any thread count and fusion level.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Kernel.h"
#include "passes/Rewrite.h"

namespace gradc {
namespace {

/// The sum of x over `axes`, keeping them as size 1, in blocks where long.
Node *blockedSum(Builder &b, Node *x, llvm::ArrayRef<int64_t> axes) {
  const Dims &shape = x->type.shape;
  int64_t terms = 1, split = -1;
  for (int64_t ax : axes) {
    terms *= shape[ax];
    if (split < 0 || shape[ax] > shape[split]) split = ax;
  }
  if (terms < kBlockedSumTerms) return b.reduce(OpKind::ReduceSum, x, axes);

  int64_t block = blockedSumBlock(terms);
  int64_t others = terms / shape[split];
  int64_t part = block / others >= 2 ? blockedSumPart(shape[split], block / others) : 1;
  llvm::SmallVector<int64_t, 4> rest;
  for (int64_t ax : axes)
    if (ax != split) rest.push_back(ax);
  if (part == 1) {
    // The other axes fill a block: sum them first, then along `split`.
    return b.reduce(OpKind::ReduceSum, blockedSum(b, x, rest), {split});
  }

  // x[..., blocks·part, ...] viewed as [..., blocks, part, ...]: sum each
  // block over `part` and the other axes, then the blocks.
  int64_t extent = shape[split], blocks = extent / part;
  Dims offsets(shape.size(), 0), whole(shape.begin(), shape.end());
  whole[split] = blocks * part;
  Node *main = blocks * part == extent ? x : b.slice(x, offsets, whole);
  Dims viewed(whole.begin(), whole.end());
  viewed[split] = part;
  viewed.insert(viewed.begin() + split, blocks);
  llvm::SmallVector<int64_t, 4> within{split + 1};
  for (int64_t ax : rest) within.push_back(ax > split ? ax + 1 : ax);
  llvm::sort(within);
  Node *perBlock = blockedSum(b, b.reshape(main, viewed), within);
  Dims summed(shape.begin(), shape.end());
  for (int64_t ax : axes) summed[ax] = 1;
  Node *sum = b.reshape(b.reduce(OpKind::ReduceSum, perBlock, {split}), summed);
  if (blocks * part == extent) return sum;

  // The entries past the last whole block.
  offsets[split] = blocks * part;
  Dims tail(shape.begin(), shape.end());
  tail[split] = extent - blocks * part;
  return b.add(sum, blockedSum(b, b.slice(x, offsets, tail), axes));
}

Node *rewrite(Builder &b, Node *n) {
  if (!n->is(OpKind::ReduceSum) || !isFloat(n->type.dtype) || !isColumnReduction(n)) return nullptr;
  const TensorType &x = n->operand(0)->type;
  int64_t terms = 1;
  for (int64_t ax : n->attrs.getInts(AttrKey::Axes)) terms *= x.shape[ax];
  if (terms < kBlockedSumTerms) return nullptr;
  return blockedSum(b, n->operand(0), n->attrs.getInts(AttrKey::Axes));
}

} // namespace

llvm::Error runBlockLongSums(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) rewriteNodes(*g, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
