//===- codegen/Placement.h - where each loop-IR expression is computed ----===//
//
// Step 2 of scheduling (codegen/Schedule.cpp builds the expressions): each
// expression is computed in the innermost loop among the loops whose
// variables it uses. A bias load moves out of the row loop; a row maximum
// becomes an accumulator loop placed before the loop that uses it. Index
// arithmetic stays inline; LLVM folds it into addresses.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <deque>

namespace gradc::loops {

/// Places expressions into a loop nest.
class Placer {
public:
  explicit Placer(Kernel &k) : k(k) {}

  /// Builds `for v in domain: roots` and appends it to the kernel body.
  struct Root {
    Stmt::Kind kind; // Store or AccStore
    int buffer;
    const Expr *offset, *value;
    OpKind accOp = OpKind::ReduceSum;
  };
  /// `into` is where the nest goes: the kernel's body unless given.
  void nest(llvm::ArrayRef<int> domain, llvm::ArrayRef<Root> roots, std::vector<Stmt> *into = nullptr) {
    inLoops(domain, into, [&] {
      for (auto &r : roots) {
        ensure(r.offset);
        ensure(r.value);
        Stmt s{r.kind};
        s.buffer = r.buffer;
        s.offset = r.offset;
        s.value = r.value;
        s.accOp = r.accOp;
        path.back()->push_back(s);
      }
    });
  }

  /// Expressions already computed where the statements placed next will
  /// run (codegen/MaskedColumns.cpp adds statements to a placed kernel).
  void assumePlaced(const Expr *e) { placed.insert(e); }

  /// Computes `e` (and what it needs that is not placed yet) into `into`.
  void place(const Expr *e, std::vector<Stmt> *into) {
    inLoops({}, into, [&] { ensure(e); });
  }

  /// Variables of loops around `into` (a slice group's slice loop): what
  /// depends on them alone is placed in `into` itself.
  void setOuter(llvm::ArrayRef<int> vars) {
    for (int v : vars) depthOfVar(v) = 0;
  }

  /// Places a statement that needs `exprs` in the innermost block of `domain`.
  void nestStmt(llvm::ArrayRef<int> domain, Stmt stmt, llvm::ArrayRef<const Expr *> exprs, std::vector<Stmt> *into = nullptr) {
    inLoops(domain, into, [&] {
      for (const Expr *e : exprs) ensure(e);
      path.back()->push_back(std::move(stmt));
    });
  }

private:
  /// Opens `for v in domain` inside `into` (the kernel's body unless
  /// given), lets `fill` place statements in the innermost block
  /// (path.back()), then appends the nest.
  template <typename Fill> void inLoops(llvm::ArrayRef<int> domain, std::vector<Stmt> *into, Fill fill) {
    if (!into) into = &k.body;
    std::deque<Stmt> loopsAt;
    path = {into};
    for (int v : domain) {
      loopsAt.push_back(Stmt{Stmt::Loop});
      loopsAt.back().var = v;
      depthOfVar(v) = path.size();
      path.push_back(&loopsAt.back().body);
    }
    fill();
    for (size_t i = loopsAt.size(); i-- > 1;) loopsAt[i - 1].body.push_back(std::move(loopsAt[i]));
    if (!loopsAt.empty()) into->push_back(std::move(loopsAt.front()));
  }

  int &depthOfVar(int v) {
    if (varDepth.size() <= size_t(v)) varDepth.resize(v + 1, -1);
    return varDepth[v];
  }

  /// The depth of the innermost loop whose variable `e` uses.
  int depth(const Expr *e) {
    auto it = depthMemo.find(e);
    if (it != depthMemo.end()) return it->second;
    int d = 0;
    switch (e->kind) {
    case Expr::Const: break;
    case Expr::Var: d = depthOfVar(e->var); break;
    case Expr::Reduce:
      // The body's variables but the reduction's own. (Hiding those while
      // measuring the body, then forgetting what was measured below,
      // measured nested reductions again at every level: a stack of 17
      // residual layer norms in one kernel took 57 s.)
      for (int v : freeVars(e)) d = std::max(d, depthOfVar(v));
      break;
    default:
      for (const Expr *a : e->args) d = std::max(d, depth(a));
    }
    depthMemo[e] = d;
    return d;
  }

  /// The variables `e` uses that no reduction inside it binds, sorted.
  const llvm::SmallVector<int, 4> &freeVars(const Expr *e) {
    if (auto it = freeMemo.find(e); it != freeMemo.end()) return it->second;
    llvm::SmallVector<int, 4> vs;
    if (e->kind == Expr::Var) vs.push_back(e->var);
    for (const Expr *a : e->args) llvm::append_range(vs, freeVars(a));
    if (e->kind == Expr::Reduce) llvm::erase_if(vs, [&](int v) { return llvm::is_contained(e->vars, v); });
    llvm::sort(vs);
    vs.erase(std::unique(vs.begin(), vs.end()), vs.end());
    return freeMemo[e] = std::move(vs);
  }

  void ensure(const Expr *e) {
    if (e->kind == Expr::Const || e->kind == Expr::Var || placed.count(e)) return;
    if (e->kind == Expr::Op && e->type == Type::Index) {
      // Index arithmetic is emitted inline where it is used.
      for (const Expr *a : e->args) ensure(a);
      return;
    }
    if (e->kind == Expr::Reduce) {
      placeReduce(e);
      return;
    }
    for (const Expr *a : e->args) ensure(a);
    int d = depth(e);
    Stmt s{Stmt::Let};
    s.expr = e;
    path[d]->push_back(s);
    placed.insert(e);
  }

  void placeReduce(const Expr *r) {
    int d = depth(r);
    Stmt init{Stmt::AccInit};
    init.expr = r;
    path[d]->push_back(init);
    // The reduction's loops hang off block d; build them aside, then attach.
    std::vector<std::vector<Stmt> *> saved = path;
    path.resize(d + 1);
    std::deque<Stmt> loopsAt;
    for (int v : r->vars) {
      loopsAt.push_back(Stmt{Stmt::Loop});
      loopsAt.back().var = v;
      depthOfVar(v) = path.size();
      path.push_back(&loopsAt.back().body);
    }
    ensure(r->args[0]);
    Stmt acc{Stmt::Accum};
    acc.expr = r;
    acc.value = r->args[0];
    path.back()->push_back(acc);
    for (size_t i = loopsAt.size(); i-- > 1;) loopsAt[i - 1].body.push_back(std::move(loopsAt[i]));
    path = saved;
    path[d]->push_back(std::move(loopsAt.front()));
    Stmt read{Stmt::Let};
    read.expr = r;
    path[d]->push_back(read);
    placed.insert(r);
  }

  Kernel &k;
  std::vector<std::vector<Stmt> *> path;
  std::vector<int> varDepth;
  llvm::DenseMap<const Expr *, int> depthMemo;
  llvm::DenseMap<const Expr *, llvm::SmallVector<int, 4>> freeMemo;
  llvm::DenseSet<const Expr *> placed;
};

} // namespace gradc::loops
