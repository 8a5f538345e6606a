//===- passes/Fusion.cpp - group nodes into kernels -----------------------===//
//
// Assigns every computing node to a kernel: one loop nest that codegen emits
// as one function. Values that cross from one kernel to another are stored;
// everything inside a kernel is computed in registers.
//
// What never needs a kernel of its own:
//   - leaves from the runtime (inputs, params, state, hyperparameters);
//   - views: a reshape of a stored value is the same bytes read differently;
//   - constants, iota and layout ops (broadcast, transpose, slice, pad,
//     concat, reshape): they are recomputed inside each kernel that reads
//     them, cloned when several kernels do.
//
// Level 0 gives every other node its own kernel. Level 1 (the default) also
// fuses a node into its single consumer's kernel when the consumer is an
// elementwise op or a reduction, so chains become one loop, reductions pull
// in their producers, and softmax or layer norm take one or two kernels.
//
// Kernels are then numbered in an order that respects data dependencies and
// one more rule: the kernel that overwrites a parameter or optimizer state
// in place runs after every other kernel that reads it.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Layout.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <set>

namespace gradc {
namespace {

bool isRuntimeLeaf(const Node *n) {
  return n->has(Leaf) && !n->is(OpKind::Const) && !n->is(OpKind::Iota) && !n->has(Random);
}
bool isInlinable(const Node *n) { return n->is(OpKind::Const) || n->is(OpKind::Iota) || n->has(Layout); }

class Fuser {
public:
  Fuser(Graph &g, unsigned level) : g(g), level(level) {}

  llvm::Error run() {
    for (auto &n : g.nodes) n->kernel = -1;
    collectUses();
    markViews();
    // Roots: nodes that must be stored because something outside a kernel
    // (an output, an update, a matmul operand) needs their bytes.
    for (auto &o : g.outputs) mustStore.insert(o.value);
    for (auto &u : g.updates) mustStore.insert(u.value);

    // Assign kernels from the last node back, so each node knows its users'
    // kernels when its own turn comes.
    for (size_t k = g.nodes.size(); k-- > 0;) assign(g.nodes[k].get());
    for (auto &n : clones) g.append(std::move(n));
    clones.clear();
    g.sortTopologically();
    return order();
  }

private:
  void collectUses() {
    for (auto &n : g.nodes)
      for (Node *op : n->operands) addUse(op, n.get());
  }
  void addUse(Node *of, Node *user) {
    auto &u = uses[of];
    if (!llvm::is_contained(u, user)) u.push_back(user);
  }

  bool stored(const Node *n) const { return isRuntimeLeaf(n) || views.count(n) || (!isInlinable(n) && !n->has(Leaf)) || n->has(Random); }

  void markViews() {
    for (auto &n : g.nodes)
      if (n->is(OpKind::Reshape) && stored(n->operand(0)) && !n->operand(0)->is(OpKind::Const)) {
        // A reshape of a stored value whose bytes are contiguous is a view.
        auto v = stridedView(n->operand(0), [&](const Node *x) { return stored(x); });
        if (v && v->base == n->operand(0)) views.insert(n.get());
      }
  }

  int32_t newKernel() { return nextKernel++; }

  /// A matmul reads its operands as strided matrices: each must be a view
  /// of stored bytes with unit stride in one of its last two dims.
  bool matmulReadable(Node *op) {
    auto v = stridedView(op, [&](const Node *x) { return stored(x); });
    if (!v) return false;
    unsigned r = op->type.rank();
    return v->strides[r - 1] == 1 || v->strides[r - 2] == 1 || op->type.shape[r - 1] == 1 || op->type.shape[r - 2] == 1;
  }

  /// True when n reads (directly or through inlinable ops) a param or state
  /// other than `target`.
  static bool readsOtherState(const Node *n, const Node *target) {
    for (const Node *op : n->operands) {
      if (op->has(Stateful) && op != target) return true;
      if (isInlinable(op) && readsOtherState(op, target)) return true;
    }
    return false;
  }

  /// Whether node n may join its consumer's kernel (level 1).
  bool fusesInto(Node *n, Node *user) const {
    if (level == 0) return false;
    if (n->is(OpKind::MatMul) || n->is(OpKind::ScatterAdd) || n->has(Random)) return false;
    // A kernel that overwrites a param in place must not also read another
    // param or state: the two updates would each have to run first.
    auto t = kernelTarget.find(user->kernel);
    if (t != kernelTarget.end() && readsOtherState(n, t->second)) return false;
    // An elementwise user or a reduction reads n at its own index, once
    // per element, so computing n inside the user's loop costs nothing extra.
    return user->has(Elementwise) || user->has(Reduction);
  }

  void assign(Node *n) {
    if (isRuntimeLeaf(n) || views.count(n)) return;
    auto &us = uses[n];
    bool needsOwn = mustStore.count(n) || n->has(Random) || !isInlinable(n);
    if (!isInlinable(n) && !mustStore.count(n) && us.size() == 1 && us[0]->kernel >= 0 && fusesInto(n, us[0]) &&
        !views.count(us[0])) {
      n->kernel = us[0]->kernel;
      return;
    }
    if (needsOwn) {
      n->kernel = newKernel();
      for (auto &u : g.updates)
        if (u.value == n) kernelTarget[n->kernel] = u.target;
      return;
    }
    // Inlinable: join each kernel that reads it (cloning for all but one);
    // materialise it when a reader cannot take it inline.
    llvm::SetVector<int32_t> kernels;
    for (Node *u : us) {
      if (u->is(OpKind::MatMul) && !matmulReadable(n)) {
        n->kernel = newKernel();
        return;
      }
      if (views.count(u) || u->kernel < 0) {
        n->kernel = newKernel();
        return;
      }
      kernels.insert(u->kernel);
    }
    if (kernels.empty()) {
      n->kernel = newKernel();
      return;
    }
    n->kernel = kernels[0];
    for (size_t k = 1; k < kernels.size(); ++k) {
      auto c = std::make_unique<Node>(*n);
      c->kernel = kernels[k];
      for (Node *u : us)
        if (u->kernel == kernels[k])
          for (auto &op : u->operands)
            if (op == n) op = c.get();
      for (Node *op : c->operands) addUse(op, c.get());
      clones.push_back(std::move(c));
    }
  }

  /// Renumber kernels in a dependency order (see the file comment).
  llvm::Error order() {
    if (nextKernel == 0) return llvm::Error::success();
    std::vector<llvm::SmallSetVector<int32_t, 4>> preds(nextKernel);
    // Readers of a node: kernels of its users, seen through views.
    auto allUsers = g.users();
    std::function<void(Node *, llvm::SmallVectorImpl<int32_t> &)> readers = [&](Node *n, llvm::SmallVectorImpl<int32_t> &out) {
      for (Node *u : allUsers[n->id]) {
        if (views.count(u)) readers(u, out);
        else if (u->kernel >= 0) out.push_back(u->kernel);
      }
    };
    for (auto &n : g.nodes)
      for (Node *op : n->operands) {
        Node *src = op;
        while (views.count(src)) src = src->operand(0);
        if (n->kernel >= 0 && src->kernel >= 0 && src->kernel != n->kernel) preds[n->kernel].insert(src->kernel);
      }
    for (auto &u : g.updates) {
      if (u.value->kernel < 0) continue;
      llvm::SmallVector<int32_t, 8> rs;
      readers(u.target, rs);
      for (int32_t k : rs)
        if (k != u.value->kernel) preds[u.value->kernel].insert(k);
    }
    // Kahn's algorithm. Kernel ids were handed out walking the graph
    // backwards, so among ready kernels the largest id comes first in
    // program order; keeping that order keeps the schedule predictable.
    std::vector<int32_t> newId(nextKernel, -1);
    std::vector<unsigned> missing(nextKernel);
    std::vector<std::vector<int32_t>> succs(nextKernel);
    for (int32_t k = 0; k < nextKernel; ++k) {
      missing[k] = preds[k].size();
      for (int32_t p : preds[k]) succs[p].push_back(k);
    }
    std::set<int32_t> ready; // negated ids: begin() is the largest
    for (int32_t k = 0; k < nextKernel; ++k)
      if (!missing[k]) ready.insert(-k);
    int32_t next = 0;
    while (!ready.empty()) {
      int32_t k = -*ready.begin();
      ready.erase(ready.begin());
      newId[k] = next++;
      for (int32_t s : succs[k])
        if (--missing[s] == 0) ready.insert(-s);
    }
    if (next != nextKernel && getenv("GRADC_DEBUG_FUSION")) {
      for (int32_t k = 0; k < nextKernel; ++k) {
        llvm::errs() << "kernel " << k << " (" << newId[k] << ") preds:";
        for (int32_t p : preds[k]) llvm::errs() << " " << p;
        llvm::errs() << " nodes:";
        for (auto &n : g.nodes) if (n->kernel == k) llvm::errs() << " " << n->info().mnemonic << "#" << n->id;
        llvm::errs() << "\n";
      }
    }
    if (next != nextKernel)
      return passError("fusion: graph @" + g.name + " reads a parameter after its in-place update; it cannot be scheduled");
    for (auto &n : g.nodes)
      if (n->kernel >= 0) n->kernel = newId[n->kernel];
    g.numKernels = nextKernel;
    return llvm::Error::success();
  }

  Graph &g;
  unsigned level;
  llvm::DenseMap<Node *, llvm::SmallVector<Node *, 4>> uses;
  llvm::DenseSet<const Node *> views, mustStore;
  llvm::DenseMap<int32_t, const Node *> kernelTarget; // in-place update kernels
  std::vector<std::unique_ptr<Node>> clones;
  int32_t nextKernel = 0;
};

} // namespace

llvm::Error runFusion(Module &m, const PassOptions &opts) {
  for (auto &g : m.graphs)
    if (auto err = Fuser(*g, opts.fusionLevel).run()) return err;
  return llvm::Error::success();
}

} // namespace gradc
