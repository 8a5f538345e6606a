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
//     them, cloned when several kernels do;
//   - from level 1, values computed from those alone (a causal mask,
//     iota >= iota): see indexOnly.
//
// Level 0 gives every other node its own kernel. Level 1 lets
// a node join its users' kernel when all its users are in that one kernel
// and read it at their own index (elementwise ops, reductions) or through a
// broadcast along trailing axes (a row's maximum, sum or mean): chains become
// one loop, a reduction's producers run inside it, and row statistics are
// computed once per row inside the kernel that uses them, so softmax, layer
// norm and cross-entropy take one kernel each. A kernel may store several
// values of one shape: an Adam step updates the parameter and both moments
// in one pass. Column reductions (bias gradients) keep kernels of their own.
//
// Level 2 (the default) adds epilogues: a two-dimensional matmul joins the
// kernel of an elementwise reader whose domain has its rows and columns
// (`gelu(x@W + b)`, `x + y@W + b`). The product is still stored, for any
// other reader, but the kernel runs its elementwise part on each block of
// rows right after the GEMM finishes it, while those rows are in cache.
//
// Unlike level 1, these joins (and level 2's shared values, see
// sharedValueKernel) put a value that other kernels read into an existing
// kernel, which could make two kernels each wait for the other.
// Fusion keeps the kernels' dependencies in a topological order as it goes
// (passes/KernelOrder.h) and makes no such join that would break it, so
// every level schedules.
//
// Kernels are then numbered in an order that respects data dependencies and
// one more rule: the kernel that overwrites a parameter or optimizer state
// in place runs after every other kernel that reads it. The result is the
// graph's kernel list (ir/Kernel.h): each kernel's kind, domain and stored
// values, which memory planning places and scheduling lowers as recorded.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "passes/IndexOnly.h"
#include "passes/KernelOrder.h"

#include "ir/Layout.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallSet.h"

#include <set>

namespace gradc {
namespace {

bool isInlinable(const Node *n) { return n->is(OpKind::Const) || n->is(OpKind::Iota) || n->has(Layout); }

class Fuser {
public:
  Fuser(Graph &g, unsigned level) : g(g), level(level) {}

  llvm::Error run() {
    g.renumber(); // ids are positions (feeds relies on them)
    g.clearPlan();
    collectUses();
    markViews();
    // Roots: nodes that must be stored because something outside a kernel
    // (an output, an update, a matmul operand) needs their bytes.
    for (auto &o : g.outputs) mustStore.insert(o.value);
    for (auto &u : g.updates) {
      mustStore.insert(u.value);
      targetOf[u.value] = u.target;
      valueOf[u.target] = u.value;
    }

    // Assign kernels from the last node back, so each node knows its users'
    // kernels when its own turn comes.
    for (size_t k = g.nodes.size(); k-- > 0;) {
      Node *n = g.nodes[k].get();
      assign(n);
      if (n->kernel >= 0) addDependencies(n);
    }
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
  /// Each user once. A user's operands are added together, so a repeat
  /// (x * x) can only be the last entry: a constant read by 20,000 adds
  /// must not be searched 20,000 times.
  void addUse(Node *of, Node *user) {
    auto &u = uses[of];
    if (u.empty() || u.back() != user) u.push_back(user);
  }
  /// n's users, none for a value nothing reads. A lookup, never an insert:
  /// `uses[n]` on a node nothing reads added an entry, and the map's growth
  /// freed the list a caller was still walking (sharedValueKernel's, while
  /// gemmReads looked through inlined readers: AddressSanitizer, modelgen
  /// seed 129022).
  llvm::ArrayRef<Node *> usersOf(const Node *n) const {
    auto it = uses.find(const_cast<Node *>(n));
    return it == uses.end() ? llvm::ArrayRef<Node *>() : llvm::ArrayRef<Node *>(it->second);
  }

  bool stored(const Node *n) const { return isRuntimeLeaf(n) || views.count(n) || (!inlined(n) && !n->has(Leaf)) || n->has(Random); }
  /// Recomputed in each kernel that reads it rather than stored (unless a
  /// reader needs its bytes): the header's list.
  bool inlined(const Node *n) const { return isInlinable(n) || (level > 0 && indexOnly(n)); }

  /// A reshape that only splits axes ([262144, 9] to [512, 512, 9]): its
  /// operand's index is an affine function of its own, so a reduction can
  /// compute the operand inside its loop, read through the reshape.
  static bool splitsAxesOnly(const Node *reshape) {
    llvm::SmallVector<int64_t, 4> from, to;
    for (int64_t d : reshape->operand(0)->type.shape)
      if (d != 1) from.push_back(d);
    for (int64_t d : reshape->type.shape)
      if (d != 1) to.push_back(d);
    size_t j = 0;
    for (int64_t f : from) {
      int64_t p = 1;
      while (p < f && j < to.size()) p *= to[j++];
      if (p != f) return false;
    }
    return j == to.size();
  }
  /// Such a reshape read only by column reductions (passes/BlockLongSums.cpp
  /// views a long column sum's rows as blocks) is computed inside the
  /// reduction's kernel rather than made a view, which would store the whole
  /// operand. (Only column reductions: a row sum [B, T, 1] reshaped to
  /// [B, T] for a mean stays stored, so its kernel still splits by rows.)
  bool readThroughByReductions(const Node *reshape) const {
    if (level == 0 || !reshape->is(OpKind::Reshape) || !splitsAxesOnly(reshape) ||
        !computableInLoop(reshape->operand(0)) || reshape->operand(0)->has(Leaf))
      return false;
    llvm::ArrayRef<Node *> us = usersOf(reshape);
    return !us.empty() && llvm::all_of(us, [](const Node *u) { return isColumnReduction(u); });
  }

  void markViews() {
    for (auto &n : g.nodes)
      if (n->is(OpKind::Reshape) && stored(n->operand(0)) && !n->operand(0)->is(OpKind::Const) &&
          !readThroughByReductions(n.get())) {
        // A reshape of a stored value whose bytes are contiguous is a view.
        auto v = stridedView(n->operand(0), [&](const Node *x) { return stored(x); });
        if (v && v->base == n->operand(0)) views.insert(n.get());
      }
  }

  /// A kernel for n. Nodes are assigned from the last back, so n is the
  /// last node of its kernel in graph order (see feeds).
  int32_t newKernel(const Node *n) {
    lastNodeOf.push_back(n->id);
    kernelOrder.addKernel();
    return nextKernel++;
  }

  /// A matmul reads its operands as strided matrices: each must be a view
  /// of stored bytes with unit stride in one of its last two dims.
  bool matmulReadable(Node *op) {
    auto v = stridedView(op, [&](const Node *x) { return stored(x); });
    if (!v) return false;
    unsigned r = op->type.rank();
    return v->strides[r - 1] == 1 || v->strides[r - 2] == 1 || op->type.shape[r - 1] == 1 || op->type.shape[r - 2] == 1;
  }

  /// What a kernel is while fusion forms it. `kind` is its first node's
  /// (kernelKindOf); a loop that takes a matmul as its epilogue becomes a
  /// matmul kernel only in the finished list.
  struct KernelInfo {
    KernelKind kind;
    Dims domain;                                // shape of the values it stores
    llvm::SmallPtrSet<const Node *, 4> targets; // params/state it overwrites in place
    unsigned reductions = 0;                    // reductions computed in it
    bool isLoop() const { return kind == KernelKind::Loop; }
    bool isRuntimeCall() const { return kind != KernelKind::Loop && kind != KernelKind::ColumnReduce; }
  };

  /// A broadcast that only expands trailing axes (row statistics [B,T,1] to
  /// [B,T,C], or a scalar to anything): its operand's value at an index
  /// depends on the outer loops only, so the scheduler computes it once per
  /// outer iteration, not once per element.
  static bool expandsTrailingAxes(const Node *b) {
    llvm::ArrayRef<int64_t> from = b->operand(0)->type.shape, to = b->type.shape;
    size_t lead = to.size() - from.size();
    bool expanded = false;
    for (size_t i = 0; i < to.size(); ++i) {
      int64_t f = i < lead ? 1 : from[i - lead];
      if (f == 1 && to[i] > 1) expanded = true;
      else if (expanded && to[i] > 1) return false;
    }
    return true;
  }

  /// Params and state n reads, directly or through inlinable ops (chains
  /// of which can be long: a worklist, each node once).
  static void stateRead(const Node *n, llvm::SmallPtrSetImpl<const Node *> &out) {
    llvm::SmallPtrSet<const Node *, 8> seen;
    llvm::SmallVector<const Node *, 8> work{n};
    while (!work.empty()) {
      for (const Node *op : work.pop_back_val()->operands) {
        if (op->has(Stateful)) out.insert(op);
        else if (isInlinable(op) && seen.insert(op).second) work.push_back(op);
      }
    }
  }

  const Node *updateTarget(const Node *n) const { return targetOf.lookup(n); }

  /// The kernel n joins, or -1 (level 1). n joins when every user is in one
  /// kernel K and reads n at its own index: an elementwise op, a reduction,
  /// or a broadcast along trailing axes. A value that must be stored (an
  /// output, an update) joins only as another stored value of K's shape.
  int32_t joinable(Node *n) {
    if (level == 0 || !computableInLoop(n)) return -1;
    llvm::ArrayRef<Node *> us = usersOf(n);
    if (us.empty()) return -1;
    int32_t k = us[0]->kernel;
    if (k < 0) return -1;
    KernelInfo &info = kernels[k];
    if (info.isRuntimeCall()) return -1;
    for (Node *u : us) {
      if (u->kernel != k || views.count(u)) return -1;
      bool sameIndex = u->has(Elementwise) || u->has(Reduction) || readThroughByReductions(u);
      bool rowBroadcast = info.isLoop() && u->is(OpKind::Broadcast) && expandsTrailingAxes(u);
      if (!sameIndex && !rowBroadcast) return -1;
    }
    // A column reduction is best as a kernel of its own (it walks memory
    // in order); inside another it would stride.
    if (isColumnReduction(n)) return -1;
    if (gemmReads(n, k)) return -1;
    if (n->has(Reduction) && info.kind == KernelKind::ColumnReduce) return -1;
    // Each reduction is a loop of its own inside the kernel: a chain of
    // 256 sums of slices added together (a wide concat's gradient) made
    // one function that LLVM took 20 s over.
    if (n->has(Reduction) && info.reductions >= kMaxReductions) return -1;
    bool stored = mustStore.count(n);
    if (stored && (!info.isLoop() || llvm::ArrayRef<int64_t>(n->type.shape) != llvm::ArrayRef<int64_t>(info.domain)))
      return -1;
    // A kernel that overwrites params in place may read only those: with
    // another param, each update would have to run before the other.
    const Node *target = updateTarget(n);
    if (info.targets.empty() && !target) return k;
    llvm::SmallPtrSet<const Node *, 4> reads;
    stateRead(n, reads);
    for (const Node *r : reads)
      if (!info.targets.count(r) && r != target) return -1;
    if (target) {
      // Every value already in K must read only K's targets and this one.
      // Nodes are assigned from the last back, so K's are after n and at or
      // before K's last node: scanning only those, not the whole graph for
      // each update (quadratic in the layers of a deep model).
      bool inOrder = n->id < g.nodes.size() && g.nodes[n->id].get() == n;
      size_t from = inOrder ? n->id + 1 : 0, to = inOrder ? std::min<size_t>(lastNodeOf[k] + 1, g.nodes.size()) : g.nodes.size();
      for (size_t i = from; i < to; ++i)
        if (Node *m = g.nodes[i].get(); m->kernel == k) {
          llvm::SmallPtrSet<const Node *, 4> mr;
          stateRead(m, mr);
          for (const Node *r : mr)
            if (!info.targets.count(r) && r != target) return -1;
        }
      info.targets.insert(target);
    }
    return k;
  }

  /// Cheap enough to compute again in each kernel that reads it, rather
  /// than store: one add, multiply or select, reading at most one computed
  /// tensor (plus leaves, constants and broadcasts). Reading that tensor
  /// again costs the same bytes as reading the result would have, and saves
  /// the kernel that stores it. `z = x@W + b`, read by the forward GELU and
  /// by its gradient, is the typical case.
  ///
  /// The cone counts too: a chain of such ops over one computed tensor
  /// (GELU's 0.044715·z·z, with z = x@W + b) is recomputed whole, its
  /// inner nodes then cloned in turn, rather than stored and read back.
  bool cheapToRecompute(const Node *n) const {
    if (level == 0 || mustStore.count(n)) return false;
    llvm::SmallPtrSet<const Node *, 4> reads;
    int ops = 0;
    if (!cheapCone(n, reads, ops) || reads.size() > 1) return false;
    llvm::SmallPtrSet<const Node *, 4> state;
    coneState(n, state);
    llvm::SmallSet<int32_t, 4> ks;
    for (const Node *u : uses.lookup(const_cast<Node *>(n))) {
      if (u->kernel < 0 || views.count(u) || !computableInLoop(u)) return false;
      const KernelInfo &info = kernels[u->kernel];
      if (!info.isLoop()) return false;
      if (!u->has(Elementwise) && !u->has(Reduction)) return false;
      // A kernel that overwrites params in place may read no other param
      // (see joinable): each update would have to run before the other.
      if (!info.targets.empty())
        for (const Node *r : state)
          if (!info.targets.count(r)) return false;
      ks.insert(u->kernel);
    }
    // A cone that reads no computed tensor (1 - β₁ broadcast over a weight,
    // lr·weight_decay) costs no memory traffic at all where it is
    // recomputed, so any number of kernels may recompute it. CSE makes one
    // such value for every update of a weight's shape (the GPT's sixteen
    // [128,128] weights all read one stored 1 - β₁), which stored it and
    // read it back in each.
    return ks.size() >= 2 && (ks.size() <= 3 || reads.empty());
  }

  /// Params and state a cheap cone reads (through cheap ops and inlinable
  /// ones), remembered for each node: the walk ran through a DAG's paths
  /// (a residual stack's diamonds made it exponential: 11 layers over
  /// 100 s), then through every node of a chain for each node on it (an
  /// unrolled leaky integrator, s = s·0.99 + x, quadratic: 8,000 steps
  /// 15 s in fuse). Iterative: such chains run to tens of thousands.
  void coneState(const Node *n, llvm::SmallPtrSetImpl<const Node *> &out) const {
    auto through = [](const Node *op) { return !op->has(Stateful) && (isInlinable(op) || cheapOp(op)); };
    llvm::SmallVector<std::pair<const Node *, bool>, 16> work{{n, false}};
    while (!work.empty()) {
      auto [m, expanded] = work.pop_back_val();
      if (stateMemo.count(m)) continue;
      if (!expanded) {
        work.push_back({m, true});
        for (const Node *op : m->operands)
          if (through(op) && !stateMemo.count(op)) work.push_back({op, false});
        continue;
      }
      llvm::SmallVector<const Node *, 2> state;
      for (const Node *op : m->operands) {
        if (op->has(Stateful)) state.push_back(op);
        else if (through(op)) llvm::append_range(state, stateMemo.find(op)->second);
      }
      llvm::sort(state);
      state.erase(std::unique(state.begin(), state.end()), state.end());
      stateMemo[m] = std::move(state);
    }
    out.insert(stateMemo.find(n)->second.begin(), stateMemo.find(n)->second.end());
  }
  static bool cheapOp(const Node *n) { return n->has(Elementwise) && n->info().cost == Cost::Cheap; }

  /// Whether n is a cheap elementwise op whose operands are leaves,
  /// broadcasts or cheap ops in turn (at most four ops in all); `reads`
  /// collects the other computed tensors the cone reads.
  static bool cheapCone(const Node *n, llvm::SmallPtrSetImpl<const Node *> &reads, int &ops) {
    if (!cheapOp(n) || ++ops > 4) return false;
    for (const Node *op : n->operands) {
      if (op->has(Leaf) || op->is(OpKind::Broadcast)) continue;
      llvm::SmallPtrSet<const Node *, 4> sub;
      int subOps = ops;
      if (cheapCone(op, sub, subOps)) {
        ops = subOps;
        reads.insert(sub.begin(), sub.end());
      } else {
        reads.insert(op);
      }
    }
    return true;
  }

  /// Level 2: an elementwise value read by several kernels (so stored in
  /// any case) joins the kernel of its first same-shape elementwise reader
  /// as one more value that kernel stores, instead of a kernel of its own:
  /// the forward GELU computes tanh once, stores it for the backward pass,
  /// and uses it at once. As for epilogues, a reader in another kernel
  /// that feeds the chosen one rules it out.
  int32_t sharedValueKernel(Node *n) {
    if (level < 2 || !n->has(Elementwise) || mustStore.count(n) || inlined(n)) return -1;
    llvm::ArrayRef<Node *> us = usersOf(n);
    // A value also read through a slice, concat or other layout op inlined
    // into the kernel would be read there at other elements than the one
    // its loop is at, so computed again, with all it reads: a 1-D
    // convolution stack written with concat (each layer reads h at j-1, j
    // and j+1) joined every layer into one kernel, L^3 in size: 12 layers
    // took 10 s to build, 16 over 100 s (an explorer's find). Views, and
    // layout ops in other kernels, read the stored bytes.
    auto readsShifted = [&](int32_t k) {
      return llvm::any_of(us, [&](const Node *l) { return l->has(Layout) && !views.count(l) && l->kernel == k; });
    };
    for (Node *u : us) {
      if (u->kernel < 0 || views.count(u) || !u->has(Elementwise) || u->type.shape != n->type.shape) continue;
      KernelInfo &info = kernels[u->kernel];
      if (!info.isLoop() || !info.targets.empty() ||
          llvm::ArrayRef<int64_t>(info.domain) != llvm::ArrayRef<int64_t>(n->type.shape))
        return -1;
      llvm::SmallPtrSet<const Node *, 4> reads;
      stateRead(n, reads);
      if (!reads.empty() || gemmReads(n, u->kernel)) return -1;
      return !keepsOrder(n, u->kernel) || readsShifted(u->kernel) || otherReaderFeeds(us, u->kernel) ? -1 : u->kernel;
    }
    return -1;
  }

  /// Users of n, seen through views (a reshape of the product).
  void usersThroughViews(Node *n, llvm::SmallVectorImpl<Node *> &out) {
    // Depth first, in use order, with a stack: views of views can chain.
    llvm::SmallVector<std::pair<Node *, unsigned>, 4> stack{{n, 0}};
    while (!stack.empty()) {
      auto [m, i] = stack.back();
      auto it = uses.find(m);
      if (it == uses.end() || i == it->second.size()) {
        stack.pop_back();
        continue;
      }
      ++stack.back().second;
      Node *u = it->second[i];
      if (views.count(u)) stack.push_back({u, 0});
      else out.push_back(u);
    }
  }

  /// The kernel whose epilogue a matmul becomes (level 2), or -1: that of
  /// an elementwise reader over a domain with the product's rows and
  /// columns, which overwrites nothing in place. Readers in other kernels
  /// load the stored product as before.
  int32_t epilogueKernel(Node *n) {
    if (level < 2 || !n->is(OpKind::MatMul) || n->type.rank() != 2) return -1;
    llvm::SmallVector<Node *, 8> us;
    usersThroughViews(n, us);
    for (Node *u : us) {
      if (u->kernel < 0 || !u->has(Elementwise)) continue;
      KernelInfo &info = kernels[u->kernel];
      if (!info.isLoop() || !info.targets.empty() || info.domain.empty()) continue;
      if (info.domain.back() != n->type.shape[1] || product(info.domain) != n->type.numel()) continue;
      // Every reader in that kernel reads at its own index.
      bool ok = llvm::all_of(us, [&](Node *v) {
        return v->kernel != u->kernel || (v->has(Elementwise) && llvm::ArrayRef<int64_t>(v->type.shape) == llvm::ArrayRef<int64_t>(info.domain));
      });
      if (ok && !epilogueOf.count(u->kernel) && keepsOrder(n, u->kernel) && !otherReaderFeeds(us, u->kernel))
        return u->kernel;
    }
    return -1;
  }
  /// Whether a matmul in kernel k reads n, directly or through layout ops
  /// inlined into k. The GEMM runs before anything else in its kernel (its
  /// epilogue follows it), so such an n must be stored by an earlier kernel:
  /// it may never join k.
  bool gemmReads(Node *n, int32_t k) {
    for (Node *u : usersOf(n)) {
      if (u->kernel != k) continue;
      if (u->is(OpKind::MatMul) || (inlined(u) && gemmReads(u, k))) return true;
    }
    return false;
  }

  /// Whether a reader outside kernel k feeds k through its users: a value
  /// computed in k would then be needed before k made it (a cycle), or
  /// read through a view in k at other elements than k's loop is at.
  /// Callers ask keepsOrder first: where the kernels' order already rules
  /// the join out, this walk could cover the graph between the two
  /// kernels (a forward value and its gradient, for every step of an
  /// unrolled ODE: quadratic, 23 s of 8,000 steps' passes, 6 s now).
  bool otherReaderFeeds(llvm::ArrayRef<Node *> readers, int32_t k) {
    llvm::DenseSet<Node *> seen;
    return llvm::any_of(readers, [&](Node *v) { return v->kernel != k && feeds(v, k, seen); });
  }
  /// Whether n or anything computed from it is in kernel k. A worklist, not
  /// recursion: a chain of users can be as long as the graph. Users come
  /// later in the graph, so nothing past k's last node can lead into k:
  /// without that bound each search could cover the rest of the graph.
  bool feeds(Node *n, int32_t k, llvm::DenseSet<Node *> &seen) {
    llvm::SmallVector<Node *, 16> work{n};
    while (!work.empty()) {
      Node *m = work.pop_back_val();
      if (m->id > lastNodeOf[k] || !seen.insert(m).second) continue;
      if (m->kernel == k) return true;
      // A node cloned into other kernels (cloneIntoReaders) keeps in its
      // use list the readers its clones took over, as forEachReader
      // notes: following those found paths that do not exist, and
      // refused valid joins (roll_stack's loss kernel read h @ w - y's
      // clone, which kept the product from its epilogue).
      if (auto it = uses.find(m); it != uses.end())
        for (Node *u : it->second)
          if (llvm::is_contained(u->operands, m)) work.push_back(u);
    }
    return false;
  }

  /// How deep n would sit in kernel k's expression tree: one below the
  /// deepest of its users there. Kernels are built as trees recursively
  /// (codegen/Schedule.cpp), so past kMaxTreeDepth a node is stored by a
  /// kernel of its own: a chain of 100,000 additions becomes kernels of at
  /// most that many ops, not one tree 100,000 levels deep (ir/Kernel.h).
  /// The depth n would have in each kernel that reads it, in one pass over
  /// its users (a constant can have thousands).
  llvm::DenseMap<int32_t, unsigned> depthsInReaders(const Node *n) const {
    llvm::DenseMap<int32_t, unsigned> d;
    if (auto it = uses.find(const_cast<Node *>(n)); it != uses.end())
      for (const Node *u : it->second)
        if (u->kernel >= 0) d[u->kernel] = std::max(d.lookup(u->kernel), treeDepth.lookup(u) + 1);
    return d;
  }
  unsigned depthIn(const Node *n, int32_t k) const { return depthsInReaders(n).lookup(k); }
  bool fitsIn(const Node *n, int32_t k) const { return depthIn(n, k) <= kMaxTreeDepth; }
  bool fitsInReaders(const Node *n) const {
    return llvm::all_of(depthsInReaders(n), [](auto &kd) { return kd.second <= kMaxTreeDepth; });
  }
  /// The most reductions one kernel computes; past it, a reduction is
  /// stored by a kernel of its own.
  static constexpr unsigned kMaxReductions = 16;
  void join(Node *n, int32_t k) {
    n->kernel = k;
    treeDepth[n] = depthIn(n, k);
    if (n->has(Reduction)) ++kernels[k].reductions;
  }

  void assign(Node *n) {
    if (isRuntimeLeaf(n) || views.count(n)) return;
    if (int32_t k = epilogueKernel(n); k >= 0) {
      n->kernel = k;
      epilogueOf.insert(k);
      return;
    }
    llvm::ArrayRef<Node *> us = usersOf(n);
    if (!inlined(n) || mustStore.count(n)) {
      // joinable() can only offer its users' kernel; check the depth first,
      // as it records the kernel's in-place targets when it says yes.
      bool deep = !us.empty() && !fitsIn(n, us[0]->kernel);
      int32_t k = inlined(n) || deep ? -1 : joinable(n);
      if (k >= 0) {
        join(n, k);
        return;
      }
      if (!inlined(n) && cheapToRecompute(n) && fitsInReaders(n)) {
        cloneIntoReaders(n);
        return;
      }
      if (int32_t k = sharedValueKernel(n); k >= 0 && fitsIn(n, k)) {
        join(n, k);
        return;
      }
      n->kernel = newKernel(n);
      KernelInfo info{kernelKindOf(n), Dims(n->type.shape.begin(), n->type.shape.end()), {}, n->has(Reduction) ? 1u : 0u};
      if (const Node *t = updateTarget(n)) info.targets.insert(t);
      kernels.push_back(std::move(info));
      return;
    }
    // Inlinable: join each kernel that reads it (cloning for all but one);
    // materialise it when a reader cannot take it inline, or when it is a
    // concat read by a concat and the two hold more parts than a loop
    // should choose among (passes/SplitWideConcats.cpp's lower levels).
    auto wide = [&](const Node *u) {
      return u->is(OpKind::Concat) && u->operands.size() - 1 + n->operands.size() > kMaxInlineConcatParts;
    };
    if (n->is(OpKind::Concat) && llvm::any_of(us, wide)) {
      materialise(n);
      return;
    }
    llvm::SetVector<int32_t> readers;
    for (Node *u : us) {
      if ((u->is(OpKind::MatMul) && !matmulReadable(n)) || views.count(u) || u->kernel < 0) {
        materialise(n);
        return;
      }
      readers.insert(u->kernel);
    }
    if (readers.empty() || !fitsInReaders(n)) {
      materialise(n);
      return;
    }
    cloneIntoReaders(n);
  }

  /// Stores an inlinable n from a Loop kernel of its own.
  void materialise(Node *n) {
    n->kernel = newKernel(n);
    kernels.push_back({KernelKind::Loop, Dims(n->type.shape.begin(), n->type.shape.end()), {}});
  }

  /// Puts n in the kernel of each of its users, cloning it for all but one.
  void cloneIntoReaders(Node *n) {
    // Users grouped by kernel once: a constant read by thousands of nodes
    // in hundreds of kernels must not be searched once per kernel.
    llvm::SetVector<int32_t> readers;
    llvm::DenseMap<int32_t, llvm::SmallVector<Node *, 2>> usersIn;
    for (Node *u : usersOf(n)) {
      readers.insert(u->kernel);
      usersIn[u->kernel].push_back(u);
    }
    llvm::DenseMap<int32_t, unsigned> depths = depthsInReaders(n);
    n->kernel = readers[0];
    treeDepth[n] = depths.lookup(readers[0]);
    for (size_t k = 1; k < readers.size(); ++k) {
      auto c = std::make_unique<Node>(*n);
      c->kernel = readers[k];
      treeDepth[c.get()] = depths.lookup(readers[k]);
      for (Node *u : usersIn[readers[k]])
        for (auto &op : u->operands)
          if (op == n) op = c.get();
      for (Node *op : c->operands) addUse(op, c.get());
      addDependencies(c.get());
      clones.push_back(std::move(c));
    }
  }

  //===--- dependencies between kernels ------------------------------------===//

  /// Calls f on each node that reads n, seen through views. A use a clone
  /// of n took over (cloneIntoReaders) is not n's any more.
  template <typename F> void forEachReader(const Node *n, F f) {
    llvm::SmallVector<const Node *, 4> work{n};
    while (!work.empty()) {
      const Node *m = work.pop_back_val();
      auto it = uses.find(const_cast<Node *>(m));
      if (it == uses.end()) continue;
      for (Node *u : it->second) {
        if (!llvm::is_contained(u->operands, m)) continue;
        if (views.count(u)) work.push_back(u);
        else f(u);
      }
    }
  }

  /// Records what n's kernel now depends on, as order() will: the kernels
  /// that read n run after it, and an update after every kernel that reads
  /// its target. n's operands have no kernels yet: they add theirs later.
  void addDependencies(const Node *n) {
    int32_t k = n->kernel;
    // A false add is a cycle, which order() reports: only the in-place
    // rule can close one (see keepsOrder).
    auto depend = [&](int32_t from, int32_t to) { (void)kernelOrder.add(from, to); };
    forEachReader(n, [&](const Node *u) {
      if (u->kernel >= 0) depend(k, u->kernel);
    });
    for (const Node *op : n->operands) {
      while (views.count(op)) op = op->operand(0);
      if (const Node *v = valueOf.lookup(op); v && v->kernel >= 0) depend(k, v->kernel);
    }
    if (const Node *t = updateTarget(n))
      forEachReader(t, [&](const Node *r) {
        if (r->kernel >= 0) depend(r->kernel, k);
      });
  }

  /// Whether n (a product or a shared value, level 2) can join kernel k
  /// without a cycle: n is read by other kernels, which would then run
  /// after k, as would the updates of the params a product reads.
  ///
  /// The other joins never close one. A new kernel has no dependencies
  /// yet, and a node that joins its users' kernel (level 1, or a clone)
  /// adds none; its operands add theirs only to kernels that run after them
  /// (kernels are created walking the graph backwards). So checking these
  /// joins against the dependencies known so far keeps the final kernel
  /// graph acyclic, except where the program itself reads a parameter after
  /// its update (order() reports that).
  bool keepsOrder(const Node *n, int32_t k) {
    bool ok = true;
    forEachReader(n, [&](const Node *u) { ok &= u->kernel < 0 || kernelOrder.canAdd(k, u->kernel); });
    llvm::SmallPtrSet<const Node *, 4> state;
    stateRead(n, state);
    for (const Node *t : state)
      if (const Node *v = valueOf.lookup(t); v && v->kernel >= 0) ok &= kernelOrder.canAdd(k, v->kernel);
    return ok;
  }

  /// The finished kernel list (ir/Kernel.h), by final kernel id.
  void recordKernels(const std::vector<int32_t> &newId) {
    g.kernels.assign(nextKernel, {});
    for (int32_t k = 0; k < nextKernel; ++k)
      g.kernels[newId[k]].kind = epilogueOf.count(k) ? KernelKind::MatMul : kernels[k].kind;
    auto stored = storedValues(g);
    for (int32_t k = 0; k < nextKernel; ++k) {
      FusedKernel &fk = g.kernels[k];
      for (Node *n : stored[k])
        (fk.kind == KernelKind::MatMul && !n->is(OpKind::MatMul) ? fk.epilogue : fk.stored).push_back(n);
      if (!fk.stored.empty()) fk.domain = kernelDomain(fk.kind, fk.root());
    }
  }

  /// Renumber kernels in a dependency order (see the file comment).
  llvm::Error order() {
    if (nextKernel == 0) return llvm::Error::success();
    std::vector<llvm::SmallSetVector<int32_t, 4>> preds(nextKernel);
    // Readers of a node: kernels of its users, seen through views.
    auto allUsers = g.users();
    auto readers = [&](Node *n, llvm::SmallVectorImpl<int32_t> &out) {
      // Depth first, in use order, with a stack: views of views can chain.
      llvm::SmallVector<std::pair<Node *, unsigned>, 4> stack{{n, 0}};
      while (!stack.empty()) {
        auto [m, i] = stack.back();
        if (i == allUsers[m->id].size()) {
          stack.pop_back();
          continue;
        }
        ++stack.back().second;
        Node *u = allUsers[m->id][i];
        if (views.count(u)) stack.push_back({u, 0});
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
    if (next != nextKernel)
      return passError("fusion: graph @" + g.name + " reads a parameter after its in-place update; it cannot be scheduled");
    for (auto &n : g.nodes)
      if (n->kernel >= 0) n->kernel = newId[n->kernel];
    recordKernels(newId);
    return llvm::Error::success();
  }

  Graph &g;
  unsigned level;
  llvm::DenseMap<Node *, llvm::SmallVector<Node *, 4>> uses;
  llvm::DenseSet<const Node *> views, mustStore;
  /// coneState's answers, per node (the graph's operands do not change while fusion decides).
  mutable llvm::DenseMap<const Node *, llvm::SmallVector<const Node *, 2>> stateMemo;
  llvm::DenseMap<const Node *, const Node *> targetOf, valueOf; // update value <-> target
  KernelOrder kernelOrder;                                     // by kernel id, see keepsOrder
  llvm::DenseSet<int32_t> epilogueOf; // kernels that already hold a matmul
  llvm::DenseMap<const Node *, unsigned> treeDepth; // see depthIn
  std::vector<KernelInfo> kernels; // by kernel id
  std::vector<unsigned> lastNodeOf; // by kernel id: its last node's id
  std::vector<std::unique_ptr<Node>> clones;
  int32_t nextKernel = 0;
};

} // namespace

llvm::Error runFusion(Module &m, const PassOptions &opts) {
  for (auto &g : m.graphs)
    if (llvm::Error err = Fuser(*g, opts.fusionLevel).run()) return err;
  return llvm::Error::success();
}

} // namespace gradc
