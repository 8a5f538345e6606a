//===- passes/MergeScatterAdds.cpp - many lookups' gradients as one -------===//
//
// The gradient of gather(table, idx) is a scatter_add: a zeroed [V, D]
// table with each looked-up row's gradient added at its index. A table read
// at every step of a loop (an RNN over embeddings, gather(emb, idx[:, t:t+1])
// for t in 0..T) got T such tables, summed by a chain of T adds:
//
//   %s1 = scatter_add %i1, %g1 : f32[V,D]    i1: i32[B,1], g1: f32[B,1,D]
//   %s2 = scatter_add %i2, %g2 : f32[V,D]
//   %a  = add %s1, %s2 : f32[V,D]            ... T of each
//
// T·V·D work and T tables of memory for T·B·D numbers: at T = 128, V =
// 10,000, D = 32, 30 ms a step and a 164 MB arena. The scatters of one
// chain of adds (passes/AddChains.h) become one, over all the indices and
// rows joined:
//
//   %i = concat reshape(%i1, [B]), reshape(%i2, [B]), ... : i32[T·B]
//   %g = concat reshape(%g1, [B,D]), reshape(%g2, [B,D]), ... : f32[T·B,D]
//   %s = scatter_add %i, %g : f32[V,D]
//
// One zeroed table and T·B·D additions. Each row's gradient is added in
// the order of the chain, one term at a time: it was each scatter's sum,
// then those sums added, so the rounding may differ. The chain's other
// terms are added first, in their order.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "passes/AddChains.h"

namespace gradc {
namespace {

Node *rewrite(Builder &b, Node *n, const AddChains &chains) {
  if (!chains.isRoot(n) || n->type.rank() == 0) return nullptr;
  std::vector<Node *> scatters, others;
  for (Node *t : chains.terms(n)) {
    if (t->is(OpKind::ScatterAdd) && t->type == n->type) scatters.push_back(t);
    else others.push_back(t);
  }
  if (scatters.size() < 2) return nullptr;
  // Each scatter's indices as a list of positions, its rows as [P, ...].
  llvm::ArrayRef<int64_t> row(n->type.shape.begin() + 1, n->type.shape.end());
  std::vector<Node *> ids, rows;
  for (Node *s : scatters) {
    int64_t P = s->operand(0)->type.numel();
    ids.push_back(b.reshape(s->operand(0), {P}));
    std::vector<int64_t> shape{P};
    shape.insert(shape.end(), row.begin(), row.end());
    rows.push_back(b.reshape(s->operand(1), shape));
  }
  TensorType t = n->type;
  others.push_back(b.create(OpKind::ScatterAdd, {b.concat(ids, 0), b.concat(rows, 0)}, {}, &t));
  return b.addAll(others);
}

} // namespace

llvm::Error runMergeScatterAdds(Module &m, const PassOptions &) {
  rewriteAddChains(m, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
