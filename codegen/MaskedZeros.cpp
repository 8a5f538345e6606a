//===- codegen/MaskedZeros.cpp - products that skip zero columns ----------===//
//
// The backward pass stores dS = select(mask, …, 0) / √D: zero wherever the
// mask is false. The probabilities P = exp(select(mask, s, -1e9) - m) / sum
// hold one value per row where it is false, exp(-1e9 - m) / sum, which is
// 0 whenever exp underflows (for any sane m). Products of either skip
// those columns:
//
//   dQ[rows] = dS @ K          sums over dS's columns: skip those that are zero
//   dKᵀ     += Q[rows]ᵀ @ dS   the zero columns add nothing to dKᵀ's columns
//   Y[rows]  = P @ V           sums over P's columns, as dQ
//   dV      += P ᵀ @ dY[rows]  P's zero columns are dV's rows: nothing to add
//
// Only dS's zeros are known at compile time. P's are checked at run time,
// per row block, before the product: its masked columns hold one value per
// row, so the first one past the kept columns, and the last one before
// them, must be exactly 0 in every row. 0·x is 0 only for finite x, so each
// narrowed product also checks that the other operand is finite (K, V; the
// block's rows of Q, dY). When a check fails, the product computes every
// column: inf and NaN still propagate as they would. A product that
// overwrites rather than adds (the first block's dKᵀ and dV) computes every
// column, so that the skipped ones are zeros.
//
// Skipping adds of zero can turn a sum's -0 into +0 or back, never any
// other value.
//
// Part of the masked-column rules: see codegen/MaskedColumns.cpp.
//
//===----------------------------------------------------------------------===//
#include "codegen/MaskedColumnsImpl.h"

#include "codegen/Placement.h"

#include <cmath>

namespace gradc::masked {

namespace {

/// The condition outside which `e` is ±0: select(c, x, 0) with c index-only,
/// through negation and products and quotients by finite constants.
const Expr *zeroOutside(const Expr *e) {
  if (e->kind != Expr::Op) return nullptr;
  auto finiteConst = [](const Expr *x, bool nonzero) {
    return x->kind == Expr::Const && std::isfinite(x->value) && (!nonzero || x->value != 0);
  };
  switch (e->op) {
  case OpKind::Select: {
    const Expr *z = e->args[2];
    if (z->kind == Expr::Const && z->value == 0 && indexOnlyCondition(e->args[0])) return e->args[0];
    return nullptr;
  }
  case OpKind::Neg: return zeroOutside(e->args[0]);
  case OpKind::Div: return finiteConst(e->args[1], true) ? zeroOutside(e->args[0]) : nullptr;
  case OpKind::Mul:
    if (finiteConst(e->args[1], false)) return zeroOutside(e->args[0]);
    if (finiteConst(e->args[0], false)) return zeroOutside(e->args[1]);
    return nullptr;
  default: return nullptr;
  }
}

/// "Every element of the stored matrix `x` (rows × cols, ld apart) is
/// finite", as a condition: the sum over it of (|x| < inf ? 0 : 1) == 0.
/// A sum, not a maximum: it vectorises with a cheap reduction at the end
/// of each row (a NaN-propagating maximum's is a long sequence), and a
/// sum of 0s and 1s is 0 only when every term is.
const Expr *allFinite(Kernel &k, const Stmt::Matrix &x, int64_t rows, int64_t cols) {
  Type t = k.buffers[x.buffer].type;
  int r = k.newVar("fr", rows), c = k.newVar("fc", cols);
  const Expr *v = k.load(x.buffer, k.add(x.offset, k.add(k.mul(k.var(r), x.ld), k.var(c))));
  const Expr *finite = k.op(OpKind::Lt, Type::I1, {k.op(OpKind::Abs, t, {v}), k.constant(INFINITY, t)});
  const Expr *bad = k.reduce(OpKind::ReduceSum, t, k.op(OpKind::Select, t, {finite, k.constant(0, t), k.constant(1, t)}), {r, c});
  return k.op(OpKind::Eq, Type::I1, {bad, k.constant(0, t)});
}

/// "Columns lo - 1 (when lo > 0) and hi (when hi < cols) of the local `x`
/// (rows × cols, stored row after row) are exactly 0 in every row", as a
/// condition: max over the rows of (x == 0 ? 0 : 1) == 0, NaN counting as
/// nonzero. The columns are clamped into the matrix; a column outside it
/// selects 0.
const Expr *edgesZero(Kernel &k, int buffer, int64_t rows, int64_t cols, const Expr *lo, const Expr *hi) {
  Type t = k.buffers[buffer].type;
  int r = k.newVar("zr", rows);
  const Expr *bad = nullptr;
  auto column = [&](const Expr *inside, const Expr *c) {
    if (isConst(inside, 0)) return;
    const Expr *v = k.load(buffer, k.add(k.mul(k.var(r), cols), c));
    const Expr *nonzero = k.op(OpKind::Select, t, {k.op(OpKind::Eq, Type::I1, {v, k.constant(0, t)}), k.constant(0, t), k.constant(1, t)});
    nonzero = k.op(OpKind::Select, t, {inside, nonzero, k.constant(0, t)});
    bad = bad ? k.op(OpKind::Max, t, {bad, nonzero}) : nonzero;
  };
  if (!isConst(lo, 0))
    column(k.op(OpKind::Gt, Type::I1, {lo, k.index(0)}), k.op(OpKind::Max, Type::Index, {k.op(OpKind::Sub, Type::Index, {lo, k.index(1)}), k.index(0)}));
  if (!isConst(hi, cols))
    column(k.op(OpKind::Lt, Type::I1, {hi, k.index(cols)}), k.op(OpKind::Min, Type::Index, {hi, k.index(cols - 1)}));
  if (!bad) return nullptr;
  return k.op(OpKind::Eq, Type::I1, {k.reduce(OpKind::ReduceMax, t, bad, {r}), k.constant(0, t)});
}

/// Where a local x's columns go in a product (x [rows, cols], stored row
/// after row):
///   A:  dQ = dS @ K, Y = P @ V     x is A [m, k]; its columns are summed over
///   B:  dKᵀ += Qᵀ @ dS            x is B [k, n]; its columns are C's, added into
///   Aᵀ: dV += Pᵀ @ dY             x is A stored transposed [k, m]; its columns are C's rows
enum class Role { A, B, AT };

/// Narrows the product `s` (at `at` in `list`) when its operand in `role`
/// is a local stored earlier in the list as zero outside an index-only
/// mask, or as one value per row there (checked to be 0 at run time).
bool narrowZeroAs(Role role, Kernel &k, const Product &where, int blockVar, std::vector<Insertion> &insertions) {
  std::vector<Stmt> &list = *where.list;
  size_t at = where.at;
  bool inBlockLoop = where.inBlockLoop;
  Stmt &s = list[at];
  auto local = [&](const Stmt::Matrix &x) { return k.buffers[x.buffer].isLocal; };
  bool fits = role == Role::A    ? !s.a.trans && local(s.a) && s.a.ld == s.k
              : role == Role::B  ? !s.b.trans && local(s.b) && s.b.ld == s.n && s.accumulate
                                 : s.a.trans && local(s.a) && s.a.ld == s.m && s.accumulate;
  if (!fits) return false;
  const Stmt::Matrix &x = role == Role::B ? s.b : s.a;
  int64_t rows = role == Role::A ? s.m : s.k, cols = role == Role::A ? s.k : role == Role::B ? s.n : s.m;
  if (x.offset->kind != Expr::Const || x.offset->value != 0) return false;
  // Its one store, the last write earlier in this list.
  const Stmt *store = nullptr;
  for (size_t i = 0; i < at; ++i) {
    int count = 0;
    if (const Stmt *st = onlyStore(list[i], x.buffer, count)) store = st;
    else if (count) store = nullptr;
  }
  if (!store) return false;
  // It stores every element: at r·cols + c for loop variables r < rows, c < cols.
  auto terms = linearTerms(store->offset);
  // (A single row has no row variable.)
  if (linearConstant(store->offset) != 0 || terms.size() != (rows == 1 ? 1u : 2u)) return false;
  int rowVar = -1, colVar = -1;
  for (auto [t, c] : terms) {
    if (t->kind != Expr::Var) return false;
    if (c == cols && k.vars[t->var].extent == rows && rowVar < 0) rowVar = t->var;
    else if (c == 1 && k.vars[t->var].extent == cols && colVar < 0) colVar = t->var;
  }
  if (colVar < 0 || (rows > 1 && rowVar < 0)) return false;
  // Zero where its guard is false; or one value per row where every mask
  // condition on its column is false, to be checked.
  std::vector<Read> reads;
  bool checkEdges = false;
  if (const Expr *guard = zeroOutside(store->value)) {
    reads.push_back({colVar, guard});
  } else {
    llvm::DenseMap<const Expr *, bool> uses;
    llvm::SetVector<const Expr *> conds;
    llvm::DenseSet<const Expr *> seen;
    maskConditions(store->value, colVar, seen, conds, uses);
    if (conds.empty()) return false;
    llvm::DenseMap<const Expr *, const Expr *> memo;
    if (usesVar(elseValue(k, store->value, conds, memo), colVar, uses)) return false;
    for (const Expr *c : conds) reads.push_back({colVar, c});
    checkEdges = true;
  }
  auto range = columnRange(k, reads, cols, blockVar, inBlockLoop);
  if (!range) return false;
  auto [lo, hi] = *range;
  // Skip only when the other operand is finite, the skipped columns are
  // zeros, and (for B and Aᵀ) when adding.
  const Stmt::Matrix &other = role == Role::B ? s.a : s.b;
  int64_t oRows = role == Role::B ? (s.a.trans ? s.k : s.m) : (s.b.trans ? s.n : s.k);
  int64_t oCols = role == Role::B ? (s.a.trans ? s.m : s.k) : (s.b.trans ? s.k : s.n);
  const Expr *finite = allFinite(k, other, oRows, oCols), *ok = finite;
  if (checkEdges)
    if (const Expr *zero = edgesZero(k, x.buffer, rows, cols, lo, hi)) ok = k.op(OpKind::And, Type::I1, {zero, ok});
  if (role != Role::A) ok = k.op(OpKind::And, Type::I1, {ok, k.op(OpKind::Gt, Type::I1, {s.accumulate, k.index(0)})});
  placeCheck(k, where, blockVar, other, finite, ok, insertions);
  auto checked = [&](const Expr *bound, int64_t whole) {
    if (isConst(bound, whole)) return bound;
    return k.op(OpKind::Select, Type::Index, {ok, bound, k.index(whole)});
  };
  lo = checked(lo, 0);
  hi = checked(hi, cols);
  switch (role) {
  case Role::A: // the sum runs over k in [lo, hi): A's columns, B's rows
    s.kBegin = lo;
    s.kEnd = hi;
    s.a.offset = k.add(s.a.offset, lo);
    s.b.offset = k.add(s.b.offset, s.b.trans ? lo : k.mul(lo, s.b.ld));
    break;
  case Role::B: // C's columns [lo, hi): B's columns
    s.colBegin = lo;
    s.colEnd = hi;
    s.b.offset = k.add(s.b.offset, lo);
    s.c.offset = k.add(s.c.offset, lo);
    break;
  case Role::AT: // C's rows [lo, hi): columns of A as stored
    s.rowBegin = lo;
    s.rowEnd = hi;
    s.a.offset = k.add(s.a.offset, lo);
    s.c.offset = k.add(s.c.offset, k.mul(lo, s.c.ld));
    break;
  }
  return true;
}

} // namespace

bool narrowZero(Kernel &k, const Product &where, int blockVar, std::vector<Insertion> &insertions) {
  const Stmt &s = (*where.list)[where.at];
  if (!s.body.empty() || s.colBegin || s.kBegin || s.rowBegin) return false;
  for (Role role : {Role::A, Role::B, Role::AT})
    if (narrowZeroAs(role, k, where, blockVar, insertions)) return true;
  return false;
}

} // namespace gradc::masked
