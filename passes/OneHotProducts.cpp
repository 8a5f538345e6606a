//===- passes/OneHotProducts.cpp - products with one-hot rows as lookups --===//
//
// The language has no scatter, so a graph network's sum into its nodes is
// written as a product with a one-hot matrix, and an embedding lookup can
// be too. As GEMMs they take E·N·C multiply-adds and an [E, N] matrix of
// ones and zeros in memory (an explorer's edge-list network, E = 20000
// edges into N = 2000 nodes: 146–193 ms a step, 5–22x PyTorch's index_add,
// and at N = 20000 a 15 GiB arena). As lookups they take E·C:
//
//   onehot(i, N) @ t       [E, N] @ [N, C]  ->  gather(t, i)          [E, C]
//   onehot(i, N)ᵀ @ m      [N, E] @ [E, C]  ->  scatter_add(i, m)     [N, C]
//
// (i of more axes, flattened, as '@' flattens onehot(ids [B, T], V) @ e),
// and a one-hot right operand the same way through (a @ b)ᵀ = bᵀ @ aᵀ. A
// one-hot row of an index outside [0, N) is all zeros, where gather and
// scatter_add clamp the index: such rows are masked to zero, gathered or
// scattered. The gradients come out as the same two patterns (a gather's
// is a scatter_add and the other way round), so this runs after autodiff,
// on every entry, before matvec would make a thin product a dense loop.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "passes/Rewrite.h"

namespace gradc {
namespace {

/// The indices of a 2-D one-hot matrix (one index per row), or null. A
/// one-hot tensor of more axes flattened to rows (onehot(ids [B, T], V) @
/// e, which '@' reads as [B·T, V] @ [V, C]) is the one-hot matrix of its
/// indices flattened.
Node *oneHotIndices(Builder &b, Node *x) {
  if (x->is(OpKind::Reshape) && x->type.rank() == 2 && x->operand(0)->is(OpKind::OneHot) &&
      x->operand(0)->type.shape.back() == x->type.shape[1])
    return b.reshape(x->operand(0)->operand(0), {x->type.shape[0]});
  if (!x->is(OpKind::OneHot) || x->type.rank() != 2) return nullptr;
  return x->operand(0);
}

/// x [E, C] with the rows whose index is outside [0, classes) zeroed. (An
/// i32 index is below any count of classes past i32's range, which no i32
/// constant could hold.)
Node *inRangeRows(Builder &b, Node *x, Node *idx, int64_t classes) {
  Node *ok = b.binary(OpKind::Ge, idx, b.constantLike(0, idx));
  if (classes <= INT32_MAX) ok = b.binary(OpKind::And, ok, b.binary(OpKind::Lt, idx, b.constantLike(double(classes), idx)));
  Node *rows = b.broadcastTo(b.reshape(ok, {x->type.shape[0], 1}), x->type.shape);
  return b.select(rows, x, b.constantLike(0, x));
}

/// one-hot(idx, classes) @ c when `transposed` is false ([E, classes] @
/// [classes, C]: rows of c), or its transpose @ c ([classes, E] @ [E, C]:
/// c's rows added up by index).
Node *lookup(Builder &b, Node *idx, int64_t classes, bool transposed, Node *c) {
  if (!transposed) return inRangeRows(b, b.create(OpKind::Gather, {c, idx}), idx, classes);
  TensorType t(c->type.dtype, {classes, c->type.shape[1]});
  return b.create(OpKind::ScatterAdd, {idx, inRangeRows(b, c, idx, classes)}, {}, &t);
}

/// The rewrite of one matmul, or null when it keeps its one-hot operand
/// (or has none).
Node *rewrite(Builder &b, Node *n) {
  std::optional<StoredProduct> p = storedProduct(n);
  if (!p) return nullptr;
  Node *as = p->a, *cs = p->c;
  bool ta = p->ta, tb = p->tb;
  auto flip = [&](Node *x) { return b.transpose(x, {1, 0}); };
  // a @ c with a one-hot a: [M, K] @ [K, N].
  if (Node *idx = oneHotIndices(b, as)) {
    Node *c = tb ? flip(cs) : cs;
    return lookup(b, idx, as->type.shape[1], ta, c);
  }
  // With a one-hot c: (a @ c)ᵀ = cᵀ @ aᵀ, where cᵀ is one-hot or its
  // transpose.
  if (Node *idx = oneHotIndices(b, cs)) {
    Node *aT = ta ? as : flip(as);
    return flip(lookup(b, idx, cs->type.shape[1], !tb, aT));
  }
  return nullptr;
}

} // namespace

llvm::Error runOneHotProducts(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) rewriteNodes(*g, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
