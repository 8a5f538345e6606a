//===- passes/GradRules.cpp - the vector-Jacobian product of each op ------===//
//
// One rule per differentiable op. Notation: n = op(x, y), g = dL/dn, and
// each rule returns dL/dx (i = 0) or dL/dy (i = 1) for this one use. All
// elementwise operands share n's shape (the frontend inserted explicit
// broadcasts), so only `broadcast` itself needs to sum a gradient back down.
//
//===----------------------------------------------------------------------===//
#include "passes/GradRules.h"

namespace gradc {
namespace {

Node *x0(Node *n) { return n->operand(0); }
Node *x1(Node *n) { return n->operand(1); }
Node *zeros(Builder &b, Node *like) { return b.constantLike(0, like); }

// d(x+y) = g, g
Node *vjpAdd(Builder &, Node *, unsigned, Node *g) { return g; }
// d(x-y) = g, -g
Node *vjpSub(Builder &b, Node *, unsigned i, Node *g) { return i == 0 ? g : b.neg(g); }
// d(x*y) = g*y, g*x
Node *vjpMul(Builder &b, Node *n, unsigned i, Node *g) { return b.mul(g, i == 0 ? x1(n) : x0(n)); }
// d(x/y) = g/y, -g*x/y² = -(g*n)/y
Node *vjpDiv(Builder &b, Node *n, unsigned i, Node *g) {
  return i == 0 ? b.div(g, x1(n)) : b.neg(b.div(b.mul(g, n), x1(n)));
}
Node *vjpNeg(Builder &b, Node *, unsigned, Node *g) { return b.neg(g); }
// d exp(x) = g*exp(x) = g*n
Node *vjpExp(Builder &b, Node *n, unsigned, Node *g) { return b.mul(g, n); }
// d log(x) = g/x
Node *vjpLog(Builder &b, Node *n, unsigned, Node *g) { return b.div(g, x0(n)); }
// d sqrt(x) = g/(2 sqrt(x)) = 0.5*g/n
Node *vjpSqrt(Builder &b, Node *n, unsigned, Node *g) { return b.div(b.scale(g, 0.5), n); }
// d tanh(x) = g*(1 - n²)
Node *vjpTanh(Builder &b, Node *n, unsigned, Node *g) {
  return b.mul(g, b.sub(b.constantLike(1, n), b.mul(n, n)));
}
Node *vjpSin(Builder &b, Node *n, unsigned, Node *g) { return b.mul(g, b.unary(OpKind::Cos, x0(n))); }
Node *vjpCos(Builder &b, Node *n, unsigned, Node *g) { return b.neg(b.mul(g, b.unary(OpKind::Sin, x0(n)))); }
// stop_gradient: by definition nothing flows back.
Node *vjpNone(Builder &, Node *, unsigned, Node *) { return nullptr; }
// floor, sign, x // y: piecewise constant, so the gradient is zero wherever
// it exists; nothing flows back.
Node *vjpZero(Builder &, Node *, unsigned, Node *) { return nullptr; }

// maximum(a, b), minimum(a, b): g flows to the operand that is the result,
// half of it to each where they tie, as reduce_max shares it and as
// torch.maximum does. Then the rule is the same for maximum(a, b) and
// maximum(b, a) (both are Commutative); giving all of g to the first
// operand counted it twice where a tied value reached the loss through both.
Node *tieSplit(Builder &b, OpKind wins, Node *n, unsigned i, Node *g) {
  Node *mine = i == 0 ? x0(n) : x1(n), *other = i == 0 ? x1(n) : x0(n);
  Node *tie = b.select(b.binary(OpKind::Eq, mine, other), b.mul(g, b.constantLike(0.5, g)), zeros(b, g));
  return b.select(b.binary(wins, mine, other), g, tie);
}
Node *vjpMax(Builder &b, Node *n, unsigned i, Node *g) { return tieSplit(b, OpKind::Gt, n, i, g); }
Node *vjpMin(Builder &b, Node *n, unsigned i, Node *g) { return tieSplit(b, OpKind::Lt, n, i, g); }
// select(c, x, y): g flows to the branch that was chosen; c is a mask.
Node *vjpSelect(Builder &b, Node *n, unsigned i, Node *g) {
  if (i == 0) return nullptr;
  Node *c = x0(n);
  return i == 1 ? b.select(c, g, zeros(b, g)) : b.select(c, zeros(b, g), g);
}
// pow(x, y) = x^y: y x^(y-1) to x, x^y log x to y. At x = 0 each is a
// 0·∞ whose limit is 0: y·0^(y-1) at y = 0, and 0^y·log 0 for y >= 0. They
// are taken as 0 there, as PyTorch takes them: a learnable exponent over
// relu's zeros (GeM pooling) had a NaN gradient.
Node *vjpPow(Builder &b, Node *n, unsigned i, Node *g) {
  Node *x = x0(n), *y = x1(n);
  if (i == 0) {
    Node *d = b.mul(y, b.binary(OpKind::Pow, x, b.sub(y, b.constantLike(1, y))));
    return b.mul(g, b.select(b.binary(OpKind::Eq, y, zeros(b, y)), zeros(b, d), d));
  }
  Node *d = b.mul(n, b.unary(OpKind::Log, x));
  Node *zeroBase = b.binary(OpKind::And, b.binary(OpKind::Eq, x, zeros(b, x)), b.binary(OpKind::Ge, y, zeros(b, y)));
  return b.mul(g, b.select(zeroBase, zeros(b, d), d));
}
// cast between float types: cast the gradient back.
Node *vjpCast(Builder &b, Node *n, unsigned, Node *g) {
  return isFloat(x0(n)->type.dtype) ? b.cast(g, x0(n)->type.dtype) : nullptr;
}

// broadcast x -> n: every copy of an element adds its gradient back.
Node *vjpBroadcast(Builder &b, Node *n, unsigned, Node *g) { return b.sumToShape(g, x0(n)->type.shape); }
Node *vjpReshape(Builder &b, Node *n, unsigned, Node *g) { return b.reshape(g, x0(n)->type.shape); }
// transpose by perm: undo it with the inverse permutation.
Node *vjpTranspose(Builder &b, Node *n, unsigned, Node *g) {
  auto perm = n->attrs.getInts(AttrKey::Perm);
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = i;
  return b.transpose(g, inv);
}
// slice takes a window; its gradient is g placed back in that window, zeros elsewhere.
Node *vjpSlice(Builder &b, Node *n, unsigned, Node *g) {
  return b.pad(g, n->attrs.getInts(AttrKey::Offsets), x0(n)->type.shape);
}
Node *vjpPad(Builder &b, Node *n, unsigned, Node *g) {
  return b.slice(g, n->attrs.getInts(AttrKey::Offsets), x0(n)->type.shape);
}
// concat: operand i receives its own window of g.
Node *vjpConcat(Builder &b, Node *n, unsigned i, Node *g) {
  int64_t axis = n->attrs.getInt(AttrKey::Axis);
  std::vector<int64_t> offsets(n->type.rank(), 0);
  for (unsigned k = 0; k < i; ++k) offsets[axis] += n->operand(k)->type.shape[axis];
  return b.slice(g, offsets, n->operand(i)->type.shape);
}

// reduce_sum keeps the reduced axes as size 1: broadcast g back out.
Node *vjpReduceSum(Builder &b, Node *n, unsigned, Node *g) { return b.broadcastTo(g, x0(n)->type.shape); }
// reduce_max: the gradient is shared by the elements equal to the maximum,
// g/k to each of k ties. Giving each the whole of g would count it k times
// where the tied elements are one value (max(concat([p, p])) of p); sharing
// is a valid subgradient anywhere, and what PyTorch and JAX do.
Node *vjpReduceMax(Builder &b, Node *n, unsigned, Node *g) {
  Node *x = x0(n);
  Node *hit = b.binary(OpKind::Eq, x, b.broadcastTo(n, x->type.shape));
  Node *ones = b.select(hit, b.constantLike(1, x), zeros(b, x));
  Node *ties = b.reduce(OpKind::ReduceSum, ones, n->attrs.getInts(AttrKey::Axes));
  return b.select(hit, b.broadcastTo(b.div(g, ties), x->type.shape), zeros(b, x));
}

// C = op(A) @ op(B) where op transposes the last two dims when the flag is
// set. With g = dL/dC:
//   A @ B:      dA = g @ Bᵀ        dB = Aᵀ @ g
//   Aᵀ @ B:     dA = B @ gᵀ        dB = A @ g
//   A @ Bᵀ:     dA = g @ B         dB = gᵀ @ A
//   Aᵀ @ Bᵀ:    dA = Bᵀ @ gᵀ       dB = gᵀ @ Aᵀ
Node *vjpMatMul(Builder &b, Node *n, unsigned i, Node *g) {
  bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
  Node *A = x0(n), *B = x1(n);
  if (i == 0) {
    if (!ta) return b.matmul(g, B, false, !tb);
    return b.matmul(B, g, tb, true);
  }
  if (!tb) return b.matmul(A, g, !ta, false);
  return b.matmul(g, A, true, ta);
}

// gather rows of a table: the rows' gradients are added back at their indices.
Node *vjpGather(Builder &b, Node *n, unsigned i, Node *g) {
  if (i == 1) return nullptr;
  const TensorType &t = x0(n)->type;
  return b.create(OpKind::ScatterAdd, {x1(n), g}, {}, &t);
}
// scatter_add: each update reads its gradient from the row it was added to.
Node *vjpScatterAdd(Builder &b, Node *n, unsigned i, Node *g) {
  if (i == 0) return nullptr;
  return b.create(OpKind::Gather, {g, x0(n)});
}

// clamp(x, lo, hi) = minimum(maximum(x, lo), hi): the gradient goes to the
// operand the result is, all of it to x on ties (as torch.clamp does: x at
// a bound is inside the range), hi wherever lo > hi.
Node *vjpClamp(Builder &b, Node *n, unsigned i, Node *g) {
  Node *x = x0(n), *lo = n->operand(1);
  Node *notAbove = b.binary(OpKind::Le, b.binary(OpKind::Max, x, lo), n->operand(2));
  Node *pick = i == 2   ? b.unary(OpKind::Not, notAbove)
               : i == 0 ? b.binary(OpKind::And, notAbove, b.binary(OpKind::Ge, x, lo))
                        : b.binary(OpKind::And, notAbove, b.binary(OpKind::Lt, x, lo));
  return b.select(pick, g, zeros(b, g));
}

} // namespace

/// One line per differentiable op. An op that is not here has no gradient:
/// autodiff reports it when a parameter's gradient would flow through it,
/// unless the op's row says NoGrad (ir/Ops.def).
static const std::pair<OpKind, GradRule::Fn> kRules[] = {
    {OpKind::Add, vjpAdd},
    {OpKind::Sub, vjpSub},
    {OpKind::Mul, vjpMul},
    {OpKind::Div, vjpDiv},
    {OpKind::Neg, vjpNeg},
    {OpKind::Exp, vjpExp},
    {OpKind::Log, vjpLog},
    {OpKind::Sqrt, vjpSqrt},
    {OpKind::Tanh, vjpTanh},
    {OpKind::Sin, vjpSin},
    {OpKind::Cos, vjpCos},
    {OpKind::StopGradient, vjpNone},
    {OpKind::Max, vjpMax},
    {OpKind::Min, vjpMin},
    {OpKind::Select, vjpSelect},
    {OpKind::Cast, vjpCast},
    {OpKind::Broadcast, vjpBroadcast},
    {OpKind::Reshape, vjpReshape},
    {OpKind::Transpose, vjpTranspose},
    {OpKind::Slice, vjpSlice},
    {OpKind::Pad, vjpPad},
    {OpKind::Concat, vjpConcat},
    {OpKind::ReduceSum, vjpReduceSum},
    {OpKind::ReduceMax, vjpReduceMax},
    {OpKind::MatMul, vjpMatMul},
    {OpKind::Gather, vjpGather},
    {OpKind::ScatterAdd, vjpScatterAdd},
    {OpKind::Expm1, [](Builder &b, Node *n, unsigned, Node *g) { return b.mul(g, b.add(n, b.constantLike(1, n))); }},
    {OpKind::Log1p, [](Builder &b, Node *n, unsigned, Node *g) { return b.div(g, b.add(x0(n), b.constantLike(1, x0(n)))); }},
    {OpKind::Rsqrt, [](Builder &b, Node *n, unsigned, Node *g) { return b.div(b.scale(b.mul(g, n), -0.5), x0(n)); }}, // d(x^-1/2) = -x^-1/2 / 2x
    {OpKind::Erf, [](Builder &b, Node *n, unsigned, Node *g) { return b.mul(g, b.scale(b.unary(OpKind::Exp, b.neg(b.mul(x0(n), x0(n)))), 1.1283791670955126)); }}, // 2/sqrt(pi) e^(-x^2)
    {OpKind::Round, vjpZero},
    {OpKind::Ceil, vjpZero},
    {OpKind::Floor, vjpZero},
    {OpKind::Abs, [](Builder &b, Node *n, unsigned, Node *g) { return b.mul(g, b.unary(OpKind::Sign, x0(n))); }},
    {OpKind::Sign, vjpZero},
    {OpKind::Clamp, vjpClamp},
    {OpKind::Pow, vjpPow},
    {OpKind::FloorDiv, vjpZero},
    {OpKind::Mod, [](Builder &b, Node *n, unsigned i, Node *g) { return i == 0 ? g : b.neg(b.mul(g, b.binary(OpKind::FloorDiv, x0(n), x1(n)))); }}, // a - (a // b) b
};

const GradRule *gradRule(OpKind op) {
  static const std::vector<GradRule> byKind = [] {
    std::vector<GradRule> v(kNumOps);
    for (auto &[kind, fn] : kRules) v[unsigned(kind)].vjp = fn;
    return v;
  }();
  const GradRule &r = byKind[unsigned(op)];
  return r.vjp ? &r : nullptr;
}

} // namespace gradc
