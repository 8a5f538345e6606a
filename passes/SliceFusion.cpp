//===- passes/SliceFusion.cpp - run batched kernels slice by slice --------===//
//
// Attention computes, for each batch row and head, a chain of small matrix
// products and row-wise loops:
//
//   s = q @ kᵀ                  [B, H, T, T]   a matmul kernel
//   p = softmax(mask(s / √D))   [B, H, T, T]   loop kernels (exp, row sums)
//   y = p @ v                   [B, H, T, D]   a matmul kernel
//
// Kernel by kernel, each [B, H, T, T] intermediate goes to memory whole and
// comes back for the next kernel: 0.75 MB for the baby GPT, 12.6 MB a layer for
// the 6-layer one. This pass finds runs of consecutive kernels over the same
// leading (batch) axes in which each kernel reads what the earlier ones
// store only at its own slice (ir/Kernel.h, readsAtOwnSlice), and makes
// each run a slice group (ir/Graph.h). Scheduling turns a group into one
// parallel loop over the B·H slices that runs the whole chain on one slice
// before the next, so:
//   - an intermediate only the group reads lives one [T, T] slice at a time
//     in per-thread scratch, in cache (memory planning), never whole;
//   - the B·H small products of each matmul run inside that one parallel
//     loop, not as a kernel of B·H GEMM calls that start threads each.
//
// Nothing here knows about attention. Any chain of batched products and
// loops qualifies: the backward pass's dP = dY·Vᵀ, dS = P·(dP − rowsum(dP·P)),
// dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dY is another, and generated models find
// more (tests/modelgen checks each against one kernel per op).
//
// A kernel that sits between a run's members but does not belong moves out
// of the way, so the run stays whole: before the run when it reads nothing
// the run stores and writes no parameter, else after it (a weight gradient
// that reads dV, while dK is still to come), as long as no later member
// reads what it stores.
//
// Row blocks. For a long context even one slice's [T, T] values outgrow the
// group's scratch (4 MB each at T = 1024). A group whose kernels all work
// row by row along the axis after the slices (attention's query rows), or are
// products summing over those rows (the backward pass's dV = Pᵀ·dY and
// dK = dSᵀ·Q, which add each block's share), then runs each slice in blocks
// of rows: the whole chain on rows [r0, r0 + b), then the next b. Its
// intermediates live one [b, T] block at a time: the scores of a block of
// queries, as in flash attention's outer loop. The blocks are the fewest
// that keep them within the group's scratch (PassOptions::sliceBlockBytes),
// near the core's L2, where they would otherwise go to the arena whole; the
// last is shorter when they do not divide the rows (T = 997 in 8 blocks:
// 7 of 125 rows and one of 122). At T = 1024 attention's [B, H, T, T]
// values took 326 MB of arena for B·H = 12, and 24 MB in blocks of 32 rows;
// the GPT at T = 1024, B = 2 trains in 124 MiB instead of 231. The rows
// need no online softmax: a row's max and sum are the block's own. Blocks
// stay at least PassOptions::sliceBlockMinRows rows (64) even when those
// outgrow the scratch (past T = 1024): memory planning keeps a blocked
// group's values in scratch whatever their size, which is linear in T where
// the arena's would be quadratic (attention alone at T = 16384, B·H = 4:
// 24 MB of scratch a thread and a 117 MB arena, where the whole values
// took 26 GB; the GPT at T = 4096 trains in 248 MiB, not 1239). Flash
// attention also tiles the keys, with a running max and sum, so that a
// block stays in L2 at any T; not done here.
//
// A single slice (one sequence and head, [1, 1, T, T]) forms a group only
// to run in row blocks, and only when its values would be huge whole
// (PassOptions::singleSliceBlockBytes): the group's loop over slices is its
// parallel loop, so one slice runs on one thread, where its kernels alone
// run on all threads. The GPT with one head and B = 1 at T = 8192 takes
// 307 ms a step in blocks against 203 whole, in 62 MiB against 1045.
//
// Fusion level 3 (the default) runs this pass; below it, it does nothing.
//
//===----------------------------------------------------------------------===//
#include "passes/IndexOnly.h"
#include "passes/Pass.h"

#include "ir/Plan.h"

#include "llvm/ADT/DenseSet.h"

namespace gradc {
namespace {

/// How many kernels past a run's last member it looks for more members.
constexpr int kLookahead = 8;
/// The most kernels one group holds. A group becomes one function whose
/// loop over slices holds every member's loops, and LLVM's loop passes
/// (IndVarSimplify above all) grow faster than linearly in such a body:
/// 64 weightless attention layers made one group of 705 kernels that took
/// 60 s to compile, 16 layers 2.4 s. The GPT's largest groups hold about a
/// dozen, so the cap only cuts chains of many layers into groups of 48.
constexpr size_t kMaxMembers = 48;

class SliceFuser {
public:
  SliceFuser(Graph &g, const PassOptions &opts) : g(g), opts(opts), users(g.users()), nodesOf(g.numKernels()) {
    for (auto &n : g.nodes)
      if (n->kernel >= 0) nodesOf[n->kernel].push_back(n.get());
    for (auto &u : g.updates) updated.insert(u.value);
  }

  void run() {
    int32_t nk = g.numKernels();
    std::vector<int32_t> order; // old kernel ids in their new order
    std::vector<SliceGroup> groups;
    std::vector<bool> placed(nk, false);
    for (int32_t i = 0; i < nk; ++i) {
      if (placed[i]) continue;
      Dims batch;
      if (!startsGroup(i, batch)) {
        order.push_back(i);
        placed[i] = true;
        continue;
      }
      // Members already placed just before i (a loop feeding the product).
      std::vector<int32_t> members{i}, moved;
      while (!order.empty() && members.size() < kMaxMembers && !grouped.count(order.back()) && runsBySlice(order.back(), batch) &&
             readAtOwnSlice({order.back()}, members, batch.size())) {
        members.insert(members.begin(), order.back());
        order.pop_back();
      }
      // Members after i, moving the kernels between them out of the way:
      // before the group if they read nothing it stores, else after it.
      std::vector<int32_t> deferred;
      int skipped = 0;
      for (int32_t j = i + 1; j < nk && skipped < kLookahead && members.size() < kMaxMembers; ++j) {
        if (placed[j]) continue;
        bool afterGroup = readsAny(j, members) || readsAny(j, deferred);
        if (runsBySlice(j, batch) && readAtOwnSlice(members, {j}, batch.size()) && !readsAny(j, deferred)) {
          members.push_back(j);
          skipped = 0;
        } else if (!afterGroup && !writesState(j)) {
          moved.push_back(j);
          ++skipped;
        } else {
          deferred.push_back(j);
          ++skipped;
        }
      }
      // Kernels past the last member stay where they were.
      while (!moved.empty() && moved.back() > members.back()) moved.pop_back();
      while (!deferred.empty() && deferred.back() > members.back()) deferred.pop_back();
      // A single slice runs in blocks on one thread, so it is a group only
      // when its values would be huge whole (singleSliceBlockBytes).
      bool singleWhole = product(batch) < 2 && bytesOnlyReadBy(members) <= opts.singleSliceBlockBytes;
      if (members.size() < 2 || singleWhole) {
        // No group: i keeps its place, and the kernels before it that the
        // search took back go back too; those after it wait for their turn.
        for (int32_t m : members)
          if (m <= i) {
            order.push_back(m);
            placed[m] = true;
          }
        continue;
      }
      for (int32_t m : moved) {
        order.push_back(m);
        placed[m] = true;
      }
      SliceGroup sg;
      sg.first = int32_t(order.size());
      for (int32_t m : members) {
        order.push_back(m);
        placed[m] = true;
        grouped.insert(m);
      }
      sg.last = int32_t(order.size()) - 1;
      sg.batch = batch;
      groups.push_back(sg);
      for (int32_t m : deferred) {
        order.push_back(m);
        placed[m] = true;
      }
    }
    renumber(order);
    for (SliceGroup &sg : groups) sg.rowBlock = rowBlockFor(sg);
    // A single slice gains nothing from a group but its row blocks. Without
    // them its kernels run on their own again, in the order the search gave
    // them, which is as valid as the old one.
    llvm::erase_if(groups, [](const SliceGroup &sg) { return sg.slices() < 2 && sg.rowBlock == 0; });
    g.sliceGroups = std::move(groups);
  }

private:
  /// A batched product over [batch..., M, N] starts a group. A single
  /// slice ([1, 1, T, T]) stays a group only if it runs in row blocks:
  /// run() drops it otherwise.
  bool startsGroup(int32_t k, Dims &batch) const {
    const FusedKernel &fk = g.kernels[k];
    if (fk.kind != KernelKind::MatMul || !fk.epilogue.empty() || fk.domain.size() < 3) return false;
    batch.assign(fk.domain.begin(), fk.domain.end() - 2);
    while (!batch.empty() && product(batch) >= 2 && batch.back() == 1) batch.pop_back();
    return product(batch) >= 1 && !writesState(k);
  }

  /// A loop or plain matmul over [batch..., ...] that writes no state.
  bool runsBySlice(int32_t k, llvm::ArrayRef<int64_t> batch) const {
    const FusedKernel &fk = g.kernels[k];
    if (fk.kind != KernelKind::Loop && fk.kind != KernelKind::MatMul) return false;
    if (!fk.epilogue.empty() || writesState(k)) return false;
    size_t rank = batch.size() + (fk.kind == KernelKind::MatMul ? 2 : 0);
    return fk.domain.size() >= rank && llvm::ArrayRef<int64_t>(fk.domain).take_front(batch.size()) == batch;
  }

  bool writesState(int32_t k) const {
    return llvm::any_of(g.kernels[k].stored, [&](const Node *n) { return updated.count(n); });
  }

  /// Whether every kernel in `readers` reads what each of `writers` stores
  /// only at its own slice.
  bool readAtOwnSlice(llvm::ArrayRef<int32_t> writers, llvm::ArrayRef<int32_t> readers, unsigned r) const {
    for (int32_t w : writers)
      for (const Node *n : g.kernels[w].stored)
        for (int32_t k : readers)
          if (!readsAtOwnSlice(users, g, k, n, r)) return false;
    return true;
  }

  /// Whether kernel k reads a value one of `kernels` stores (through views).
  bool readsAny(int32_t k, llvm::ArrayRef<int32_t> kernels) const {
    for (const Node *n : nodesOf[k])
      for (const Node *op : n->operands) {
        while (op->kernel < 0 && op->is(OpKind::Reshape)) op = op->operand(0);
        if (op->kernel != k && llvm::is_contained(kernels, op->kernel)) return true;
      }
    return false;
  }

  /// The rows of a block for `sg`, or 0 to run whole slices. Whole slices
  /// when the values only the group reads fit its scratch (ir/Plan.h: at
  /// most kLocalSliceBytes a value, sliceBlockBytes in all); else the
  /// fewest equal blocks that fit (the last one shorter when they do not
  /// divide the rows), of at least sliceBlockMinRows rows. Smaller blocks
  /// than needed cost speed: measured at T = 256, one thread, blocks of 128
  /// or 64 rows ran as fast as whole slices, 32 rows 6% slower, 16 rows 18%.
  /// The same holds for long contexts, where 64-row blocks no longer fit
  /// and stay in scratch anyway: attention alone (B·H = 4, D = 64) ran
  /// 4-6% faster in blocks of 64 rows than of 32 at T = 1024, 2048 and
  /// 4096, at one and two threads (5 alternating runs each, AMD EPYC).
  int64_t rowBlockFor(SliceGroup &sg) const {
    int64_t rows = groupRows(g, sg), bytes = 0, largest = 0;
    if (!rows) return 0;
    for (int32_t k = sg.first; k <= sg.last; ++k)
      for (const Node *n : g.kernels[k].stored)
        if (readOnlyIn(n, sg)) {
          bytes += n->type.bytes() / sg.slices();
          largest = std::max(largest, n->type.bytes() / sg.slices());
        }
    auto ceilDiv = [](int64_t a, int64_t b) { return (a + b - 1) / b; };
    int64_t blocks = std::max(ceilDiv(bytes, std::max<int64_t>(opts.sliceBlockBytes, 1)), ceilDiv(largest, kLocalSliceBytes));
    // A group that selects by a mask of indices runs in blocks of the
    // fewest rows (sliceBlockMinRows) once that makes 4 or more: the blocks
    // then skip the columns the mask hides (codegen/MaskedColumns.cpp),
    // 37% of the masked products' work at 4 causal blocks. The 6-layer GPT
    // (T = 256, B·H = 48) took 407.5 ms a step this way against 435.1 whole
    // (medians of 5 alternating runs, 2 threads, AMD EPYC); before those
    // products skipped anything, blocks measured no faster.
    int64_t minRows = std::max<int64_t>(opts.sliceBlockMinRows, 1);
    if (sg.slices() > 1 && rows >= 4 * minRows && selectsByIndex(sg)) blocks = std::max(blocks, ceilDiv(rows, minRows));
    if (blocks <= 1) return 0;
    // One head ([B, 1, T, T]: startsGroup leaves the size-1 axis out of the
    // slices) puts a single row after the slices. The slices take in such
    // an axis (its index is always 0), so that the rows are T's.
    Dims whole = sg.batch;
    while (rows == 1 && takesUnitAxis(sg)) {
      sg.batch.push_back(1);
      rows = groupRows(g, sg);
    }
    int64_t block = std::max(ceilDiv(rows, blocks), minRows);
    sg.rowBlock = block;
    if (block < rows && sliceGroupProblem(users, updated, g, sg).empty()) return block;
    sg.batch = whole;
    return 0;
  }

  /// Whether a member of sg selects by a value of indices alone (a mask).
  bool selectsByIndex(const SliceGroup &sg) const {
    for (int32_t k = sg.first; k <= sg.last; ++k)
      for (const Node *n : nodesOf[k])
        if (n->is(OpKind::Select)) {
          // (The condition may be the mask broadcast over leading axes.)
          int ops = 8, nodes = 32;
          if (!n->operand(0)->is(OpKind::Const) && indexOnly(n->operand(0), ops, nodes)) return true;
        }
    return false;
  }

  /// Whether every member of sg runs over one more slice axis of size 1.
  bool takesUnitAxis(const SliceGroup &sg) const {
    Dims more = sg.batch;
    more.push_back(1);
    for (int32_t k = sg.first; k <= sg.last; ++k)
      if (!runsBySlice(k, more)) return false;
    return true;
  }

  /// Whether only kernels for which inGroup(id) holds read n (through
  /// views): then it lives in the group's scratch (MemoryPlan.cpp), unless
  /// it is too big.
  template <typename InGroup> bool readOnlyIn(const Node *n, InGroup inGroup) const {
    if (llvm::any_of(g.outputs, [&](const auto &o) { return o.value == n; }) || updated.count(n)) return false;
    return llvm::all_of(users[n->id], [&](const Node *u) {
      return u->kernel < 0 ? u->has(Layout) && readOnlyIn(u, inGroup) : inGroup(u->kernel);
    });
  }
  bool readOnlyIn(const Node *n, const SliceGroup &sg) const {
    return readOnlyIn(n, [&](int32_t k) { return sg.contains(k); });
  }

  /// The bytes of the values that `kernels` store and only they read (by
  /// the ids before renumber()): what a group of them keeps in scratch.
  int64_t bytesOnlyReadBy(llvm::ArrayRef<int32_t> kernels) const {
    int64_t bytes = 0;
    for (int32_t k : kernels)
      for (const Node *n : g.kernels[k].stored)
        if (readOnlyIn(n, [&](int32_t u) { return llvm::is_contained(kernels, u); })) bytes += n->type.bytes();
    return bytes;
  }

  /// Gives kernel order[i] the id i, everywhere.
  void renumber(llvm::ArrayRef<int32_t> order) {
    std::vector<int32_t> newId(order.size());
    for (size_t i = 0; i < order.size(); ++i) newId[order[i]] = int32_t(i);
    for (auto &n : g.nodes)
      if (n->kernel >= 0) n->kernel = newId[n->kernel];
    std::vector<FusedKernel> kernels(order.size());
    for (size_t i = 0; i < order.size(); ++i) kernels[i] = std::move(g.kernels[order[i]]);
    g.kernels = std::move(kernels);
  }

  Graph &g;
  const PassOptions &opts;
  UserLists users;
  std::vector<std::vector<Node *>> nodesOf; // by kernel id
  llvm::DenseSet<const Node *> updated;     // values of updates
  llvm::DenseSet<int32_t> grouped;          // old ids already in a group
};

} // namespace

llvm::Error runSliceFusion(Module &m, const PassOptions &opts) {
  if (opts.fusionLevel < 3) return llvm::Error::success();
  // The verifier then checks each group (ir/Kernel.h).
  for (auto &g : m.graphs)
    if (!g->kernels.empty()) SliceFuser(*g, opts).run();
  return llvm::Error::success();
}

} // namespace gradc
