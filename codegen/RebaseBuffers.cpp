//===- codegen/RebaseBuffers.cpp - base pointers at the first element read -===//
//
// A slice is a view: the kernel that reads x[:, i:i+8] of an x [16, 1008]
// loads x[i0*1008 + i1 + i]. The windows of a convolution or a recurrence
// written as slices give kernels that differ only in that `+ i`, and LLVM
// compiled each one (1,000 windows: 1,190 kernels, 34 s at two threads).
//
// Here the `+ i` moves into the base pointer the entry function passes:
//
//   before   buffer x: f32[16128] slot "x"                load x[(i0*1008) + i1 + 5]
//   after    buffer x: f32[16128] slot "x" from element 5  load x[(i0*1008) + i1]
//
// so the kernels of all windows print the same canonical text and are
// compiled once (EmitModule.cpp, kernelFunction). A buffer moves by the
// lowest element any access of the kernel can touch (Kernel::range over
// the loop variables' extents), so every address stays non-negative; a
// buffer with an access whose range is unknown (a run-time index) or a
// local in per-call scratch stays where it is. Only addresses change: the
// same elements are loaded and stored, in the same order.
//
//===----------------------------------------------------------------------===//
#include "codegen/RebaseBuffers.h"

#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace gradc::loops {
namespace {

class Rebase {
public:
  explicit Rebase(Kernel &k) : k(k), low(k.buffers.size()), fixed(k.buffers.size(), false) {}

  void run() {
    for (size_t i = 0; i < k.buffers.size(); ++i) fixed[i] = k.buffers[i].isLocal || k.buffers[i].first != 0;
    // Every load the kernel built (some may be dead: a lower bound for the
    // live ones is still one), then every address a statement writes or
    // hands to the runtime.
    for (const Expr &e : k.expressions())
      if (e.kind == Expr::Load) note(e.buffer, e.args[0]);
    for (const Stmt &s : k.body) scan(s);
    bool any = false;
    for (size_t i = 0; i < k.buffers.size(); ++i) any |= !fixed[i] && low[i] && *low[i] > 0;
    if (!any) return;
    // Rebuild the expressions in creation order (operands come first), so
    // sums keep their terms' order.
    size_t count = k.expressions().size();
    for (size_t i = 0; i < count; ++i) map(&k.expressions()[i]);
    for (Stmt &s : k.body) rewrite(s);
    for (size_t i = 0; i < k.buffers.size(); ++i)
      if (int64_t s = shift(i)) k.buffers[i].first = s;
  }

private:
  Kernel &k;
  std::vector<std::optional<int64_t>> low; // lowest element any access reaches
  std::vector<bool> fixed;                 // stays where it is
  llvm::DenseMap<const Expr *, const Expr *> mapped;

  void note(int buffer, const Expr *offset) {
    if (buffer < 0 || fixed[buffer]) return;
    auto r = k.range(offset);
    if (!r || r->first < 0) {
      fixed[buffer] = true;
      return;
    }
    low[buffer] = low[buffer] ? std::min(*low[buffer], r->first) : r->first;
  }

  void scan(const Stmt &s) {
    switch (s.kind) {
    case Stmt::Store:
    case Stmt::AccStore: note(s.buffer, s.offset); break;
    case Stmt::Fill: note(s.buffer, k.index(0)); break;
    case Stmt::Gemm:
      // Each matrix is read (C written) from its offset upward.
      for (const Stmt::Matrix *m : {&s.a, &s.b, &s.c}) note(m->buffer, m->offset);
      break;
    default: break;
    }
    for (const Stmt &c : s.body) scan(c);
  }

  int64_t shift(size_t buffer) const { return fixed[buffer] || !low[buffer] ? 0 : *low[buffer]; }

  /// An address into `buffer`, less its shift.
  const Expr *address(int buffer, const Expr *offset) {
    offset = map(offset);
    int64_t s = buffer < 0 ? 0 : shift(buffer);
    return s ? k.add(offset, k.index(-s)) : offset;
  }

  const Expr *map(const Expr *e) {
    if (!e) return nullptr;
    if (auto it = mapped.find(e); it != mapped.end()) return it->second;
    const Expr *r = e;
    switch (e->kind) {
    case Expr::Const:
    case Expr::Var: break;
    case Expr::Load: r = k.load(e->buffer, address(e->buffer, e->args[0])); break;
    case Expr::Op: {
      llvm::SmallVector<const Expr *, 3> args;
      for (const Expr *a : e->args) args.push_back(map(a));
      r = k.op(e->op, e->type, args);
      break;
    }
    case Expr::Reduce: r = k.reduce(e->op, e->type, map(e->args[0]), e->vars); break;
    }
    mapped[e] = r;
    return r;
  }

  void rewrite(Stmt &s) {
    for (const Expr **e : {&s.expr, &s.value, &s.lower, &s.upper, &s.accumulate, &s.colBegin, &s.colEnd, &s.kBegin,
                           &s.kEnd, &s.rowBegin, &s.rowEnd})
      *e = map(*e);
    if (s.kind == Stmt::Store || s.kind == Stmt::AccStore) s.offset = address(s.buffer, s.offset);
    else s.offset = map(s.offset);
    if (s.kind == Stmt::Gemm)
      for (Stmt::Matrix *m : {&s.a, &s.b, &s.c}) m->offset = address(m->buffer, m->offset);
    for (Stmt &c : s.body) rewrite(c);
  }
};

} // namespace

void rebaseBuffers(Kernel &k) { Rebase(k).run(); }

} // namespace gradc::loops
