//===- codegen/Threading.cpp - which loops run on the threads -------------===//
//
// Three decisions, by how much work there is:
//   - a kernel splits its outer loop across threads when it has enough
//     elements (parallelize, kParallelWork);
//   - an entry with little work in all runs on the calling thread only
//     (kSerialEntryWork);
//   - in the others, runs of small independent kernels run as one parallel
//     loop (codegen/LoopGroups.cpp).
//
//===----------------------------------------------------------------------===//
#include "codegen/Threading.h"

#include "codegen/LoopGroups.h"

#include <functional>

namespace gradc {

using namespace loops;

/// Sets `flag` (singleThreaded or oneThread) on every GEMM in `s`, itself
/// included, and in the statements nested in it.
void markGemms(Stmt &s, bool Stmt::*flag) {
  if (s.kind == Stmt::Gemm) s.*flag = true;
  for (Stmt &c : s.body) markGemms(c, flag);
}

namespace {

/// Kernels with at least this many elements of work split their outer loop
/// across threads; below it, waking the threads costs more than it saves.
constexpr int64_t kParallelWork = 1 << 15;

/// Roughly how many simple operations one element of the kernel costs:
/// a Math op (exp, log, tanh: ir/Ops.def) expands to a dozen or more
/// instructions and a divide (codegen/MathLib.cpp), so a 16K-element tanh
/// (mlp64's first layer) is worth splitting where a 16K-element add is not.
int64_t costPerElement(const Kernel &k) {
  for (const Expr &e : k.expressions())
    if (e.kind == Expr::Op && e.type != Type::Index && opInfo(e.op).cost == Cost::Math) return 8;
  return 1;
}

} // namespace

/// Marks the kernel's outermost loop parallel when that is safe and pays:
/// the loop is the kernel's last statement, everything before it is per
/// thread scratch (no reduction worth repeating), and it is big enough.
void parallelize(Kernel &k, bool matmul) {
  if (k.body.empty() || k.body.back().kind != Stmt::Loop) return;
  Stmt &loop = k.body.back();
  int64_t extent = k.vars[loop.var].extent;
  if (extent < 4) return;
  for (size_t i = 0; i + 1 < k.body.size(); ++i)
    if (k.body[i].kind != Stmt::Let || k.body[i].expr->kind == Expr::Reduce) return;
  if (!matmul && k.work * costPerElement(k) < kParallelWork) return;
  if (matmul) {
    // Each thread runs whole matrix products; they must not start threads too.
    markGemms(loop, &Stmt::singleThreaded);
    if (k.work < kParallelWork * 4) return;
  }
  loop.parallel = true;
  k.parallelExtent = extent;
}

namespace {

/// An entry with less work than this in all (loop elements plus GEMM
/// multiply-adds) runs on the calling thread only. Each parallel kernel
/// costs a hand-off to the other threads and leaves its rows in their
/// caches, and a small step is all hand-offs: mlp64's step (3.2 M
/// multiply-adds in 23 kernels) took 48-57 µs on two threads against 47 on
/// one, while its H=256 variant (about 50 M) gains from two (549-588 µs
/// against 640-690) and H=128 (about 13 M) breaks even.
constexpr int64_t kSerialEntryWork = 1 << 23;

/// Loop elements plus GEMM multiply-adds (counted once per run of their
/// enclosing loops: a slice group's products once per slice).
int64_t entryWork(const std::vector<Kernel> &ks) {
  int64_t work = 0;
  for (const Kernel &k : ks) {
    work += k.work;
    std::function<void(const Stmt &, int64_t)> walk = [&](const Stmt &s, int64_t times) {
      if (s.kind == Stmt::Gemm) {
        work += times * s.m * s.n * s.k;
        return;
      }
      if (s.kind == Stmt::Loop) times *= k.vars[s.var].extent;
      for (const Stmt &c : s.body) walk(c, times);
    };
    for (const Stmt &s : k.body) walk(s, 1);
  }
  return work;
}

/// Makes every kernel of a small entry run on the calling thread: no
/// parallel outer loop, and GEMMs that start no threads (their epilogue's
/// row loop then covers each block of rows on the caller).
void runOnOneThread(std::vector<Kernel> &ks) {
  for (Kernel &k : ks) {
    if (k.parallelExtent > 0) {
      for (Stmt &s : k.body)
        if (s.kind == Stmt::Loop) s.parallel = false;
      k.parallelExtent = 0;
    }
    for (Stmt &s : k.body) markGemms(s, &Stmt::oneThread);
  }
}

} // namespace

void chooseThreads(std::vector<Kernel> &kernels, bool oneThreadSmallEntries) {
  if (oneThreadSmallEntries && entryWork(kernels) < kSerialEntryWork) runOnOneThread(kernels);
  else groupIndependentLoops(kernels, kParallelWork);
}

} // namespace gradc
