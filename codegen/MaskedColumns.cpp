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
// exp(-1e9 - m) / sum), skip those columns (MaskedZeros.cpp): dQ = dS @ K
// and Y = P @ V sum over fewer columns, dKᵀ += Q[rows]ᵀ @ dS adds to fewer
// columns, dV += Pᵀ @ dY[rows] to fewer rows.
//
// Third, the softmax's loops over those columns (MaskedLoops.cpp): a row's
// maximum and sum run over [lo, hi) and account for the masked columns at
// once (the sum only after checking, at run time, that their term,
// exp(-1e9 - m), is exactly 0), and a loop of stores stores the masked
// columns' one value, with nothing to compute.
//
// Fourth, the seventh product, dP = dY @ Vᵀ, which the backward's row sum
// of dP·P reads in every column: its masked terms dP·0 are zeros where dP
// is finite, which a bound on its operands, checked at run time, proves
// (MaskedRowSums.cpp). Then dP and the row sum skip the masked columns
// too: all 7 of attention's products per block.
//
// This file holds what the rules share (interval evaluation, reads and
// their guards, the columns a block uses, masks in a value, where checks
// go), the first rule, and the order in which narrowMaskedProducts runs
// them.
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
#include "codegen/MaskedColumnsImpl.h"

#include "codegen/Placement.h"

#include <cmath>

namespace gradc::masked {

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

} // namespace

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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

//===--- masks in a value -------------------------------------------------===//

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

//===--- products and what goes in before them -----------------------------===//

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

void insertAll(std::vector<Insertion> &insertions) {
  llvm::sort(insertions, [](const Insertion &a, const Insertion &b) {
    return a.depth != b.depth ? a.depth > b.depth : a.at > b.at;
  });
  for (Insertion &ins : insertions)
    ins.list->insert(ins.list->begin() + ins.at, std::make_move_iterator(ins.stmts.begin()),
                     std::make_move_iterator(ins.stmts.end()));
}

} // namespace gradc::masked

namespace gradc {

void narrowMaskedProducts(loops::Kernel &k, loops::Stmt &group, int blockVar) {
  using namespace masked;
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
  // The finiteness checks go in last, so that the positions found above
  // still hold.
  insertAll(insertions);
  // Then the loops (the products' analysis above expects one store of dS).
  std::vector<Frame> frames{{&group.body, 0}};
  narrowLoops(k, frames, group.var, blockVar, false);
  // Last, a product its row sum reads in every column (that loop's masked
  // terms are known to be one value per row only now).
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
  insertAll(insertions);
}

} // namespace gradc
