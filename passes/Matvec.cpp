//===- passes/Matvec.cpp - thin matrix products as loops ------------------===//
//
// A GEMM pays for packing and a register tile that a thin product cannot
// fill. Products of 2-D matrices with a side of 4 or less are rewritten into
// ops that fusion puts inside ordinary loop nests:
//
//   K <= 4 (outer products): out[m,n] = Σ_k a[m,k] * b[k,n]  K broadcast
//                            multiplies, added in one loop over [M, N]
//   N = 1 (matrix-vector):   out[m,0] = Σ_k a[m,k] * b[k,0]  a row reduction
//   M = 1 (vector-matrix):   out[0,n] = Σ_k a[0,k] * b[k,n]  a column reduction
//   N or M <= 4:             a [M, N, K] (or [K, N, M]) multiply summed
//                            along K, K in memory order: x [4096,1024] @
//                            w [1024,2] took 3.6 ms as a GEMM, 1.2 as loops
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

/// A side this short or shorter makes a product thin.
constexpr int64_t kThin = 4;

/// x [d0, d1] as [1, d0, d1] (at = 0), [d0, 1, d1] (at = 1) or
/// [d0, d1, 1] (at = 2), broadcast to `shape`.
Node *spread(Builder &b, Node *x, int at, llvm::ArrayRef<int64_t> shape) {
  int64_t d0 = x->type.shape[0], d1 = x->type.shape[1];
  Node *r = at == 1 ? b.reshape(x, {d0, 1, d1}) : at == 0 ? b.reshape(x, {1, d0, d1}) : b.reshape(x, {d0, d1, 1});
  return b.broadcastTo(r, shape);
}

Node *flip(Builder &b, Node *x) { return b.transpose(x, {1, 0}); }

/// K <= kThin: Σ_k a[:, k] ⊗ c[k, :], K outer products added in one loop
/// over [M, N]. `as` and `cs` are the operands as stored; ta and tb say
/// they are transposed.
Node *outerProducts(Builder &b, int64_t M, int64_t N, int64_t K, Node *as, bool ta, Node *cs, bool tb) {
  std::vector<Node *> terms;
  for (int64_t k = 0; k < K; ++k) {
    // Statements, not nested calls: operands are built in a fixed order.
    Node *col = ta ? flip(b, b.slice(as, {k, 0}, {1, M})) : b.slice(as, {0, k}, {M, 1});
    Node *row = tb ? flip(b, b.slice(cs, {0, k}, {N, 1})) : b.slice(cs, {k, 0}, {1, N});
    Node *left = b.broadcastTo(col, {M, N});
    terms.push_back(b.mul(left, b.broadcastTo(row, {M, N})));
  }
  return b.addAll(terms);
}

/// N or M of 2..kThin: a three-axis multiply and sum whose innermost axis
/// is a long side in memory order.
Node *thinSide(Builder &b, int64_t M, int64_t N, int64_t K, Node *as, bool ta, Node *cs, bool tb) {
  auto product = [&](Node *l, int lAt, Node *r, int rAt, llvm::ArrayRef<int64_t> shape) {
    Node *left = spread(b, l, lAt, shape);
    Node *right = spread(b, r, rAt, shape);
    return b.mul(left, right);
  };
  if (N <= kThin && N <= M) {
    if (!ta) { // out[m, n] = Σ_k as[m, k] · cᵀ[n, k]: [M, N, K] summed along as's rows
      Node *cT = tb ? cs : flip(b, cs);
      Node *p = product(as, 1, cT, 0, {M, N, K});
      return b.reshape(b.reduce(OpKind::ReduceSum, p, {2}), {M, N});
    }
    // as is [K, M]: [K, N, M] summed down as's columns, M innermost
    Node *c = tb ? flip(b, cs) : cs;
    Node *p = product(as, 1, c, 2, {K, N, M});
    return flip(b, b.reshape(b.reduce(OpKind::ReduceSum, p, {0}), {N, M}));
  }
  if (M <= kThin && M < N) {
    if (!tb) { // cs is [K, N]: [K, M, N] summed down cs's columns, N innermost
      Node *aT = ta ? as : flip(b, as);
      Node *p = product(aT, 2, cs, 1, {K, M, N});
      return b.reshape(b.reduce(OpKind::ReduceSum, p, {0}), {M, N});
    }
    // cs is [N, K]: [M, N, K] summed along cs's rows
    Node *a = ta ? flip(b, as) : as;
    Node *p = product(a, 1, cs, 0, {M, N, K});
    return b.reshape(b.reduce(OpKind::ReduceSum, p, {2}), {M, N});
  }
  return nullptr;
}

/// The rewrite of one matmul, or null when it stays a GEMM.
Node *rewrite(Builder &b, Node *n) {
  // transpose(x) @ v: sum down x's stored columns, not along the rows of
  // its transpose, which walked x with a stride of a row per element (70 ms
  // against 3 ms for a [4096, 1024] x).
  std::optional<StoredProduct> p = storedProduct(n);
  if (!p) return nullptr;
  Node *as = p->a, *cs = p->c;
  bool ta = p->ta, tb = p->tb;
  // The logical operands are a [M, K] and c [K, N]; these give them, or
  // their transposes, with no transpose of a transpose.
  auto a = [&] { return ta ? b.transpose(as, {1, 0}) : as; };
  auto aT = [&] { return ta ? as : b.transpose(as, {1, 0}); };
  auto c = [&] { return tb ? b.transpose(cs, {1, 0}) : cs; };
  auto cT = [&] { return tb ? cs : b.transpose(cs, {1, 0}); };
  int64_t M = n->type.shape[0], N = n->type.shape[1];
  int64_t K = ta ? as->type.shape[0] : as->type.shape[1];
  // Statements, not nested calls: operands are built in a fixed order.
  // First, whatever M and N: @step's one row [1, K] and @predict's rows
  // [B, K] then add the same terms in the same order (a bigram's cached
  // step matched recomputation to 1.3e-7 of the logits' scale, not 0).
  if (K <= kThin) return outerProducts(b, M, N, K, as, ta, cs, tb);
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
  return thinSide(b, M, N, K, as, ta, cs, tb);
}

} // namespace

llvm::Error runMatvec(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) rewriteNodes(*g, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
