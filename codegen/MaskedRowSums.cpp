//===- codegen/MaskedRowSums.cpp - a product a row sum reads whole --------===//
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
//
// Part of the masked-column rules: see codegen/MaskedColumns.cpp.
//
//===----------------------------------------------------------------------===//
#include "codegen/MaskedColumnsImpl.h"

#include "codegen/Placement.h"

#include <cmath>
#include <functional>
#include <limits>

namespace gradc::masked {

namespace {

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

} // namespace

/// Narrows the product at `where` when its local is read as the file
/// comment says. Returns whether it did.
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

} // namespace gradc::masked
