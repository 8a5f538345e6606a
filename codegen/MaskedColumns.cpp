//===- codegen/MaskedColumns.cpp - products that skip masked columns -----===//
//
// Causal attention in row blocks (codegen/Schedule.cpp, buildSliceGroup):
//
//   for blk in 0..16                               64 rows of T = 1024
//     gemm 64x1024x32: s = q[rows] @ kᵀ
//     for i, j: ... select(blk*64 + i >= j, s[i, j] / 5.66, -1e9) ...
//
// Row block blk reads s[i, j] only where blk*64 + i >= j can hold, so only
// for j < blk*64 + 64: the product's other columns are computed and never
// used. Here that is half of the work of the scores' product, forward and
// in the backward's recomputation. This file narrows such a product to
//
//     gemm 64x1024x32 on columns [0, blk*64 + 64): s = q[rows] @ kᵀ
//
// The rule is general; nothing in it is about attention:
//
// 1. The product stores a local (one block of a slice) read by the loops
//    after it in the group, and by nothing else.
// 2. Every path from a stored value, a reduction or an address to a load of
//    that local passes through the then-branch of a select whose condition
//    is index-only: integer arithmetic and comparisons of loop variables
//    and constants (a mask built from iota, inlined by passes/Fusion.cpp).
//    The innermost such select on the path is the one used.
// 3. Each load reads column v of the local for a loop variable v.
//
// Then a column that makes every such condition false, for every row of the
// block, is read by no one; the select discards whatever is there, so
// skipping it is exact (it may hold garbage, even NaN). Which columns those
// are is found at compile time by evaluating the conditions over intervals,
// per block and per run of columns: blk fixed, v ranging over the columns,
// every other variable over its whole range. Interval evaluation only
// proves a condition false when it is false for every value in the ranges,
// so it can skip less than it might, never more.
//
// The columns kept are [lo, hi) per block. The product is narrowed when they
// follow clamp(a·blk + c, 0, n) (causal: [0, 64·blk + 64); a sliding window
// also moves lo), else to their union over blocks, else not at all.
//
// A second kind: products of a local that is zero where the mask is false
// (the backward's dS = select(mask, …, 0) / √D), or that holds one value
// per row there which a run-time check finds to be 0 (the probabilities,
// exp(-1e9 - m) / sum), skip those columns (see "zero outside the mask"
// below): dQ = dS @ K and Y = P @ V sum over fewer columns, dKᵀ += Q[rows]ᵀ
// @ dS adds to fewer columns, dV += Pᵀ @ dY[rows] to fewer rows.
//
// Third, the softmax's loops over those columns (see "loops over masked
// columns" below): a row's maximum and sum run over [lo, hi) and account
// for the masked columns at once (the sum only after checking, at run
// time, that their term, exp(-1e9 - m), is exactly 0), and a loop of stores
// stores the masked columns' one value, with nothing to compute.
//
// Fourth, the seventh product, dP = dY @ Vᵀ, which the backward's row sum
// of dP·P reads in every column: its masked terms dP·0 are zeros where dP
// is finite, which a bound on its operands, checked at run time, proves
// (see "a product its row sum reads in every column" below). Then dP and
// the row sum skip the masked columns too: all 7 of attention's products
// per block.
//
// Skipped columns change no result beyond rounding: a narrowed product or
// loop computes each kept column as before, and a masked column's value is
// the same expression as before, computed once. Rounding may differ in
// the last bits in four ways, each the same for any thread count: a sum
// that starts after column 0 (a sliding window's dQ) groups its terms into
// the GEMM's k-blocks from a different first term; a row's sum over a
// run-time range of columns is split into vector lanes differently from
// one over all of them; adding fewer zeros can leave a -0 that adding +0
// would have made +0; and where dP's masked terms are not zeros after all,
// the dot products that replace its skipped columns sum in another order
// than the GEMM (and in f32 under --precision bf16). --keep-masked-columns
// turns all of this off, for comparison.
//
//===----------------------------------------------------------------------===//
#include "codegen/MaskedColumns.h"

#include "codegen/Placement.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

namespace gradc {

using namespace loops;

namespace {

/// [lo, hi] of an integer or boolean (0/1) value.
struct Interval {
  int64_t lo, hi;
};

/// Interval evaluation of index-only integer conditions. Anything it cannot
/// bound exactly (floats, overflow, ops it does not know) is nullopt, which
/// the caller reads as "may be true".
class IntervalEval {
public:
  explicit IntervalEval(const Kernel &k) {
    for (const LoopVar &v : k.vars) vars.push_back({0, v.extent - 1});
  }
  std::vector<Interval> vars; // the range of each loop variable

  std::optional<Interval> eval(const Expr *e) {
    memo.clear();
    return at(e);
  }

private:
  llvm::DenseMap<const Expr *, std::optional<Interval>> memo;

  static constexpr int64_t kLimit = int64_t(1) << 40; // far from overflow in int64 products
  static std::optional<Interval> fits(Interval r, Type t) {
    int64_t lim = t == Type::I32 ? (int64_t(1) << 31) : kLimit;
    if (r.lo < -lim || r.hi >= lim) return std::nullopt;
    return r;
  }
  static bool integral(Type t) { return t == Type::Index || t == Type::I32 || t == Type::I1; }

  std::optional<Interval> at(const Expr *e) {
    if (auto it = memo.find(e); it != memo.end()) return it->second;
    std::optional<Interval> r = compute(e);
    memo[e] = r;
    return r;
  }

  std::optional<Interval> compute(const Expr *e) {
    if (e->kind == Expr::Var) return vars[e->var];
    if (!integral(e->type)) return std::nullopt;
    if (e->kind == Expr::Const) return Interval{int64_t(e->value), int64_t(e->value)};
    if (e->kind != Expr::Op) return std::nullopt; // loads and reductions are data
    llvm::SmallVector<Interval, 3> a;
    for (const Expr *x : e->args) {
      // A comparison may compare integers cast to a float type, exactly
      // while they are below 2^24.
      const Expr *y = x;
      if (!integral(y->type) && y->kind == Expr::Op && y->op == OpKind::Cast && integral(y->args[0]->type))
        y = y->args[0];
      if (y != x && e->op != OpKind::Lt && e->op != OpKind::Le && e->op != OpKind::Gt && e->op != OpKind::Ge &&
          e->op != OpKind::Eq && e->op != OpKind::Ne)
        return std::nullopt;
      std::optional<Interval> v = at(y);
      if (!v) return std::nullopt;
      if (y != x && (v->lo < -(1 << 24) || v->hi > (1 << 24))) return std::nullopt;
      a.push_back(*v);
    }
    auto boolean = [](bool canBeFalse, bool canBeTrue) { return Interval{canBeFalse ? 0 : 1, canBeTrue ? 1 : 0}; };
    switch (e->op) {
    case OpKind::Add: return fits({a[0].lo + a[1].lo, a[0].hi + a[1].hi}, e->type);
    case OpKind::Sub: return fits({a[0].lo - a[1].hi, a[0].hi - a[1].lo}, e->type);
    case OpKind::Neg: return fits({-a[0].hi, -a[0].lo}, e->type);
    case OpKind::Mul: {
      int64_t p[] = {a[0].lo * a[1].lo, a[0].lo * a[1].hi, a[0].hi * a[1].lo, a[0].hi * a[1].hi};
      return fits({*std::min_element(p, p + 4), *std::max_element(p, p + 4)}, e->type);
    }
    case OpKind::Div: // index division by a positive constant (Kernel::divConst)
      if (e->type != Type::Index || a[0].lo < 0 || a[1].lo != a[1].hi || a[1].lo <= 0) return std::nullopt;
      return Interval{a[0].lo / a[1].lo, a[0].hi / a[1].lo};
    case OpKind::Min: return Interval{std::min(a[0].lo, a[1].lo), std::min(a[0].hi, a[1].hi)};
    case OpKind::Max: return Interval{std::max(a[0].lo, a[1].lo), std::max(a[0].hi, a[1].hi)};
    case OpKind::Cast: return fits(a[0], e->type);
    case OpKind::Lt: return boolean(a[0].hi >= a[1].lo, a[0].lo < a[1].hi);
    case OpKind::Le: return boolean(a[0].hi > a[1].lo, a[0].lo <= a[1].hi);
    case OpKind::Gt: return boolean(a[0].lo <= a[1].hi, a[0].hi > a[1].lo);
    case OpKind::Ge: return boolean(a[0].lo < a[1].hi, a[0].hi >= a[1].lo);
    case OpKind::Eq: {
      bool disjoint = a[0].hi < a[1].lo || a[1].hi < a[0].lo;
      bool single = a[0].lo == a[0].hi && a[1].lo == a[1].hi && a[0].lo == a[1].lo;
      return boolean(!single, !disjoint);
    }
    case OpKind::Ne: {
      bool disjoint = a[0].hi < a[1].lo || a[1].hi < a[0].lo;
      bool single = a[0].lo == a[0].hi && a[1].lo == a[1].hi && a[0].lo == a[1].lo;
      return boolean(!disjoint, !single);
    }
    case OpKind::And:
      if (e->type != Type::I1) return std::nullopt;
      return Interval{a[0].lo & a[1].lo, a[0].hi & a[1].hi};
    case OpKind::Or:
      if (e->type != Type::I1) return std::nullopt;
      return Interval{a[0].lo | a[1].lo, a[0].hi | a[1].hi};
    case OpKind::Not:
      if (e->type != Type::I1) return std::nullopt;
      return Interval{1 - a[0].hi, 1 - a[0].lo};
    case OpKind::Select:
      if (a[0].lo == 1) return a[1];
      if (a[0].hi == 0) return a[2];
      return Interval{std::min(a[1].lo, a[2].lo), std::max(a[1].hi, a[2].hi)};
    default: return std::nullopt;
    }
  }
};

/// Whether `e` is the constant c.
bool isConst(const Expr *e, int64_t c) { return e->kind == Expr::Const && e->value == double(c); }

/// Whether `e` is a condition on loop variables alone: no load, no reduction.
bool indexOnlyCondition(const Expr *e) {
  if (e->kind == Expr::Const || e->kind == Expr::Var) return true;
  return e->kind == Expr::Op && llvm::all_of(e->args, indexOnlyCondition);
}

/// Every expression a statement holds (null where it has none).
std::array<const Expr *, 15> exprsOf(const Stmt &s) {
  return {s.expr,   s.value, s.offset, s.accumulate, s.a.offset, s.b.offset, s.c.offset, s.colBegin,
          s.colEnd, s.kBegin, s.kEnd,  s.rowBegin,   s.rowEnd,   s.lower,    s.upper};
}

/// One read of the product's local: the loop variable giving its column,
/// and the index-only condition under which its value is used.
struct Read {
  int column;
  const Expr *guard;
};

/// Collects the reads of `buffer` reachable from the statements in `stmts`.
/// False when some read has no usable guard or no column variable.
class ReadFinder {
public:
  ReadFinder(const Kernel &k, int buffer, int64_t n) : k(k), buffer(buffer), n(n) {}
  std::vector<Read> reads;
  bool ok = true;
  // A statement, and a reduction (its value, wherever used), whose reads
  // the caller accounts for.
  const Stmt *skip = nullptr;
  const Expr *skipReduce = nullptr;

  void stmt(const Stmt &s) {
    if (&s == skip) return;
    // From the values that leave the statements: stored, folded into an
    // accumulator, or addressing a product. A Let only computes part of
    // one of those early (placement hoists it), so it is met there.
    if (s.kind != Stmt::Let && s.kind != Stmt::AccInit)
      for (const Expr *e : exprsOf(s))
        if (e) walk(e, nullptr);
    // Written again, or read whole by another product: keep every column.
    if ((s.kind == Stmt::Store || s.kind == Stmt::AccStore || s.kind == Stmt::Fill) && s.buffer == buffer) fail();
    if (s.kind == Stmt::Gemm && (s.a.buffer == buffer || s.b.buffer == buffer || s.c.buffer == buffer)) fail();
    for (const Stmt &c : s.body) stmt(c);
  }

private:
  const Kernel &k;
  int buffer;
  int64_t n;
  llvm::DenseSet<std::pair<const Expr *, const Expr *>> seen;

  void fail() { ok = false; }

  void walk(const Expr *e, const Expr *guard) {
    if (e == skipReduce || !seen.insert({e, guard}).second) return;
    if (e->kind == Expr::Load && e->buffer == buffer) {
      std::optional<int> column = columnVar(e->args[0]);
      if (!guard || !column) fail();
      else reads.push_back({*column, guard});
    }
    if (e->kind == Expr::Op && e->op == OpKind::Select) {
      const Expr *cond = e->args[0];
      walk(cond, guard);
      // The innermost condition: an outer one may be on other variables
      // (a row's sum of masked terms, selected by a condition on the row).
      walk(e->args[1], indexOnlyCondition(cond) ? cond : guard);
      walk(e->args[2], guard);
      return;
    }
    for (const Expr *a : e->args) walk(a, guard);
  }

  /// The variable v when `offset` is v + (a multiple of n), v < n: the
  /// column of an [m, n] local stored row after row.
  std::optional<int> columnVar(const Expr *offset) const {
    if (linearConstant(offset) % n != 0) return std::nullopt;
    std::optional<int> column;
    for (auto [t, c] : linearTerms(offset)) {
      if (c % n == 0) continue;
      if (column || c != 1 || t->kind != Expr::Var || k.vars[t->var].extent > n) return std::nullopt;
      column = t->var;
    }
    return column;
  }
};

/// Whether `e` loads `buffer`.
bool loads(const Expr *e, int buffer, llvm::DenseSet<const Expr *> &seen) {
  if (!e || !seen.insert(e).second) return false;
  if (e->kind == Expr::Load && e->buffer == buffer) return true;
  return llvm::any_of(e->args, [&](const Expr *a) { return loads(a, buffer, seen); });
}

/// Whether some statement outside `readers` (and not nested in one) loads
/// `buffer`.
bool loadedElsewhere(const Stmt &s, int buffer, const llvm::DenseSet<const Stmt *> &readers) {
  if (readers.contains(&s)) return false;
  llvm::DenseSet<const Expr *> seen;
  for (const Expr *e : exprsOf(s))
    if (loads(e, buffer, seen)) return true;
  if (s.kind == Stmt::Gemm && (s.a.buffer == buffer || s.b.buffer == buffer)) return true;
  for (const Stmt &c : s.body)
    if (loadedElsewhere(c, buffer, readers)) return true;
  return false;
}

/// The columns [lo, hi) some read may use, for one row block (blk fixed, or
/// no block loop), found from both ends: the longest run of columns at each
/// end that the conditions are false on, by bisection (a condition proved
/// false on a run is proved false on any part of it: interval evaluation is
/// monotone in its ranges), then one column at a time past it.
std::pair<int64_t, int64_t> usedColumns(IntervalEval &ev, const std::vector<Read> &reads, int64_t n) {
  auto unused = [&](int64_t c0, int64_t c1) {
    for (const Read &r : reads) {
      Interval saved = ev.vars[r.column];
      ev.vars[r.column] = {c0, c1};
      std::optional<Interval> v = ev.eval(r.guard);
      ev.vars[r.column] = saved;
      if (!v || v->hi != 0) return false;
    }
    return true;
  };
  // hi: the least c with [c, n) unused (c = n: an empty run).
  int64_t a = 0, b = n;
  while (a < b) {
    int64_t c = a + (b - a) / 2;
    if (unused(c, n - 1)) b = c;
    else a = c + 1;
  }
  int64_t hi = a;
  while (hi > 0 && unused(hi - 1, hi - 1)) --hi;
  // lo: the most c <= hi with [0, c) unused.
  a = 0, b = hi;
  while (a < b) {
    int64_t c = b - (b - a) / 2;
    if (unused(0, c - 1)) a = c;
    else b = c - 1;
  }
  int64_t lo = a;
  while (lo < hi && unused(lo, lo)) ++lo;
  return {lo, hi};
}

/// An index expression for v(blk) over the blocks, as clamp(a·blk + c, 0, n)
/// or a constant; nullptr when the values follow neither.
const Expr *fit(Kernel &k, const std::vector<int64_t> &v, int blockVar, int64_t n) {
  if (llvm::all_equal(v)) return k.index(v.front());
  auto clamped = [&](int64_t a, int64_t c, int64_t b) { return std::min(std::max(a * b + c, int64_t(0)), n); };
  for (size_t b = 0; b + 1 < v.size(); ++b) {
    int64_t a = v[b + 1] - v[b], c = v[b] - a * int64_t(b);
    bool low = false, high = false, all = true;
    for (size_t i = 0; i < v.size() && all; ++i) {
      all = clamped(a, c, i) == v[i];
      low |= a * int64_t(i) + c < 0;
      high |= a * int64_t(i) + c > n;
    }
    if (!all) continue;
    const Expr *e = k.add(k.mul(k.var(blockVar), a), k.index(c));
    if (low) e = k.op(OpKind::Max, Type::Index, {e, k.index(0)});
    if (high) e = k.op(OpKind::Min, Type::Index, {e, k.index(n)});
    return e;
  }
  return nullptr;
}

/// The columns [lo, hi) of an n-column local that `reads` may use, as index
/// expressions of the block loop's variable (see the file comment); nullopt
/// when that is every column.
std::optional<std::pair<const Expr *, const Expr *>> columnRange(Kernel &k, const std::vector<Read> &reads, int64_t n,
                                                                 int blockVar, bool inBlockLoop) {
  IntervalEval ev(k);
  std::vector<int64_t> los, his;
  int64_t blocks = inBlockLoop ? k.vars[blockVar].extent : 1;
  for (int64_t b = 0; b < blocks; ++b) {
    if (inBlockLoop) ev.vars[blockVar] = {b, b};
    auto [lo, hi] = usedColumns(ev, reads, n);
    if (lo == hi) lo = hi = 0;
    los.push_back(lo);
    his.push_back(hi);
  }
  int64_t minLo = *std::min_element(los.begin(), los.end()), maxHi = *std::max_element(his.begin(), his.end());
  // Every column in every block: nothing to gain.
  if (minLo == 0 && maxHi == n && llvm::all_equal(los) && llvm::all_equal(his)) return std::nullopt;
  const Expr *lo = inBlockLoop ? fit(k, los, blockVar, n) : k.index(los[0]);
  const Expr *hi = inBlockLoop ? fit(k, his, blockVar, n) : k.index(his[0]);
  if (lo && hi) return std::make_pair(lo, hi);
  if (minLo == 0 && maxHi == n) return std::nullopt;
  return std::make_pair(k.index(minLo), k.index(maxHi)); // their union
}

/// Narrows the product `s`, whose readers are `after` (the statements that
/// follow it in its list), when they leave columns unused.
bool narrowUnread(Kernel &k, Stmt &s, llvm::ArrayRef<Stmt> after, int blockVar, bool inBlockLoop) {
  if (s.accumulate || !s.body.empty() || s.colBegin || s.kBegin || s.rowBegin || !k.buffers[s.c.buffer].isLocal) return false;
  if (s.c.offset->kind != Expr::Const || s.c.offset->value != 0 || s.c.ld != s.n) return false;
  ReadFinder f(k, s.c.buffer, s.n);
  for (const Stmt &r : after) f.stmt(r);
  if (!f.ok || f.reads.empty()) return false;
  auto range = columnRange(k, f.reads, s.n, blockVar, inBlockLoop);
  if (!range) return false;
  auto [lo, hi] = *range;
  // B's columns start colBegin in (rows of a stored-transposed B), C's too.
  s.colBegin = lo;
  s.colEnd = hi;
  s.b.offset = k.add(s.b.offset, s.b.trans ? k.mul(lo, s.b.ld) : lo);
  s.c.offset = k.add(s.c.offset, lo);
  return true;
}

//===--- masks in a value -------------------------------------------------===//

/// Whether `e` uses loop variable `v` (a reduction's own variables aside).
bool usesVar(const Expr *e, int v, llvm::DenseMap<const Expr *, bool> &memo) {
  if (e->kind == Expr::Var) return e->var == v;
  if (auto it = memo.find(e); it != memo.end()) return it->second;
  bool r = llvm::any_of(e->args, [&](const Expr *a) { return usesVar(a, v, memo); });
  memo[e] = r;
  return r;
}

/// The index-only select conditions in `e` that use `v`.
void maskConditions(const Expr *e, int v, llvm::DenseSet<const Expr *> &seen, llvm::SetVector<const Expr *> &out,
                    llvm::DenseMap<const Expr *, bool> &memo) {
  if (!seen.insert(e).second) return;
  if (e->kind == Expr::Op && e->op == OpKind::Select && indexOnlyCondition(e->args[0]) && usesVar(e->args[0], v, memo))
    out.insert(e->args[0]);
  for (const Expr *a : e->args) maskConditions(a, v, seen, out, memo);
}

/// `e` with each select on one of `conds` replaced by its else-branch.
const Expr *elseValue(Kernel &k, const Expr *e, const llvm::SetVector<const Expr *> &conds,
                      llvm::DenseMap<const Expr *, const Expr *> &memo) {
  if (e->kind != Expr::Op) return e;
  if (auto it = memo.find(e); it != memo.end()) return it->second;
  const Expr *r;
  if (e->op == OpKind::Select && conds.contains(e->args[0])) {
    r = elseValue(k, e->args[2], conds, memo);
  } else {
    llvm::SmallVector<const Expr *, 3> args;
    for (const Expr *a : e->args) args.push_back(elseValue(k, a, conds, memo));
    r = llvm::equal(args, e->args) ? e : k.op(e->op, e->type, args);
  }
  memo[e] = r;
  return r;
}

//===--- products of a local that is zero outside the mask ------------------===//
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

/// The one Store of `buffer` in `s` and what it nests; null if none, or if
/// anything else writes it there. `count` counts every write.
const Stmt *onlyStore(const Stmt &s, int buffer, int &count) {
  const Stmt *found = nullptr;
  if ((s.kind == Stmt::Store || s.kind == Stmt::AccStore || s.kind == Stmt::Fill || s.kind == Stmt::Gemm) &&
      (s.buffer == buffer || (s.kind == Stmt::Gemm && s.c.buffer == buffer))) {
    ++count;
    if (s.kind == Stmt::Store) found = &s;
  }
  for (const Stmt &c : s.body)
    if (const Stmt *f = onlyStore(c, buffer, count)) found = f;
  return count == 1 ? found : nullptr;
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

/// Statements to insert before a product: where its check is computed.
struct Insertion {
  std::vector<Stmt> *list;
  size_t depth, at; // loops around the list; position in it
  std::vector<Stmt> stmts;
};

/// Where a product sits: the list holding it and its position, the
/// variables of the loops around it, and the row-block loop's list and
/// position when it is in that loop's body.
struct Product {
  std::vector<Stmt> *list;
  size_t at;
  bool inBlockLoop;
  std::vector<int> outer;
  std::vector<Stmt> *blockList = nullptr;
  size_t blockAt = 0;
};

/// Computes the condition `ok` just before the product at `where`. Its
/// part `whole`, a check of the operand `operand` alone, goes before the
/// row-block loop instead when that operand is the same for every block
/// (K, V: the whole slice, not written in the block loop): at T = 1024 a
/// scan of K per block cost as much as the skipped columns saved.
void placeCheck(Kernel &k, const Product &where, int blockVar, const Stmt::Matrix &operand, const Expr *whole,
                const Expr *ok, std::vector<Insertion> &insertions) {
  Placer p(k);
  p.setOuter(where.outer);
  auto blockPos = llvm::find(where.outer, blockVar);
  if (where.blockList && blockPos + 1 == where.outer.end()) {
    llvm::DenseMap<const Expr *, bool> uses;
    int count = 0;
    onlyStore((*where.blockList)[where.blockAt], operand.buffer, count);
    if (!k.buffers[operand.buffer].isLocal && count == 0 && !usesVar(operand.offset, blockVar, uses)) {
      llvm::SmallVector<int, 4> above(where.outer.begin(), blockPos);
      Placer hoisted(k);
      hoisted.setOuter(above);
      Insertion before{where.blockList, above.size(), where.blockAt, {}};
      hoisted.place(whole, &before.stmts);
      insertions.push_back(std::move(before));
      p.assumePlaced(whole);
    }
  }
  Insertion ins{where.list, where.outer.size(), where.at, {}};
  p.place(ok, &ins.stmts);
  insertions.push_back(std::move(ins));
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

bool narrowZero(Kernel &k, const Product &where, int blockVar, std::vector<Insertion> &insertions) {
  const Stmt &s = (*where.list)[where.at];
  if (!s.body.empty() || s.colBegin || s.kBegin || s.rowBegin) return false;
  for (Role role : {Role::A, Role::B, Role::AT})
    if (narrowZeroAs(role, k, where, blockVar, insertions)) return true;
  return false;
}

void findProducts(std::vector<Stmt> &list, int blockVar, bool inBlockLoop, std::vector<int> &outer,
                  std::vector<Product> &out) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].kind == Stmt::Loop) {
      outer.push_back(list[i].var);
      size_t first = out.size();
      findProducts(list[i].body, blockVar, inBlockLoop || list[i].var == blockVar, outer, out);
      outer.pop_back();
      if (list[i].var == blockVar)
        for (size_t p = first; p < out.size(); ++p)
          if (out[p].list == &list[i].body) out[p].blockList = &list, out[p].blockAt = i;
    }
    if (list[i].kind == Stmt::Gemm) out.push_back({&list, i, inBlockLoop, outer});
  }
}

//===--- loops over masked columns ------------------------------------------===//
//
// The softmax's loops run over every column too:
//
//   for r in 0..T: acc max= select(g, s[i, r] / 5.66, -1e9)        row max
//   for r in 0..T: acc += exp(select(g, s[i, r] / 5.66, -1e9) - m)  row sum
//   for c in 0..T: p[i, c] = exp(select(g, …) - m) / sum             stores
//
// Where g is false for the whole block, each body is the same value for
// every column: E = -1e9, exp(-1e9 - m), exp(-1e9 - m) / sum. So:
//
//   - a row maximum runs over [lo, hi) and then folds E in once, when the
//     block has masked columns (max is exact in any order);
//   - a row sum runs over [lo, hi) when E is exactly 0 (checked at run
//     time, once per row: exp(-1e9 - m) underflows for any sane m), else
//     over every column: the skipped terms would add zeros;
//   - a loop of stores computes [lo, hi) and stores E's values in the other
//     columns, in loops of their own with nothing to compute.
//
// A loop qualifies when it is innermost, some select in it has an
// index-only condition on its variable, and every value it folds or
// stores, with each such select replaced by its else-branch, no longer
// depends on that variable. The columns come from usedColumns, with every
// such condition false outside them.

/// One step of the path from the group to a loop: a list and a position.
struct Frame {
  std::vector<Stmt> *list;
  size_t at;
};

/// Narrows the innermost loop at frames.back() when it qualifies (above).
/// Statements go in before and after it; returns how many in all.
size_t narrowLoop(Kernel &k, const std::vector<Frame> &frames, int groupVar, int blockVar, bool inBlockLoop) {
  std::vector<Stmt> &list = *frames.back().list;
  size_t at = frames.back().at;
  Stmt &loop = list[at];
  int v = loop.var;
  int64_t n = k.vars[v].extent;
  if (loop.parallel || loop.lower || llvm::any_of(loop.body, [](const Stmt &c) { return c.kind == Stmt::Loop; }))
    return 0;
  // What it folds or stores, and the mask conditions in those.
  const Stmt *accum = nullptr;
  std::vector<const Stmt *> stores;
  for (const Stmt &c : loop.body) {
    if (c.kind == Stmt::Accum && !accum) accum = &c;
    else if (c.kind == Stmt::Store) stores.push_back(&c);
    else if (c.kind != Stmt::Let) return 0;
  }
  if (accum ? !stores.empty() : stores.empty()) return 0;
  llvm::DenseMap<const Expr *, bool> uses;
  llvm::SetVector<const Expr *> conds;
  llvm::DenseSet<const Expr *> seen;
  for (const Stmt *st : stores) maskConditions(st->value, v, seen, conds, uses);
  if (accum) maskConditions(accum->value, v, seen, conds, uses);
  if (conds.empty()) return 0;
  // The values in masked columns, which must not depend on v.
  llvm::DenseMap<const Expr *, const Expr *> memo;
  auto masked = [&](const Expr *e) -> const Expr * {
    const Expr *m = elseValue(k, e, conds, memo);
    return usesVar(m, v, uses) ? nullptr : m;
  };
  const Expr *foldValue = nullptr;
  OpKind op = OpKind::ReduceSum;
  if (accum) {
    op = accum->expr->op;
    if (!isFloat(accum->expr->type) || !(foldValue = masked(accum->value))) return 0;
  }
  std::vector<const Expr *> storeValues;
  for (const Stmt *st : stores) {
    // The masked columns' loops repeat the address alone: it must be index
    // arithmetic, with nothing the loop computes.
    if (k.buffers[st->buffer].type == Type::I1 || !indexOnlyCondition(st->offset)) return 0;
    const Expr *m = masked(st->value);
    if (!m) return 0;
    storeValues.push_back(m);
  }
  std::vector<Read> reads;
  for (const Expr *c : conds) reads.push_back({v, c});
  auto range = columnRange(k, reads, n, blockVar, inBlockLoop);
  if (!range) return 0;
  auto [lo, hi] = *range;

  // Place what the new statements compute, ahead of the loop: every value
  // already computed on the path to it is taken as it is.
  Placer p(k);
  std::vector<int> outer{groupVar};
  for (size_t f = 0; f + 1 < frames.size(); ++f) outer.push_back((*frames[f].list)[frames[f].at].var);
  p.setOuter(outer);
  for (const Frame &f : frames)
    for (size_t i = 0; i < f.at; ++i)
      if ((*f.list)[i].kind == Stmt::Let) p.assumePlaced((*f.list)[i].expr);
  std::vector<Stmt> before, after;
  auto place = [&](const Expr *e) { p.place(e, &before); };
  Type t = accum ? accum->expr->type : Type::F32;
  if (accum && op == OpKind::ReduceSum) {
    // Skipped terms must be zeros: otherwise every column, as before.
    const Expr *zero = k.op(OpKind::Eq, Type::I1, {foldValue, k.constant(0, t)});
    place(zero);
    if (!isConst(lo, 0)) lo = k.op(OpKind::Select, Type::Index, {zero, lo, k.index(0)});
    if (!isConst(hi, n)) hi = k.op(OpKind::Select, Type::Index, {zero, hi, k.index(n)});
  } else if (accum) {
    if (op != OpKind::ReduceMax) return 0;
    // Fold E in once when some column is masked; max(x, -inf) is x.
    const Expr *some = nullptr;
    auto either = [&](const Expr *c) { some = some ? k.op(OpKind::Or, Type::I1, {some, c}) : c; };
    if (!isConst(lo, 0)) either(k.op(OpKind::Gt, Type::I1, {lo, k.index(0)}));
    if (!isConst(hi, n)) either(k.op(OpKind::Lt, Type::I1, {hi, k.index(n)}));
    if (!some) return 0;
    const Expr *fold = k.op(OpKind::Select, t, {some, foldValue, k.constant(-INFINITY, t)});
    place(fold);
    Stmt acc{Stmt::Accum};
    acc.expr = accum->expr;
    acc.value = fold;
    after.push_back(acc);
  } else {
    for (const Expr *e : storeValues) place(e);
    // The masked columns' stores, in loops over [0, lo) and [hi, n).
    for (auto [from, to] : {std::pair{k.index(0), lo}, std::pair{hi, k.index(n)}}) {
      if (from == to) continue;
      Stmt fill{Stmt::Loop};
      fill.var = v;
      fill.lower = from;
      fill.upper = to;
      for (size_t i = 0; i < stores.size(); ++i) {
        Stmt st = *stores[i];
        st.value = storeValues[i];
        fill.body.push_back(st);
      }
      after.push_back(fill);
    }
  }
  loop.lower = lo;
  loop.upper = hi;
  size_t added = before.size() + after.size();
  list.insert(list.begin() + at + 1, std::make_move_iterator(after.begin()), std::make_move_iterator(after.end()));
  list.insert(list.begin() + at, std::make_move_iterator(before.begin()), std::make_move_iterator(before.end()));
  return added;
}

/// Every loop in `frames.back()`'s list and below, in order, so that a loop
/// reuses what those before it computed (a row's exp(-1e9 - m)).
void narrowLoops(Kernel &k, std::vector<Frame> &frames, int groupVar, int blockVar, bool inBlockLoop) {
  std::vector<Stmt> &list = *frames.back().list;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].kind != Stmt::Loop) continue;
    frames.back().at = i;
    bool innermost = llvm::none_of(list[i].body, [](const Stmt &c) { return c.kind == Stmt::Loop; });
    if (innermost) {
      i += narrowLoop(k, frames, groupVar, blockVar, inBlockLoop); // past what it added
      continue;
    }
    frames.push_back({&list[i].body, 0});
    narrowLoops(k, frames, groupVar, blockVar, inBlockLoop || list[i].var == blockVar);
    frames.pop_back();
  }
}

//===--- a product its row sum reads in every column -------------------------===//
//
// The seventh product, dP = dY[rows] @ Vᵀ, is read by dS's stores only under
// the mask's select, and by the backward's row sum in every column:
//
//   for c in 0..T: acc += -(dP[i, c] * (exp(select(g, s[i, c] / 5.66, -1e9) - m) / sum) / sum)
//
// Where g is false the term is -(dP[i, c] * z / sum), z = exp(-1e9 - m) /
// sum: ±0 when z is 0 (one value per row, checked at run time, once per
// row), 0 / sum is 0, and dP[i, c] is finite. dP is finite in every column
// when
//
//   Σ|dY[rows]| · Σ|V| < FLT_MAX / 4
//
// since |dP[i, c]| ≤ Σ_d |dY[i, d]|·|V[c, d]| is at most that product; the
// quarter leaves room for rounding and for bf16 operands. inf or NaN in
// either operand fails it. It is checked before the product (Σ|V| once per
// slice), and when it holds:
//
//   - the product computes only the columns some reader uses (`on columns`);
//   - the row sum runs over those columns;
//   - in a row whose masked terms are not zeros (z is not 0: every kept
//     score within about 100 of the fill), loops of their own add them,
//     with dP[i, c] computed there as the dot product dY[i] · V[c], since
//     the product skipped it.
//
// When it fails, the product and the row sum cover every column, as before.
// The rule takes any product whose local is read that way: a row sum,
// over all of the local's columns, of a term that is a product or quotient
// of the local and values the same in every column, under index-only
// selects; every other read under such a select.

/// A condition, the same in every column v, under which `e` is ±0 whenever
/// each load of `x` in it is finite; null when none is found.
const Expr *zeroWhen(Kernel &k, const Expr *e, int v, int x, llvm::DenseMap<const Expr *, bool> &uses) {
  Type t = e->type;
  if (!isFloat(t)) return nullptr;
  auto columnFree = [&](const Expr *a) { return !usesVar(a, v, uses); };
  auto isZero = [&](const Expr *a) { return k.op(OpKind::Eq, Type::I1, {a, k.constant(0, t)}); };
  auto both = [&](const Expr *a, const Expr *b) { return a && b ? k.op(OpKind::And, Type::I1, {a, b}) : nullptr; };
  if (columnFree(e)) return isZero(e);
  if (e->kind != Expr::Op) return nullptr;
  switch (e->op) {
  case OpKind::Neg: return zeroWhen(k, e->args[0], v, x, uses);
  case OpKind::Mul:
    for (int i : {0, 1}) {
      const Expr *a = e->args[size_t(i)], *b = e->args[size_t(1 - i)];
      if (!columnFree(b)) continue;
      if (a->kind == Expr::Load && a->buffer == x) return isZero(b); // x·0, x finite
      const Expr *finite = k.op(OpKind::Lt, Type::I1, {k.op(OpKind::Abs, t, {b}), k.constant(INFINITY, t)});
      return both(zeroWhen(k, a, v, x, uses), finite); // 0·b, b finite
    }
    return nullptr;
  case OpKind::Div:
    if (!columnFree(e->args[1])) return nullptr;
    // 0 / b is 0 unless b is 0 or NaN: tested as it is.
    return both(zeroWhen(k, e->args[0], v, x, uses), isZero(k.op(OpKind::Div, t, {k.constant(0, t), e->args[1]})));
  default: return nullptr;
  }
}

/// `e` with each load of the product `s`'s local x[r, c] (n columns)
/// replaced by its dot product Σ_d op(A)[r, d]·op(B)[d, c].
const Expr *withDots(Kernel &k, const Expr *e, const Stmt &s, int64_t n, llvm::DenseMap<const Expr *, const Expr *> &memo) {
  if (auto it = memo.find(e); it != memo.end()) return it->second;
  const Expr *r = e;
  if (e->kind == Expr::Load && e->buffer == s.c.buffer) {
    const Expr *row = k.divConst(e->args[0], n), *col = k.remConst(e->args[0], n);
    const Expr *d = k.var(k.newVar("dd", s.k));
    const Expr *a = k.load(s.a.buffer, k.add(s.a.offset, s.a.trans ? k.add(k.mul(d, s.a.ld), row) : k.add(k.mul(row, s.a.ld), d)));
    const Expr *b = k.load(s.b.buffer, k.add(s.b.offset, s.b.trans ? k.add(k.mul(col, s.b.ld), d) : k.add(k.mul(d, s.b.ld), col)));
    r = k.reduce(OpKind::ReduceSum, e->type, k.op(OpKind::Mul, e->type, {a, b}), {d->var});
  } else if (e->kind == Expr::Op) {
    llvm::SmallVector<const Expr *, 3> args;
    for (const Expr *a : e->args) args.push_back(withDots(k, a, s, n, memo));
    if (!llvm::equal(args, e->args)) r = k.op(e->op, e->type, args);
  }
  memo[e] = r;
  return r;
}

/// The innermost loops in `list` and below that fold a load of `x` into
/// a float sum over all of their n iterations, each with its frames.
void findRowSums(std::vector<Stmt> &list, std::vector<Frame> &frames, int x, int64_t n, const Kernel &k,
                 std::vector<std::vector<Frame>> &out) {
  for (size_t i = 0; i < list.size(); ++i) {
    Stmt &l = list[i];
    if (l.kind != Stmt::Loop) continue;
    frames.push_back({&list, i});
    if (llvm::any_of(l.body, [](const Stmt &c) { return c.kind == Stmt::Loop; })) {
      findRowSums(l.body, frames, x, n, k, out);
    } else if (!l.parallel && !l.lower && k.vars[l.var].extent == n) {
      const Stmt *accum = nullptr;
      bool other = false;
      for (const Stmt &c : l.body) {
        if (c.kind == Stmt::Accum && !accum) accum = &c;
        else if (c.kind != Stmt::Let) other = true;
      }
      llvm::DenseSet<const Expr *> seen;
      if (accum && !other && accum->expr->op == OpKind::ReduceSum && isFloat(accum->expr->type) && loads(accum->value, x, seen))
        out.push_back(frames);
    }
    frames.pop_back();
  }
}

/// Narrows the product at `where` when its local is read as above. Returns
/// whether it did.
bool narrowSummed(Kernel &k, Stmt &group, const Product &where, int blockVar, std::vector<Insertion> &insertions) {
  Stmt &s = (*where.list)[where.at];
  int x = s.c.buffer;
  int64_t n = s.n;
  if (s.accumulate || !s.body.empty() || s.colBegin || s.kBegin || s.rowBegin || !k.buffers[x].isLocal) return false;
  if (!isConst(s.c.offset, 0) || s.c.ld != n) return false;
  // The row sum: one loop, after the product in its list.
  std::vector<std::vector<Frame>> sums;
  std::vector<Frame> frames;
  findRowSums(group.body, frames, x, n, k, sums);
  llvm::erase_if(sums, [&](const std::vector<Frame> &fs) {
    return llvm::none_of(fs, [&](const Frame &f) { return f.list == where.list && f.at > where.at; });
  });
  if (sums.size() != 1) return false;
  frames = sums.front();
  Stmt &loop = (*frames.back().list)[frames.back().at];
  const Stmt *accum = &*llvm::find_if(loop.body, [](const Stmt &c) { return c.kind == Stmt::Accum; });
  int v = loop.var;
  // Every load of x in it reads column v, in a row that is not v.
  llvm::DenseSet<const Expr *> visited;
  bool columns = true;
  std::function<void(const Expr *)> check = [&](const Expr *e) {
    if (!visited.insert(e).second) return;
    if (e->kind == Expr::Load && e->buffer == x) {
      llvm::DenseMap<const Expr *, bool> m;
      columns &= k.remConst(e->args[0], n) == k.var(v) && !usesVar(k.divConst(e->args[0], n), v, m);
    }
    for (const Expr *a : e->args) check(a);
  };
  check(accum->value);
  if (!columns) return false;
  // Every other read is under an index-only select.
  ReadFinder f(k, x, n);
  f.skip = &loop;
  f.skipReduce = accum->expr; // its value, read by dS's stores
  for (size_t j = where.at + 1; j < where.list->size(); ++j) f.stmt((*where.list)[j]);
  if (!f.ok) return false;
  // The row sum's masked terms: zeros under a condition the same in every column.
  llvm::DenseMap<const Expr *, bool> uses;
  llvm::SetVector<const Expr *> conds;
  llvm::DenseSet<const Expr *> seen;
  maskConditions(accum->value, v, seen, conds, uses);
  if (conds.empty()) return false;
  llvm::DenseMap<const Expr *, const Expr *> memo;
  const Expr *zero = zeroWhen(k, elseValue(k, accum->value, conds, memo), v, x, uses);
  if (!zero) return false;
  std::vector<Read> reads = f.reads;
  for (const Expr *c : conds) reads.push_back({v, c});
  auto range = columnRange(k, reads, n, blockVar, where.inBlockLoop);
  if (!range) return false;
  auto [lo, hi] = *range;
  // The masked terms with dP computed where it is needed, from the
  // operands as the product reads them (before its offsets move).
  llvm::DenseMap<const Expr *, const Expr *> dots;
  const Expr *recomputed = withDots(k, accum->value, s, n, dots);

  // dP finite: Σ|A| · Σ|B| < max / 4, before the product.
  Type t = k.buffers[x].type;
  auto sumAbs = [&](const Stmt::Matrix &m, int64_t rows, int64_t cols) {
    int r = k.newVar("br", rows), c = k.newVar("bc", cols);
    const Expr *e = k.load(m.buffer, k.add(m.offset, k.add(k.mul(k.var(r), m.ld), k.var(c))));
    return k.reduce(OpKind::ReduceSum, t, k.op(OpKind::Abs, t, {e}), {r, c});
  };
  const Expr *sumA = sumAbs(s.a, s.a.trans ? s.k : s.m, s.a.trans ? s.m : s.k);
  const Expr *sumB = sumAbs(s.b, s.b.trans ? s.n : s.k, s.b.trans ? s.k : s.n);
  double limit = (t == Type::F32 ? double(std::numeric_limits<float>::max()) : std::numeric_limits<double>::max()) / 4;
  const Expr *bounded = k.op(OpKind::Lt, Type::I1, {k.op(OpKind::Mul, t, {sumA, sumB}), k.constant(limit, t)});
  placeCheck(k, where, blockVar, s.b, sumB, bounded, insertions);
  auto when = [&](const Expr *c, const Expr *bound, int64_t whole) {
    return isConst(bound, whole) ? bound : k.op(OpKind::Select, Type::Index, {c, bound, k.index(whole)});
  };
  const Expr *from = when(bounded, lo, 0), *to = when(bounded, hi, n);

  // The row sum, and its rows' fallback loops, around the loop. Each
  // placer takes as computed what is, just before the loop.
  const Expr *fallback = k.op(OpKind::And, Type::I1, {bounded, k.op(OpKind::Not, Type::I1, {zero})});
  auto placer = [&] {
    Placer p(k);
    std::vector<int> outer{group.var};
    for (size_t i = 0; i + 1 < frames.size(); ++i) outer.push_back((*frames[i].list)[frames[i].at].var);
    p.setOuter(outer);
    for (const Frame &fr : frames)
      for (size_t i = 0; i < fr.at; ++i)
        if ((*fr.list)[i].kind == Stmt::Let) p.assumePlaced((*fr.list)[i].expr);
    p.assumePlaced(bounded);
    return p;
  };
  Insertion before{frames.back().list, frames.size(), frames.back().at, {}};
  placer().place(fallback, &before.stmts);
  Insertion after{frames.back().list, frames.size(), frames.back().at + 1, {}};
  for (auto [a, b] : {std::pair{k.index(0), when(fallback, lo, 0)}, std::pair{when(fallback, hi, n), k.index(n)}}) {
    if (a == b) continue;
    Placer p = placer();
    p.assumePlaced(fallback);
    Stmt add{Stmt::Accum};
    add.expr = accum->expr;
    add.value = recomputed;
    p.nestStmt({v}, add, {recomputed}, &after.stmts);
    after.stmts.back().lower = a;
    after.stmts.back().upper = b;
  }
  loop.lower = from;
  loop.upper = to;
  // Then the product.
  s.colBegin = from;
  s.colEnd = to;
  s.b.offset = k.add(s.b.offset, s.b.trans ? k.mul(from, s.b.ld) : from);
  s.c.offset = k.add(s.c.offset, from);
  insertions.push_back(std::move(after));
  insertions.push_back(std::move(before));
  return true;
}

} // namespace

void narrowMaskedProducts(Kernel &k, Stmt &group, int blockVar) {
  std::vector<Product> products;
  std::vector<int> outer{group.var};
  findProducts(group.body, blockVar, false, outer, products);
  std::vector<Insertion> insertions;
  for (const Product &p : products) {
    Stmt &s = (*p.list)[p.at];
    if (narrowZero(k, p, blockVar, insertions)) continue;
    int c = s.c.buffer;
    if (!k.buffers[c].isLocal) continue;
    // Every load of the local must follow one of its products in that
    // product's list: the block loop's product and the last, shorter
    // block's each have their own readers. A load anywhere else (before
    // the product, in another loop) would read columns this does not see.
    llvm::DenseSet<const Stmt *> readers;
    for (const Product &q : products)
      if ((*q.list)[q.at].c.buffer == c)
        for (size_t j = q.at + 1; j < q.list->size(); ++j) readers.insert(&(*q.list)[j]);
    if (loadedElsewhere(group, c, readers)) continue;
    narrowUnread(k, s, llvm::ArrayRef<Stmt>(*p.list).drop_front(p.at + 1), blockVar, p.inBlockLoop);
  }
  // The finiteness checks go in last: inner lists first (inserting into an
  // outer list moves the loops holding them), each from its back, so that
  // the positions found above still hold.
  llvm::sort(insertions, [](const Insertion &a, const Insertion &b) {
    return a.depth != b.depth ? a.depth > b.depth : a.at > b.at;
  });
  for (Insertion &ins : insertions)
    ins.list->insert(ins.list->begin() + ins.at, std::make_move_iterator(ins.stmts.begin()),
                     std::make_move_iterator(ins.stmts.end()));
  // Then the loops (the products' analysis above expects one store of dS).
  std::vector<Frame> frames{{&group.body, 0}};
  narrowLoops(k, frames, group.var, blockVar, false);
  // Last, a product its row sum reads in every column (that loop's masked
  // terms are known to be one value per row only now). The same order of
  // insertions.
  products.clear();
  outer = {group.var};
  findProducts(group.body, blockVar, false, outer, products);
  insertions.clear();
  for (const Product &p : products) {
    int c = (*p.list)[p.at].c.buffer;
    if (!k.buffers[c].isLocal) continue;
    llvm::DenseSet<const Stmt *> readers; // as above
    for (const Product &q : products)
      if ((*q.list)[q.at].c.buffer == c)
        for (size_t j = q.at + 1; j < q.list->size(); ++j) readers.insert(&(*q.list)[j]);
    if (!loadedElsewhere(group, c, readers)) narrowSummed(k, group, p, blockVar, insertions);
  }
  llvm::sort(insertions, [](const Insertion &a, const Insertion &b) {
    return a.depth != b.depth ? a.depth > b.depth : a.at > b.at;
  });
  for (Insertion &ins : insertions)
    ins.list->insert(ins.list->begin() + ins.at, std::make_move_iterator(ins.stmts.begin()),
                     std::make_move_iterator(ins.stmts.end()));
}

} // namespace gradc
