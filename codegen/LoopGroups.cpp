//===- codegen/LoopGroups.cpp - independent loops run as one parallel loop ===//
//
// A training step ends with one update kernel per parameter: the GPT's 68
// AdamW kernels, [128] to [512,128] elements each. One at a time, most are
// too small to split across threads (below kParallelWork, Threading.cpp),
// and each that is split costs a hand-off to the other threads. They read
// and write disjoint memory, so they may run in any order, or at once: as
// one parallel loop over all their elements, in which each thread takes a
// contiguous share of the concatenated ranges and runs the parts of each
// kernel that fall in it (grt_parallel_loops). One hand-off replaces dozens, and every update is
// split across the threads.
//
//   kernel train.k317  %wte.next = ... (with the next 67 as one parallel loop)
//   kernel train.k318  %wpe.next = ...
//
// A kernel joins the group before it when it, and the group, only loop (a
// matrix product or a random fill calls the runtime, which has threads of
// its own; a slice group's per-thread scratch is one slice's), and when no
// memory one of them writes is touched by the other: the arena is reused,
// so a later kernel may write where an earlier one reads, and the two must
// then stay in order. Results do not change: each element is still computed
// by one call of its kernel, in the same order, whatever range it runs in.
//
//===----------------------------------------------------------------------===//
#include "codegen/LoopGroups.h"

#include <functional>
#include <string>

namespace gradc {

using namespace loops;

namespace {

/// The most kernels in one group: bounds the entry's array of loops and the
/// pairwise memory checks.
constexpr size_t kMostInGroup = 128;

/// The buffers a kernel touches, and those it stores into.
struct Access {
  std::vector<const Buffer *> all, written;
};

/// Whether the kernel only loops: no runtime call, no per-thread scratch.
bool onlyLoops(const Kernel &k) {
  if (k.scratchBytes > 0) return false;
  for (const Buffer &b : k.buffers)
    if (b.isLocal) return false;
  std::function<bool(const Stmt &)> plain = [&](const Stmt &s) {
    if (s.kind == Stmt::Gemm || s.kind == Stmt::Fill) return false;
    for (const Stmt &c : s.body)
      if (!plain(c)) return false;
    return true;
  };
  for (const Stmt &s : k.body)
    if (!plain(s)) return false;
  return true;
}

Access accessOf(const Kernel &k) {
  Access a;
  for (const Buffer &b : k.buffers) a.all.push_back(&b);
  std::function<void(const Stmt &)> walk = [&](const Stmt &s) {
    if (s.kind == Stmt::Store || s.kind == Stmt::AccStore) a.written.push_back(&k.buffers[s.buffer]);
    for (const Stmt &c : s.body) walk(c);
  };
  for (const Stmt &s : k.body) walk(s);
  return a;
}

bool anyOverlap(const std::vector<const Buffer *> &xs, const std::vector<const Buffer *> &ys) {
  for (const Buffer *x : xs)
    for (const Buffer *y : ys)
      if (sameMemory(*x, *y)) return true;
  return false;
}

} // namespace

void groupIndependentLoops(std::vector<Kernel> &kernels, int64_t parallelWork) {
  for (size_t first = 0; first < kernels.size();) {
    if (!onlyLoops(kernels[first])) {
      ++first;
      continue;
    }
    // Grow the group while the next kernel is independent of all of it.
    Access group = accessOf(kernels[first]);
    int64_t work = kernels[first].work;
    size_t last = first + 1;
    for (; last < kernels.size() && last - first < kMostInGroup && onlyLoops(kernels[last]); ++last) {
      Access next = accessOf(kernels[last]);
      if (anyOverlap(next.written, group.all) || anyOverlap(group.written, next.all)) break;
      group.all.insert(group.all.end(), next.all.begin(), next.all.end());
      group.written.insert(group.written.end(), next.written.begin(), next.written.end());
      work += kernels[last].work;
    }
    if (last - first >= 2 && work >= parallelWork) {
      for (size_t i = first + 1; i < last; ++i) kernels[i].joinsPrevious = true;
      kernels[first].summary += " (with the next " + std::to_string(last - first - 1) + " as one parallel loop)";
    }
    first = last;
  }
}

} // namespace gradc
