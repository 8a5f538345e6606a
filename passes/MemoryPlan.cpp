//===- passes/MemoryPlan.cpp - where every stored value lives -------------===//
//
// Fusion lists the values each kernel stores (Graph::kernels). This pass
// decides where they live:
//
//   - an update's new value is written straight into the param or state it
//     replaces (in place), when its kernel reads that target only at the
//     element it writes;
//   - a value the entry returns is written into that output's slot (a
//     value it returns reshaped, too);
//   - a GEMM's epilogue output overwrites the raw product it is computed
//     from, when nothing else reads the product and the epilogue maps it
//     element by element (dX·(GELU)': C[i] -> f(C[i], z[i], t[i])): its
//     rows are still in cache when the epilogue runs, so the output costs
//     no cache line of its own, and the product is never written back;
//   - a value that only the kernels of its slice group read (SliceFusion.cpp)
//     lives one slice at a time in that group's per-slice scratch: an
//     attention matrix [B, H, T, T] takes T·T floats per thread, not the
//     whole tensor;
//   - everything else goes into one scratch arena, at an offset chosen by
//     liveness: two values share bytes when no kernel needs both.
//
// Kernels run in id order, so a value is live from the kernel that stores it
// to the last kernel that reads it (through views too). Offsets are placed
// greedily, largest value first, at the lowest 64-byte-aligned offset free
// over its lifetime. The arena's size, the step's peak scratch memory, is
// known here at compile time and recorded on the graph.
//
//===----------------------------------------------------------------------===//
#include "ir/Plan.h"
#include "passes/Pass.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <functional>

namespace gradc {
namespace {

constexpr int64_t kAlign = 64;

struct Interval {
  Node *node;
  int32_t start, end; // kernel ids, inclusive
  int64_t bytes;
  int64_t offset = 0;
};

/// The update kernel may overwrite its target only if every read of the
/// target inside that kernel is an elementwise use at the written index,
/// and no later kernel reads it (directly or through a reshape view).
bool inPlaceSafe(const Update &u, const UserLists &users, Node *of, bool viaView) {
  for (Node *r : users[of->id]) {
    if (r->is(OpKind::Reshape) && r->kernel < 0) {
      if (!inPlaceSafe(u, users, r, true)) return false;
      continue;
    }
    if (r->kernel > u.value->kernel) return false;
    if (r->kernel == u.value->kernel && (viaView || !r->has(Elementwise) || r->type != u.target->type)) return false;
  }
  return true;
}
bool inPlaceSafe(const Update &u, const UserLists &users, const Graph &g) {
  if (u.value->kernel < 0 || u.value->type != u.target->type) return false;
  // An output that is the target (or a view of it) is copied out after
  // every kernel, so it would see the new value.
  for (auto &o : g.outputs) {
    const Node *n = o.value;
    while (n->is(OpKind::Reshape) && n->kernel < 0) n = n->operand(0);
    if (n == u.target) return false;
  }
  return inPlaceSafe(u, users, u.target, false);
}

/// Widens kernel interval [start, end] to whole slice groups.
void widenToGroups(const Graph &g, int32_t &start, int32_t &end) {
  if (const SliceGroup *sg = g.sliceGroupOf(start)) start = sg->first;
  if (const SliceGroup *sg = g.sliceGroupOf(end)) end = sg->last;
}

/// Places the intervals `pick` selects and returns the bytes they need.
int64_t place(std::vector<Interval> &live, llvm::function_ref<bool(const Interval &)> pick) {
  std::vector<Interval *> bySize;
  for (auto &iv : live)
    if (pick(iv)) bySize.push_back(&iv);
  std::stable_sort(bySize.begin(), bySize.end(), [](Interval *a, Interval *b) { return a->bytes > b->bytes; });
  // Placed values by byte range. A value goes at the first gap, in that
  // order, among those that live when it does; the scan stops there.
  // (Collecting and sorting the live ones for every value cost O(n log n)
  // each: minutes for an unrolled loop of 20,000 layers.)
  // (Copies of the four fields the scan reads, side by side: chasing each
  // placed Interval's pointer made this scan a tenth of a 400-layer
  // model's compile time.)
  struct Placed {
    int64_t lo, hi;     // byte range [lo, hi)
    int32_t start, end; // kernel interval
  };
  auto byRange = [](const Placed &a, const Placed &b) { return std::pair(a.lo, a.hi) < std::pair(b.lo, b.hi); };
  std::vector<Placed> placed;
  int64_t peak = 0;
  for (Interval *iv : bySize) {
    int64_t off = 0;
    for (const Placed &p : placed) {
      if (p.start > iv->end || iv->start > p.end) continue;
      if (off + iv->bytes <= p.lo) break;
      off = std::max(off, (p.hi + kAlign - 1) / kAlign * kAlign);
    }
    iv->offset = off;
    iv->node->storage.offset = off;
    peak = std::max(peak, off + iv->bytes);
    Placed me{off, off + iv->bytes, iv->start, iv->end};
    placed.insert(std::upper_bound(placed.begin(), placed.end(), me, byRange), me);
  }
  return (peak + kAlign - 1) / kAlign * kAlign;
}

} // namespace

llvm::Error runMemoryPlan(Module &m, const PassOptions &) {
  // `gradc opt --passes=plan-memory` on IR before fusion: every value was
  // "computed by no kernel and stored nowhere", with no word of why.
  auto computes = [](const auto &g) {
    return llvm::any_of(g->nodes, [](auto &n) { return !n->operands.empty() && !n->is(OpKind::Reshape); });
  };
  if (llvm::none_of(m.graphs, [](auto &g) { return g->numKernels() > 0; }) && llvm::any_of(m.graphs, computes))
    return passError("plan-memory places what kernels compute, and this IR has no kernels yet: run fuse first "
                     "(gradc opt --list-passes shows the order)");
  for (auto &gp : m.graphs) {
    Graph &g = *gp;
    // `update %w = %w` (hand-written text IR) keeps w: nothing to store,
    // and planning it as an in-place write had w written before it is read.
    llvm::erase_if(g.updates, [](const Update &u) { return u.value == u.target; });
    auto users = g.users();
    for (auto &n : g.nodes) n->storage = Storage{};

    // Runtime leaves live in their slots; views share their operand's bytes.
    for (auto &n : g.nodes) {
      if (isRuntimeLeaf(n.get()))
        n->storage = {Storage::Slot, n->attrs.getString(AttrKey::Name).str(), 0};
      else if (n->kernel < 0 && n->is(OpKind::Reshape))
        n->storage = {Storage::View, "", 0};
    }
    llvm::DenseSet<const Node *> stored;
    for (const FusedKernel &k : g.kernels)
      for (auto *list : {&k.stored, &k.epilogue}) stored.insert(list->begin(), list->end());
    for (auto &u : g.updates)
      if (u.value->storage.kind == Storage::None && stored.count(u.value) && inPlaceSafe(u, users, g))
        u.value->storage = {Storage::Slot, u.target->attrs.getString(AttrKey::Name).str(), 0};
    for (auto &o : g.outputs) {
      // An output that is a reshape of a stored value (a bias gradient, the
      // sum over [B, T, C] viewed as [C]) has that value stored in its slot,
      // rather than copied there at the end: its kernel then finishes it,
      // which data-parallel training watches for to start averaging.
      Node *base = o.value;
      while (base->storage.kind == Storage::View) base = base->operand(0);
      if (base->storage.kind == Storage::None && stored.count(base))
        base->storage = {Storage::Slot, grt::outputTensor(o.name), 0};
    }

    // A value that only its own slice group reads lives one slice at a time
    // in the group's scratch, when that is small enough. A group in row
    // blocks always keeps them there: SliceFusion sized its blocks to fit,
    // and where even its smallest block (sliceBlockMinRows) does not, a
    // [block, T] piece in scratch still beats the whole [B, H, T, T] value
    // in the arena (at T = 4096 and B·H = 4: 1 MB a value in blocks of 64
    // rows, not 256 MB).
    std::vector<int64_t> sliceOf(g.nodes.size(), 0); // bytes of one slice; 0: not local
    std::function<bool(Node *, const SliceGroup *)> readOnlyIn = [&](Node *n, const SliceGroup *sg) {
      for (Node *u : users[n->id]) {
        if (u->storage.kind == Storage::View) {
          if (!readOnlyIn(u, sg)) return false;
        } else if (u->kernel < 0 || !sg->contains(u->kernel)) {
          return false;
        }
      }
      return true;
    };
    llvm::DenseMap<const SliceGroup *, int64_t> scratch; // bytes taken so far
    for (auto &n : g.nodes) {
      const SliceGroup *sg = n->kernel >= 0 ? g.sliceGroupOf(n->kernel) : nullptr;
      if (!sg || !stored.count(n.get()) || n->storage.kind != Storage::None || !readOnlyIn(n.get(), sg)) continue;
      int64_t bytes = localBytes(*sg, n.get()), taken = (bytes + kAlign - 1) / kAlign * kAlign;
      if (!sg->rowBlock && (bytes > kLocalSliceBytes || scratch[sg] + taken > kGroupScratchBytes)) continue;
      scratch[sg] += taken;
      sliceOf[n->id] = bytes;
    }

    // Everything else that is stored goes to the arena; an epilogue output
    // that overwrites its product shares the product's interval.
    llvm::DenseMap<Node *, Node *> overwrites; // epilogue output -> product
    for (auto [out, product] : epilogueOverProducts(g, users))
      if (out->storage.kind == Storage::None && product->storage.kind == Storage::None) overwrites[out] = product;
    std::vector<Interval> live;
    llvm::DenseMap<Node *, size_t> index;
    for (auto &n : g.nodes) {
      if (!stored.count(n.get()) || n->storage.kind != Storage::None) continue;
      if (auto it = overwrites.find(n.get()); it != overwrites.end()) {
        // Graph order puts the product first; were it not, the output
        // would keep bytes of its own.
        if (index.count(it->second)) {
          index[n.get()] = index.lookup(it->second);
          n->storage = {Storage::Arena, "", 0};
          continue;
        }
        overwrites.erase(it);
      }
      index[n.get()] = live.size();
      bool local = sliceOf[n->id] > 0;
      live.push_back({n.get(), n->kernel, n->kernel, local ? sliceOf[n->id] : n->type.bytes()});
      n->storage = {local ? Storage::Local : Storage::Arena, "", 0};
    }
    // Extend each lifetime to its last reader, following views.
    std::function<void(Node *, Interval &)> extend = [&](Node *n, Interval &iv) {
      for (Node *u : users[n->id]) {
        if (u->storage.kind == Storage::View) extend(u, iv);
        else if (u->kernel >= 0) iv.end = std::max(iv.end, u->kernel);
      }
    };
    for (auto &iv : live) extend(iv.node, iv);
    for (auto [out, product] : overwrites) extend(out, live[index.lookup(product)]);
    // Values read after the last kernel (outputs, updates copied at the
    // end) stay live to the end.
    auto keepAlive = [&](Node *n) {
      while (n->storage.kind == Storage::View) n = n->operand(0);
      if (auto it = index.find(n); it != index.end()) live[it->second].end = g.numKernels();
    };
    for (auto &o : g.outputs) keepAlive(o.value);
    for (auto &u : g.updates) keepAlive(u.value);
    // A slice group runs its kernels slice after slice, so a value live in
    // one of them is live in all: the next slice's first kernel still reads
    // what this slice's last one would overwrite. Locals are widened too:
    // no two share bytes, so each is a buffer of its own that can carry
    // its own type and no-alias scope in the group's code.
    for (auto &iv : live) widenToGroups(g, iv.start, iv.end);

    // The arena, then each slice group's scratch, placed the same way.
    g.arenaBytes = place(live, [](const Interval &iv) { return iv.node->storage.kind == Storage::Arena; });
    for (auto [out, product] : overwrites) out->storage.offset = product->storage.offset;
    for (SliceGroup &sg : g.sliceGroups) {
      int64_t bytes = place(live, [&](const Interval &iv) {
        return iv.node->storage.kind == Storage::Local && sg.contains(iv.node->kernel);
      });
      sg.scratchBytes = bytes;
    }
  }
  return llvm::Error::success();
}

} // namespace gradc
