//===- ir/Plan.cpp - the rules a fused, memory-planned graph obeys --------===//
#include "ir/Plan.h"

#include "ir/Layout.h"
#include "ir/Printer.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <functional>
#include <optional>

namespace gradc {

bool loadedBy(const Node *n, int32_t k) {
  // A constant or iota is recomputed in each kernel that reads it, unless
  // fusion gave it a kernel of its own to store it (for a matmul).
  if ((n->is(OpKind::Const) || n->is(OpKind::Iota)) && n->storage.kind == Storage::None) return false;
  // A product is read from memory even by its own kernel's epilogue.
  if (n->is(OpKind::MatMul)) return n->storage.kind != Storage::None;
  if (n->kernel == k && n->storage.kind != Storage::View) return false;
  return n->storage.kind != Storage::None;
}

const Node *storageBase(const Node *n) {
  while (n->storage.kind == Storage::View && !n->operands.empty()) n = n->operand(0);
  return n;
}

bool storedInSlot(const Node *value, llvm::StringRef slot) {
  const Node *base = storageBase(value);
  return base->storage.kind == Storage::Slot && base->storage.slot == slot;
}

int64_t copiesIntoSlots(const Graph &g) {
  int64_t copies = 0;
  for (auto &o : g.outputs) copies += !storedInSlot(o.value, grt::outputTensor(o.name));
  for (auto &u : g.updates)
    copies += u.value != u.target && !storedInSlot(u.value, u.target->attrs.getString(AttrKey::Name));
  return copies;
}

int64_t localBytes(const SliceGroup &sg, const Node *n) {
  int64_t bytes = n->type.bytes() / sg.slices();
  unsigned r = sg.batch.size();
  if (sg.rowBlock && n->type.rank() > r && n->type.shape[r] > 0) bytes = bytes / n->type.shape[r] * sg.rowBlock;
  return bytes;
}

bool isPlanned(const Graph &g) {
  return llvm::any_of(g.nodes, [](auto &n) { return n->storage.kind != Storage::None; });
}

namespace {

class PlanChecker {
public:
  explicit PlanChecker(const Graph &g) : g(g), users(g.users()) {}

  /// Assumes a sound kernel list (verifyKernels).
  std::vector<PlanProblem> run() {
    if (g.arenaBytes < 0) err(nullptr, "the arena has a negative size");
    for (const FusedKernel &k : g.kernels)
      for (auto *list : {&k.stored, &k.epilogue}) listed.insert(list->begin(), list->end());
    // Maps, not scans per value: @grads has an output and @train an update
    // per param, thousands in a deep model, and this runs after every pass.
    for (auto &u : g.updates) updateByValue.try_emplace(u.value, &u);
    for (auto &o : g.outputs) {
      outputByName.try_emplace(o.name, o.value);
      if (o.value) returnedAs.try_emplace(storageBase(o.value), o.name);
    }
    for (auto &n : g.nodes) checkStorage(n.get());
    for (auto &n : g.nodes) checkReads(n.get());
    for (int32_t k = 0; k < g.numKernels(); ++k)
      if (g.kernels[k].kind == KernelKind::MatMul) checkMatMul(k);
    for (auto &u : g.updates) checkUpdate(u);
    checkOverlap();
    return errs;
  }

private:
  void err(const Node *at, const std::string &msg) { errs.push_back({at, "graph @" + g.name + ": " + msg}); }
  // Names only for messages: printing every value's name after each pass
  // was a quarter of a deep model's compile time.
  std::string name(const Node *n) const {
    if (!names) names = valueNames(g);
    return "%" + names->lookup(n);
  }
  std::string kernelOf(const Node *n) const { return "kernel " + std::to_string(n->kernel); }

  const Update *updateOf(const Node *n) const { return updateByValue.lookup(n); }

  void checkStorage(const Node *n) {
    const Storage &s = n->storage;
    bool stored = s.kind == Storage::Slot || s.kind == Storage::Arena || s.kind == Storage::Local;
    if (n->kernel >= 0 && stored != listed.count(n))
      err(n, name(n) + (stored ? " is stored, but " : " is stored nowhere, but ") + kernelOf(n) +
          (stored ? " does not list it" : " lists it as a value it stores"));
    if (isRuntimeLeaf(n)) {
      llvm::StringRef leaf = n->attrs.getString(AttrKey::Name);
      if (n->kernel != -1) err(n, name(n) + " is a " + n->info().mnemonic.str() + ", which no kernel computes");
      if (s.kind != Storage::Slot || s.slot != leaf)
        err(n, name(n) + " must live in its own slot \"" + leaf.str() + "\"");
      return;
    }
    switch (s.kind) {
    case Storage::None:
      if (n->kernel >= 0 && !computableInLoop(n))
        err(n, name(n) + " = " + n->info().mnemonic.str() + " must be stored: a loop cannot compute it");
      if (n->kernel < 0 && !n->is(OpKind::Const) && !n->is(OpKind::Iota))
        err(n, name(n) + " is computed by no kernel and stored nowhere");
      return;
    case Storage::View:
      if (!n->is(OpKind::Reshape) || n->kernel != -1) {
        err(n, name(n) + " is marked as a view, but only a reshape outside any kernel can be one");
        return;
      }
      if (const Node *b = storageBase(n);
          b->storage.kind != Storage::Slot && b->storage.kind != Storage::Arena && b->storage.kind != Storage::Local)
        err(n, name(n) + " is a view of " + name(b) + ", which is stored nowhere");
      return;
    case Storage::Local: {
      // One slice (or row block of one) at a time in its group's scratch:
      // only that group may read it, and the slice must fit.
      const SliceGroup *sg = n->kernel >= 0 ? g.sliceGroupOf(n->kernel) : nullptr;
      if (!sg) {
        err(n, name(n) + " is local, but " + kernelOf(n) + " is in no slice group");
        return;
      }
      unsigned r = sg->batch.size();
      if (n->type.rank() < r || llvm::ArrayRef<int64_t>(n->type.shape).take_front(r) != llvm::ArrayRef<int64_t>(sg->batch)) {
        err(n, name(n) + " " + str(n->type) + " is local, but does not have its group's slice axes");
        return;
      }
      int64_t bytes = n->type.bytes() / sg->slices(), align = dtypeBytes(n->type.dtype);
      if (sg->rowBlock) {
        // In row blocks, one block of the slice: a value its kernel computes
        // row by row, the block's rows of axis r.
        int64_t rows = groupRows(g, *sg);
        if (n->type.rank() <= r || n->type.shape[r] != rows || rowRole(g, *sg, n->kernel, rows) != RowRole::ByRow) {
          err(n, name(n) + " " + str(n->type) + " is local in a group run in row blocks, but " + kernelOf(n) +
              " does not compute it row by row over axis " + std::to_string(r));
          return;
        }
        bytes = localBytes(*sg, n);
      }
      if (s.offset < 0 || s.offset % align || s.offset > sg->scratchBytes || bytes > sg->scratchBytes - s.offset)
        err(n, name(n) + " (one slice: " + std::to_string(bytes) + " bytes) at local offset " + std::to_string(s.offset) +
            " does not fit its group's scratch of " + std::to_string(sg->scratchBytes) + " bytes");
      if (auto it = returnedAs.find(n); it != returnedAs.end())
        err(n, name(n) + " is local, but output \"" + it->second + "\" returns it");
      if (updateOf(n)) err(n, name(n) + " is local, but it is an update");
      return;
    }
    case Storage::Arena: {
      if (n->kernel < 0) err(n, name(n) + " is in the arena, but no kernel stores it");
      int64_t bytes = n->type.bytes(), align = dtypeBytes(n->type.dtype);
      if (s.offset < 0 || s.offset % align || s.offset > g.arenaBytes || bytes > g.arenaBytes - s.offset)
        err(n, name(n) + " (" + str(n->type) + ", " + std::to_string(bytes) + " bytes) at arena offset " +
            std::to_string(s.offset) + " does not fit an arena of " + std::to_string(g.arenaBytes) + " bytes" +
            (s.offset % align ? " (or is not aligned to its element size)" : ""));
      return;
    }
    case Storage::Slot: {
      if (n->kernel < 0) {
        err(n, name(n) + " lives in slot \"" + s.slot + "\", but no kernel stores it");
        return;
      }
      llvm::StringRef slot = s.slot;
      if (slot.consume_front(GRT_OUTPUT_PREFIX)) {
        const Node *out = outputByName.lookup(slot);
        if (!out || storageBase(out) != n)
          err(n, name(n) + " is stored in slot \"" + s.slot + "\", which belongs to " +
              (out ? "the value of output \"" + slot.str() + "\"" : "no output of this graph"));
        return;
      }
      const Update *u = updateOf(n);
      if (!u)
        err(n, name(n) + " is stored in slot \"" + s.slot + "\", but it is no update's new value: a slot holds an output (\"" +
                   GRT_OUTPUT_PREFIX "NAME\") or the param or state an update replaces");
      else if (u->target->attrs.getString(AttrKey::Name) != slot)
        err(n, name(n) + " is stored in slot \"" + s.slot + "\", but it is the update of \"" +
                   u->target->attrs.getString(AttrKey::Name).str() + "\", whose slot it must go in");
      else if (u->target->type != n->type)
        err(n, name(n) + " (" + str(n->type) + ") is stored in slot \"" + s.slot + "\" of type " + str(u->target->type));
      return;
    }
    }
  }

  void checkReads(const Node *n) {
    if (n->kernel < 0) return;
    int32_t k = n->kernel;
    for (const Node *op : n->operands) {
      const Node *base = storageBase(op);
      bool viaView = base != op;
      if (!viaView && op->kernel == k) continue; // computed here, or a value this kernel stores
      if (!viaView && op->kernel < 0 && (op->is(OpKind::Const) || op->is(OpKind::Iota))) continue;
      if (isRuntimeLeaf(base)) continue;
      if (base->storage.kind != Storage::Slot && base->storage.kind != Storage::Arena && base->storage.kind != Storage::Local) {
        err(op, kernelOf(n) + " reads " + name(op) + ", which " + (base->kernel >= 0 ? kernelOf(base) + " does not store" : std::string("no kernel stores")));
        continue;
      }
      if (base->storage.kind == Storage::Local && g.sliceGroupOf(k) != g.sliceGroupOf(base->kernel)) {
        err(op, kernelOf(n) + " reads " + name(op) + ", which lives in the scratch of another kernel's slice group");
        continue;
      }
      if (base->kernel > k || (base->kernel == k && !base->is(OpKind::MatMul)))
        err(n, kernelOf(n) + " reads " + name(op) + " before " + kernelOf(base) + " has stored it");
    }
  }

  void checkMatMul(int32_t k) {
    std::string what = "kernel " + std::to_string(k);
    const Node *mm = g.kernels[k].root();
    // The GEMM reads its operands from memory as strided matrices.
    for (const Node *op : mm->operands) {
      auto v = stridedView(const_cast<Node *>(op), [&](const Node *x) { return loadedBy(x, k); });
      unsigned rank = op->type.rank();
      bool unit = v && (v->strides[rank - 1] == 1 || v->strides[rank - 2] == 1 || op->type.shape[rank - 1] == 1 ||
                        op->type.shape[rank - 2] == 1);
      if (!unit)
        err(op, what + ": the operand " + name(op) + " of " + name(mm) +
            " is not a matrix in memory (a strided view of a stored value with a unit stride)");
    }
  }

  void checkUpdate(const Update &u) {
    const Node *v = u.value;
    if (v->storage.kind != Storage::Slot || v->storage.slot != u.target->attrs.getString(AttrKey::Name)) return;
    // In place: the kernel overwrites the target while reading it, so it
    // may read only the element it writes, and nothing may read the target
    // after it.
    std::function<void(const Node *, bool)> readers = [&](const Node *of, bool viaView) {
      for (const Node *r : users[of->id]) {
        if (r->storage.kind == Storage::View) {
          readers(r, true);
          continue;
        }
        if (r->kernel > v->kernel)
          err(r, "kernel " + std::to_string(r->kernel) + " reads " + name(u.target) + " after " + kernelOf(v) +
              " has overwritten it in place");
        if (r->kernel == v->kernel && (viaView || !r->has(Elementwise) || r->type != u.target->type))
          err(r, kernelOf(v) + " overwrites " + name(u.target) + " in place but also reads it at other elements (" + name(r) +
              ")");
      }
    };
    readers(u.target, false);
  }

  /// Two arena values live during the same kernel must not share bytes, nor
  /// two locals of one slice group (locals of two groups never overlap in
  /// kernels). A
  /// value lives from the kernel that stores it to the last kernel that
  /// reads it (through views); outputs and updates copied into their slots
  /// after the last kernel live to the end.
  void checkOverlap() {
    struct Interval {
      const Node *n;
      int32_t start, end;
      int64_t lo, hi;
      bool local; // in a slice group's scratch, not the arena
    };
    std::vector<Interval> live;
    llvm::DenseMap<const Node *, size_t> index;
    for (auto &n : g.nodes)
      if ((n->storage.kind == Storage::Arena || n->storage.kind == Storage::Local) && n->kernel >= 0) {
        index[n.get()] = live.size();
        bool local = n->storage.kind == Storage::Local;
        const SliceGroup *sg = local ? g.sliceGroupOf(n->kernel) : nullptr;
        int64_t bytes = sg ? localBytes(*sg, n.get()) : n->type.bytes();
        live.push_back({n.get(), n->kernel, n->kernel, n->storage.offset, n->storage.offset + bytes, local});
      }
    std::function<void(const Node *, Interval &)> extend = [&](const Node *n, Interval &iv) {
      for (const Node *u : users[n->id]) {
        if (u->storage.kind == Storage::View) extend(u, iv);
        else if (u->kernel >= 0) iv.end = std::max(iv.end, u->kernel);
      }
    };
    for (auto &iv : live) extend(iv.n, iv);
    auto toEnd = [&](const Node *n) {
      if (auto it = index.find(storageBase(n)); it != index.end()) live[it->second].end = g.numKernels();
    };
    for (auto &o : g.outputs) toEnd(o.value);
    for (auto &u : g.updates) toEnd(u.value);
    // In a slice group every kernel runs once per slice: a value live in
    // one of its kernels is live in all (passes/MemoryPlan.cpp).
    for (auto &iv : live) {
      if (const SliceGroup *sg = g.sliceGroupOf(iv.start)) iv.start = sg->first;
      if (const SliceGroup *sg = g.sliceGroupOf(iv.end)) iv.end = sg->last;
    }
    // The one exception: an epilogue output written over its product, at
    // the same bytes, where the kernel reads the product only at the
    // index it writes (epilogueOverProducts).
    llvm::DenseSet<std::pair<const Node *, const Node *>> overwrites;
    for (auto [out, product] : epilogueOverProducts(g, users)) {
      overwrites.insert({out, product});
      overwrites.insert({product, out});
    }
    auto allowed = [&](const Interval &a, const Interval &b) {
      return a.lo == b.lo && a.hi == b.hi && overwrites.count({a.n, b.n});
    };
    std::sort(live.begin(), live.end(), [](const Interval &a, const Interval &b) { return a.lo < b.lo; });
    for (size_t i = 0; i < live.size(); ++i)
      for (size_t j = i + 1; j < live.size() && live[j].lo < live[i].hi; ++j)
        if (live[i].start <= live[j].end && live[j].start <= live[i].end && live[i].local == live[j].local &&
            !allowed(live[i], live[j]))
          err(live[j].n, name(live[i].n) + " (arena bytes " + std::to_string(live[i].lo) + ".." + std::to_string(live[i].hi) +
              ", kernels " + std::to_string(live[i].start) + ".." + std::to_string(live[i].end) + ") and " + name(live[j].n) +
              " (bytes " + std::to_string(live[j].lo) + ".." + std::to_string(live[j].hi) + ", kernels " +
              std::to_string(live[j].start) + ".." + std::to_string(live[j].end) + ") share bytes while both are live");
  }

  const Graph &g;
  mutable std::optional<llvm::DenseMap<const Node *, std::string>> names;
  UserLists users;
  llvm::DenseSet<const Node *> listed; // stored by the kernel list
  llvm::DenseMap<const Node *, const Update *> updateByValue; // the first update of each value
  llvm::StringMap<const Node *> outputByName;                 // the first output of each name
  llvm::DenseMap<const Node *, std::string> returnedAs;       // storage base -> an output returning it
  std::vector<PlanProblem> errs;
};

} // namespace

// An epilogue output may overwrite its product only where every value the
// kernel computes from the product reads it at the output's own index.
/// One kernel's case of epilogueOverProducts; `returned` holds the storage
/// bases of g's outputs and updates.
static Node *epilogueOverProduct(const FusedKernel &k, const UserLists &users,
                                 const llvm::DenseSet<const Node *> &returned) {
  if (k.kind != KernelKind::MatMul || k.stored.size() != 1 || k.epilogue.size() != 1) return nullptr;
  Node *product = k.stored[0], *out = k.epilogue[0];
  if (!product->is(OpKind::MatMul) || out->type.dtype != product->type.dtype || out->type.numel() != product->type.numel())
    return nullptr;
  int32_t kid = product->kernel;
  if (returned.count(product)) return nullptr;
  // Everything computed from the product: views of it, or elementwise
  // values of its size in this kernel; only `out` may be read elsewhere.
  std::vector<Node *> work{product};
  llvm::DenseSet<Node *> seen{product};
  while (!work.empty()) {
    Node *n = work.back();
    work.pop_back();
    if (n == out) continue; // later kernels read E itself
    for (Node *u : users[n->id]) {
      bool view = u->is(OpKind::Reshape) && u->kernel < 0;
      if (!view && (u->kernel != kid || !u->has(Elementwise) || u->type.numel() != product->type.numel()))
        return nullptr;
      if (seen.insert(u).second) work.push_back(u);
    }
  }
  return seen.count(out) ? out : nullptr;
}

std::vector<std::pair<Node *, Node *>> epilogueOverProducts(const Graph &g, const UserLists &users) {
  // (Views are marked before memory planning places anything, so
  // storageBase finds an output or update that is the product reshaped.)
  // One set for all kernels: a scan of the outputs per kernel was
  // quadratic in a deep model.
  llvm::DenseSet<const Node *> returned;
  for (auto &o : g.outputs) returned.insert(storageBase(o.value));
  for (auto &u : g.updates) returned.insert(storageBase(u.value));
  std::vector<std::pair<Node *, Node *>> pairs;
  for (const FusedKernel &k : g.kernels)
    if (Node *out = epilogueOverProduct(k, users, returned)) pairs.push_back({out, k.stored[0]});
  return pairs;
}

std::vector<PlanProblem> verifyPlan(const Graph &g) { return PlanChecker(g).run(); }

} // namespace gradc
