//===- passes/Simplify.cpp - algebraic simplification ---------------------===//
//
// Local rewrites that make the graph smaller without changing any result:
//
//   x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1  ->  x
//   0 - x, x * -1                             ->  -x   (floats: neg takes no i32;
//                                                   an i32 0 - x stays as it is)
//   -(-x)                                     ->  x
//   transpose(transpose(x))                   ->  one transpose, or x
//   broadcast(broadcast(x)), reshape(reshape(x)) -> one op
//   broadcast, reshape, transpose, slice, pad, cast that change nothing -> x
//   transpose that moves only dims of size 1  ->  reshape (a view)
//   op(transpose(a), broadcast(v), c), 2-D      ->  transpose(op(a, ...)):
//                                             an elementwise op in a's own
//                                             layout (see pullTransposeOut)
//   select(c, x, x)                           ->  x
//   select(true, x, y), select(false, x, y)   ->  x, y   (training() in dropout)
//   matmul(transpose(a), b) over the last two dims -> matmul with transpose_a
//   transpose(matmul(a, b)) over the last two dims -> matmul(b, a) with each
//                                             operand's transpose flag flipped
//                                             ((A·B)ᵀ = Bᵀ·Aᵀ), when nothing
//                                             else reads the product
//   reduce(transpose(x), axes)                ->  transpose(reduce(x, the axes
//                                             they come from)), where those
//                                             keep their order: x is read in
//                                             memory order (its sum may then
//                                             add in blocks, as a column sum
//                                             of x written so would)
//
// The last rule is for gradients: attention's q @ transpose(k) gives k the
// gradient transpose(qᵀ·dS), [B,H,T,D] from a [B,H,D,T] product, which a
// kernel then read down columns to merge the heads back into [B,T,C]
// (about 25 µs a layer for the bias sum and as much for the copy, in the
// GPT at two threads). dSᵀ·q makes [B,H,T,D] rows directly. Each element
// is the same sum over the same index, in the same order.
//
// NaN and infinity policy: a rewrite is allowed only when it gives the same
// result for every input, NaN and ±inf included. So x*0 -> 0, x-x -> 0 and
// x/x -> 1 are NOT done (inf*0 and inf-inf are NaN). The one liberty taken is
// the sign of zero: x + 0 -> x turns (-0) + 0 = +0 into -0, which compares
// equal and changes no later result except through division by zero.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "passes/Rewrite.h"

#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <numeric>

namespace gradc {
namespace {

bool isSplat(const Node *n, double v) { return n->is(OpKind::Const) && n->attrs.getFloat(AttrKey::Value) == v; }

/// True when a transpose only swaps the last two dims.
bool swapsLastTwo(const Node *n) {
  if (!n->is(OpKind::Transpose)) return false;
  auto perm = n->attrs.getInts(AttrKey::Perm);
  unsigned r = perm.size();
  if (r < 2 || perm[r - 1] != r - 2 || perm[r - 2] != r - 1) return false;
  for (unsigned i = 0; i + 2 < r; ++i)
    if (perm[i] != i) return false;
  return true;
}

/// How many readers each node of the graph had before the walk (the nodes
/// that use it, plus outputs and updates); nodes the walk creates are not
/// in it.
using UseCounts = std::vector<unsigned>;

bool readOnce(const UseCounts &uses, const Node *n) { return n->id < uses.size() && uses[n->id] == 1; }

UseCounts useCounts(const Graph &g) {
  UseCounts uses;
  UserLists users = g.users();
  for (size_t id = 0; id < users.size(); ++id) uses.push_back(unsigned(users[id].size()));
  for (const auto &o : g.outputs) ++uses[o.value->id];
  for (const auto &u : g.updates) ++uses[u.value->id];
  return uses;
}

/// op(transpose(a), broadcast(v), c) on 2-D values, as transpose(op(a,
/// broadcast(v'), c')): the elementwise op runs in a's own layout, and the
/// transpose moves to its readers, where it may cancel (a gradient that is
/// transposed back) or fold into a sum (the rule for reductions below).
/// max(transpose(h), 1)'s gradient selected along h's columns, a stride of
/// a row per element. Every operand must be such a transpose, a constant,
/// or a broadcast of something with a dimension of 1 (whose transpose is a
/// reshape); else null.
Node *pullTransposeOut(Builder &b, Node *n) {
  if (!n->has(Elementwise) || n->has(Random) || n->type.rank() != 2 || n->operands.empty()) return nullptr;
  Dims swapped{n->type.shape[1], n->type.shape[0]};
  bool any = false;
  for (Node *o : n->operands) {
    if (swapsLastTwo(o)) any = true; // in 2-D, the one transpose that is not x itself
    else if (o->is(OpKind::Const)) continue;
    else if (!o->is(OpKind::Broadcast) || o->operand(0)->type.rank() > 2 ||
             (o->operand(0)->type.rank() == 2 && llvm::none_of(o->operand(0)->type.shape, [](int64_t d) { return d == 1; })))
      return nullptr;
  }
  if (!any) return nullptr;
  std::vector<Node *> operands;
  for (Node *o : n->operands) {
    if (o->is(OpKind::Transpose)) {
      operands.push_back(o->operand(0));
    } else if (o->is(OpKind::Const)) {
      operands.push_back(b.constant(o->attrs.getFloat(AttrKey::Value), TensorType(o->type.dtype, swapped)));
    } else {
      // v as a 2-D value [r, c] broadcast to [R, C]: [c, r] broadcast to
      // [C, R]; with r or c of 1 that is a reshape of v.
      Node *v = o->operand(0);
      Dims full(2 - v->type.rank(), 1);
      full.append(v->type.shape.begin(), v->type.shape.end());
      Node *flipped = b.reshape(v, {full[1], full[0]});
      operands.push_back(b.broadcastTo(flipped, swapped));
    }
  }
  TensorType t(n->type.dtype, swapped);
  Node *inner = b.create(n->op, operands, n->attrs, &t);
  return b.transpose(inner, {1, 0});
}

Node *simplify(Builder &b, Node *n, const UseCounts &uses) {
  auto op = [&](unsigned i) { return n->operand(i); };
  if (Node *r = pullTransposeOut(b, n)) return r;
  switch (n->op) {
  case OpKind::Add:
    if (isSplat(op(1), 0)) return op(0);
    if (isSplat(op(0), 0)) return op(1);
    break;
  case OpKind::Sub:
    if (isSplat(op(1), 0)) return op(0);
    if (isSplat(op(0), 0) && isFloat(n->type.dtype)) return b.neg(op(1));
    break;
  case OpKind::Mul:
    if (isSplat(op(1), 1)) return op(0);
    if (isSplat(op(0), 1)) return op(1);
    if (isSplat(op(1), -1) && isFloat(n->type.dtype)) return b.neg(op(0));
    if (isSplat(op(0), -1) && isFloat(n->type.dtype)) return b.neg(op(1));
    break;
  case OpKind::Div:
    if (isSplat(op(1), 1)) return op(0);
    break;
  case OpKind::Neg:
    if (op(0)->is(OpKind::Neg)) return op(0)->operand(0);
    break;
  case OpKind::Select:
    if (op(1) == op(2)) return op(1);
    if (op(0)->is(OpKind::Const)) return op(0)->attrs.getFloat(AttrKey::Value) != 0 ? op(1) : op(2);
    break;
  case OpKind::Cast:
  case OpKind::Broadcast:
  case OpKind::Reshape:
    if (op(0)->type == n->type) return op(0);
    if (n->op != OpKind::Cast && op(0)->op == n->op) {
      TensorType t = n->type;
      return b.create(n->op, {op(0)->operand(0)}, {}, &t);
    }
    break;
  case OpKind::Slice:
  case OpKind::Pad:
    if (op(0)->type == n->type) return op(0);
    break;
  case OpKind::Transpose: {
    auto perm = n->attrs.getInts(AttrKey::Perm);
    std::vector<int64_t> id(perm.size());
    std::iota(id.begin(), id.end(), 0);
    if (llvm::ArrayRef<int64_t>(id) == perm) return op(0);
    if (op(0)->is(OpKind::Transpose)) {
      // result dim i = inner dim perm[i] = original dim inner[perm[i]]
      auto inner = op(0)->attrs.getInts(AttrKey::Perm);
      std::vector<int64_t> composed(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) composed[i] = inner[perm[i]];
      if (composed == id) return op(0)->operand(0);
      return b.transpose(op(0)->operand(0), composed);
    }
    if (swapsLastTwo(n) && op(0)->is(OpKind::MatMul) && readOnce(uses, op(0))) {
      const Node *p = op(0);
      return b.matmul(p->operand(1), p->operand(0), !p->attrs.getBool(AttrKey::TransposeB),
                      !p->attrs.getBool(AttrKey::TransposeA));
    }
    // A transpose that moves only dims of size 1 keeps the elements in
    // their order: a reshape, which is a view, not a copy.
    {
      llvm::ArrayRef<int64_t> from = op(0)->type.shape;
      std::vector<int64_t> kept;
      for (int64_t p : perm)
        if (from[size_t(p)] != 1) kept.push_back(p);
      if (std::is_sorted(kept.begin(), kept.end())) return b.reshape(op(0), n->type.shape);
    }
    break;
  }
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
    // sum(transpose(x), axes) is a transpose of x's sum along the axes
    // they come from (sizes 1 there, so the transpose moves no data): the
    // loop walks x in memory order, where it strode a row per element
    // (sum(transpose(h), 1) on [4096, 1024]: 46 ms against 1.7 ms). Only
    // where the axes keep their order, so the sum adds in the same order.
    if (op(0)->is(OpKind::Transpose)) {
      auto perm = op(0)->attrs.getInts(AttrKey::Perm);
      std::vector<int64_t> from;
      for (int64_t a : n->attrs.getInts(AttrKey::Axes)) from.push_back(perm[size_t(a)]);
      if (std::is_sorted(from.begin(), from.end())) {
        Node *inner = b.reduce(n->op, op(0)->operand(0), from);
        return b.transpose(inner, std::vector<int64_t>(perm.begin(), perm.end()));
      }
    }
    break;
  case OpKind::MatMul: {
    bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
    Node *a = op(0), *c = op(1);
    bool changed = false;
    if (swapsLastTwo(a)) a = a->operand(0), ta = !ta, changed = true;
    if (swapsLastTwo(c)) c = c->operand(0), tb = !tb, changed = true;
    if (changed) return b.matmul(a, c, ta, tb);
    break;
  }
  default: break;
  }
  return n;
}

} // namespace

llvm::Error runSimplify(Module &m, const PassOptions &) {
  // New nodes are appended, so the walk also revisits what it creates.
  for (auto &g : m.graphs) {
    UseCounts uses = useCounts(*g);
    rewriteNodes(*g, [&](Builder &b, Node *n) { return simplify(b, n, uses); });
  }
  return llvm::Error::success();
}

} // namespace gradc
