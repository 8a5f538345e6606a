//===- codegen/MaskedLoops.cpp - the softmax's loops, masked --------------===//
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
//
// Part of the masked-column rules: see codegen/MaskedColumns.cpp.
//
//===----------------------------------------------------------------------===//
#include "codegen/MaskedColumnsImpl.h"

#include "codegen/Placement.h"

#include <cmath>

namespace gradc::masked {

namespace {

/// Narrows the innermost loop at frames.back() when it qualifies (see the
/// file comment).
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

} // namespace

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

} // namespace gradc::masked
