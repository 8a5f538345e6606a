//===- codegen/SharedConstants.cpp - which constants a shared kernel reads -===//
//
// The steps of an unrolled loop often differ only in a constant (an ODE's
// time t): their kernels share one function that reads such constants from
// memory (codegen/EmitModule.cpp). With a constant in the code, though,
// LLVM computes things a constant read from memory cannot reproduce:
//
//   - it folds an op whose operands are all known, `where(z > 0, 3, 5) * c`
//     or even `where(z > 0, z, 3) * c` (a relu's), into the arms of the
//     where (then `+ y` is a plain add, not a fused multiply-add), and a
//     comparison of a loop index with c into true;
//   - it rewrites some ops by the constant's value: pow(x, 2.0) is x*x;
//   - a division by c is a multiplication by 1/c rounded, when that is a
//     normal number (InstCombine); when it is not, only inside a loop
//     (LICM), and a loop LLVM proves needless may leave the division.
//
// So a constant is read from memory only where none of that can happen:
// each of its uses is an operand of + - * / minimum maximum or a
// comparison (not a where's arm: LLVM folds the op after the where into
// it), whose other operands are each computed from memory (a load, and no
// where with an arm LLVM knows), and it divides only when its reciprocal
// is a normal number (the shared code multiplies by the reciprocal, as
// LLVM does). Any other constant stays in the code, and kernels that
// differ in it do not share. tests/unit/SharedKernelsTest.cpp holds a
// model for each case explorers found, compared bit for bit with sharing
// off.
//
// LLVM also merges two multiplies that a constant in the code makes
// identical (softmax(z * s) computes z * s for the row's max and again for
// the exponent; z / 5 and z * 0.2 are one product). While kernels let LLVM
// fuse any multiply into the add after it, a merged multiply was not fused
// where the two apart were, and the last bit differed. Float arithmetic
// outside sums is now exactly as written (EmitKernel.cpp), so merging
// changes no bit (SharedKernelsTest.MergedMultipliesSameBits). A sum's
// order follows LLVM's vectorisation of its loop, which a constant in the
// code could in principle change; no model has shown it, and modelgen's
// oracle allows it (1e-10).
//
//===----------------------------------------------------------------------===//
#include "codegen/SharedConstants.h"

#include "llvm/ADT/DenseMap.h"

#include <cmath>

namespace gradc::loops {

bool reciprocalIsNormal(const Expr *c) {
  if (c->type == Type::F32) return std::isnormal(1.0f / float(c->value));
  return std::isnormal(1.0 / c->value);
}

namespace {

class Analysis {
public:
  explicit Analysis(const Kernel &k) {
    for (const Stmt &s : k.body) stmt(s);
  }
  llvm::DenseSet<const Expr *> result() const {
    llvm::DenseSet<const Expr *> out;
    for (auto [c, ok] : verdict)
      if (ok) out.insert(c);
    return out;
  }

private:
  static bool candidate(const Expr *e) {
    return e->kind == Expr::Const && (isFloat(e->type) || e->type == Type::I32);
  }

  static bool sharedOp(OpKind op) {
    switch (op) {
    case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Div:
    case OpKind::Max: case OpKind::Min:
    case OpKind::Lt: case OpKind::Le: case OpKind::Gt: case OpKind::Ge: case OpKind::Eq: case OpKind::Ne:
      return true;
    default: return false;
    }
  }

  /// Whether LLVM may know `e`'s value, or fold an op with it: a constant,
  /// something computed from constants and loop indices alone, or a where
  /// with such an arm (`where(c, x, 3) * k` is `where(c, x*k, 3k)` to
  /// LLVM, and then `+ y` is no fused multiply-add).
  bool knowable(const Expr *e) {
    if (e->kind == Expr::Const || e->kind == Expr::Var) return true;
    if (e->kind != Expr::Op) return false; // a load or a reduction: memory
    if (auto it = known.find(e); it != known.end()) return it->second;
    bool all = llvm::all_of(e->args, [&](const Expr *a) { return knowable(a); });
    if (!all && e->op == OpKind::Select) all = knowable(e->args[1]) || knowable(e->args[2]);
    return known[e] = all;
  }

  /// A use of constant `c`: shareable or not.
  void use(const Expr *c, bool ok) {
    auto [it, fresh] = verdict.try_emplace(c, ok);
    if (!fresh) it->second = it->second && ok;
  }

  void expr(const Expr *e) {
    if (!e || !visited.insert(e).second) return;
    if (e->kind == Expr::Op) {
      for (size_t i = 0; i < e->args.size(); ++i) {
        const Expr *a = e->args[i];
        if (!candidate(a)) continue;
        bool ok = sharedOp(e->op);
        if (ok && e->op == OpKind::Div && i == 1 && isFloat(e->type)) ok = reciprocalIsNormal(a);
        for (size_t j = 0; ok && j < e->args.size(); ++j)
          if (j != i && knowable(e->args[j])) ok = false;
        use(a, ok);
      }
    } else if (e->kind == Expr::Reduce && candidate(e->args[0])) {
      use(e->args[0], false);
    }
    for (const Expr *a : e->args) expr(a);
  }

  /// A constant stored or accumulated as it is stays in the code.
  void direct(const Expr *e) {
    if (e && candidate(e)) use(e, false);
    expr(e);
  }

  void stmt(const Stmt &s) {
    for (const Expr *e : {s.expr, s.offset, s.lower, s.upper, s.accumulate, s.colBegin, s.colEnd, s.kBegin, s.kEnd,
                          s.rowBegin, s.rowEnd, s.a.offset, s.b.offset, s.c.offset})
      direct(e);
    direct(s.value);
    for (const Stmt &c : s.body) stmt(c);
  }

  llvm::DenseMap<const Expr *, bool> verdict, known;
  llvm::DenseSet<const Expr *> visited;
};

} // namespace

llvm::DenseSet<const Expr *> shareableConstants(const Kernel &k) { return Analysis(k).result(); }

} // namespace gradc::loops
