//===- passes/KernelOrder.h - kernel dependencies kept acyclic ------------===//
//
// Fusion adds dependencies between kernels as it assigns nodes (a kernel
// reads a value another one stores). Most keep kernels in the order they
// were created, but a level-2 join (a matmul's epilogue, a shared value)
// puts a value read by other kernels into an existing kernel, and that can
// close a cycle no schedule could run. Fusion asks before each such join.
//
// This keeps a topological order of the kernels under edge insertion
// (Pearce and Kelly, "A dynamic topological sort algorithm for directed
// acyclic graphs", 2006): an edge that agrees with the order costs nothing;
// one that does not searches only the kernels ordered between its ends.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace gradc {

class KernelOrder {
public:
  /// A new kernel, ordered before every existing one: fusion creates
  /// kernels walking the graph backwards, so a new kernel feeds the old.
  void addKernel() {
    ord.push_back(--first);
    succs.emplace_back();
    preds.emplace_back();
  }

  /// Whether `from` → `to` could be added without a cycle.
  bool canAdd(int32_t from, int32_t to) const {
    if (from == to || ord[from] < ord[to]) return true;
    llvm::SmallVector<int32_t, 8> reached;
    return !forward(to, ord[from], from, reached);
  }

  /// Adds `from` → `to` (to must run after from); false, adding nothing,
  /// when it would close a cycle.
  bool add(int32_t from, int32_t to) {
    if (from == to || succs[from].count(to)) return true;
    if (ord[from] > ord[to]) {
      llvm::SmallVector<int32_t, 8> fwd, bwd;
      if (forward(to, ord[from], from, fwd)) return false;
      backward(from, ord[to], bwd);
      // Everything that must precede `from` now comes before everything
      // `to` leads to, in the positions the two sets held.
      auto byOrd = [&](int32_t a, int32_t b) { return ord[a] < ord[b]; };
      std::sort(fwd.begin(), fwd.end(), byOrd);
      std::sort(bwd.begin(), bwd.end(), byOrd);
      std::vector<int64_t> slots;
      for (int32_t k : bwd) slots.push_back(ord[k]);
      for (int32_t k : fwd) slots.push_back(ord[k]);
      std::sort(slots.begin(), slots.end());
      size_t i = 0;
      for (int32_t k : bwd) ord[k] = slots[i++];
      for (int32_t k : fwd) ord[k] = slots[i++];
    }
    succs[from].insert(to);
    preds[to].insert(from);
    return true;
  }

private:
  /// Kernels reachable from `start` ordered below `bound`; true if `target`
  /// is among them.
  bool forward(int32_t start, int64_t bound, int32_t target, llvm::SmallVectorImpl<int32_t> &out) const {
    llvm::DenseSet<int32_t> seen{start};
    out.push_back(start);
    for (size_t i = 0; i < out.size(); ++i)
      for (int32_t s : succs[out[i]]) {
        if (s == target) return true;
        if (ord[s] < bound && seen.insert(s).second) out.push_back(s);
      }
    return false;
  }
  /// Kernels that reach `start` ordered above `bound`.
  void backward(int32_t start, int64_t bound, llvm::SmallVectorImpl<int32_t> &out) const {
    llvm::DenseSet<int32_t> seen{start};
    out.push_back(start);
    for (size_t i = 0; i < out.size(); ++i)
      for (int32_t p : preds[out[i]])
        if (ord[p] > bound && seen.insert(p).second) out.push_back(p);
  }

  std::vector<int64_t> ord; // by kernel id: its position (any increasing numbers)
  std::vector<llvm::DenseSet<int32_t>> succs, preds;
  int64_t first = 0;
};

} // namespace gradc
