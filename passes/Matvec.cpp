//===- passes/Matvec.cpp - thin matrix products as loops ------------------===//
//
// A GEMM pays for packing and a register tile that a thin product cannot
// fill. Products of 2-D matrices where one dimension is 1 are rewritten into
// ops that fusion puts inside ordinary loop nests:
//
//   K = 1 (outer product):  out[m,n] = a[m,0] * b[0,n]      a broadcast multiply
//   N = 1 (matrix-vector):  out[m,0] = Σ_k a[m,k] * b[k,0]  a row reduction
//   M = 1 (vector-matrix):  out[0,n] = Σ_k a[0,k] * b[k,n]  a column reduction
//
// An MLP's first layer on 1-D inputs, its last layer to one output, and
// their weight gradients are all of these; they then fuse with the bias,
// activation or loss around them instead of taking a GEMM call each.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "passes/Rewrite.h"

namespace gradc {
namespace {

/// The rewrite of one matmul, or null when it stays a GEMM.
Node *rewrite(Builder &b, Node *n) {
  if (!n->is(OpKind::MatMul) || n->type.rank() != 2 || n->operand(0)->type.rank() != 2 || n->operand(1)->type.rank() != 2)
    return nullptr;
  bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
  Node *as = n->operand(0), *cs = n->operand(1); // as stored
  // transpose(x) @ v: sum down x's stored columns, not along the rows of
  // its transpose, which walked x with a stride of a row per element (70 ms
  // against 3 ms for a [4096, 1024] x). Simplify folds such transposes into
  // the flags, but runs after this pass.
  auto stored = [](Node *&x, bool &t) {
    if (x->is(OpKind::Transpose) && x->type.rank() == 2) x = x->operand(0), t = !t;
  };
  stored(as, ta);
  stored(cs, tb);
  // The logical operands are a [M, K] and c [K, N]; these give them, or
  // their transposes, with no transpose of a transpose.
  auto a = [&] { return ta ? b.transpose(as, {1, 0}) : as; };
  auto aT = [&] { return ta ? as : b.transpose(as, {1, 0}); };
  auto c = [&] { return tb ? b.transpose(cs, {1, 0}) : cs; };
  auto cT = [&] { return tb ? cs : b.transpose(cs, {1, 0}); };
  int64_t M = n->type.shape[0], N = n->type.shape[1];
  int64_t K = ta ? as->type.shape[0] : as->type.shape[1];
  // Statements, not nested calls: operands are built in a fixed order.
  if (K == 1) {
    Node *left = b.broadcastTo(a(), {M, N});
    return b.mul(left, b.broadcastTo(c(), {M, N}));
  }
  // Sum along the stored rows of the big operand, or down its stored
  // columns (which the scheduler walks in memory order too).
  if (N == 1) {
    if (!ta) { // out[m] = Σ_k as[m, k] · c[k]
      Node *row = b.broadcastTo(cT(), {M, K});
      return b.reduce(OpKind::ReduceSum, b.mul(as, row), {1});
    }
    Node *col = b.broadcastTo(c(), {K, M}); // as is [K, M]
    return b.transpose(b.reduce(OpKind::ReduceSum, b.mul(as, col), {0}), {1, 0});
  }
  if (M == 1) {
    if (!tb) { // out[n] = Σ_k a[k] · cs[k, n]
      Node *col = b.broadcastTo(aT(), {K, N});
      return b.reduce(OpKind::ReduceSum, b.mul(col, cs), {0});
    }
    Node *row = b.broadcastTo(a(), {N, K}); // cs is [N, K]
    return b.transpose(b.reduce(OpKind::ReduceSum, b.mul(cs, row), {1}), {1, 0});
  }
  return nullptr;
}

} // namespace

llvm::Error runMatvec(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) rewriteNodes(*g, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
