//===- passes/Rematerialize.cpp - recompute big values for the backward ---===//
//
// The backward pass of attention reads the probabilities p = softmax(q·kᵀ)
// and the exponentials inside the softmax: two [B, H, T, T] tensors a layer,
// kept from the forward pass to the backward one. For the 6-layer GPT that
// is 12 tensors of 12 MB, a fifth of the step's memory. Recomputing them
// from q and k, which the backward pass reads anyway, costs one more small
// product and a softmax per slice, and slice fusion (SliceFusion.cpp) then
// keeps the recomputed ones one slice at a time in scratch, never whole.
//
// The rule, for any forward value X read by the backward pass:
//   - X's cone is what computes it from values the backward pass keeps
//     anyway (values it reads, and leaves): elementwise ops, reductions,
//     layout ops, and exactly one batched matmul;
//   - X is larger than that product's operands together: p is [T, T] a
//     slice, q and k [T, D] each, so T > 2·D. The 6-layer GPT (T = 4D) is
//     recomputed; the baby GPT (T = 2D) is not: there the extra product and
//     softmax cost more time (about 0.26 ms a layer at one thread) than
//     the bytes are worth. Recomputing y = p·v from p would free nothing;
//   - the cone draws no random numbers (a dropout mask is kept, not redrawn).
// A second rule covers the baby GPT's case (collectCheap): X's cone, down to
// values the backward pass keeps anyway, is a few elementwise ops with no
// product, reading one kept value as large as X and others at most half
// its size, and a batched product of the backward pass reads X. There
// p = e / rowsum(e), and the backward keeps e (for exp's gradient) and the
// row sums: p becomes one division per element inside the backward slice
// group, and its [B, H, T, T] store and load go. The baby GPT's step then
// stores 3.1 MB less (arena 44.5 → 41.4 MB) and took 15.3 ms against 15.6
// at two threads (6 of 6 alternating runs, AMD EPYC family 26), with the
// same bits: the clone divides the same numbers.
// The backward readers of X, and of every other value of its cone, then read
// clones computed just before the first of them. Flash attention does the
// same by hand; here it falls out of the rule for any model.
//
// Runs at fusion level 3 (the default), before fusion.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <functional>

namespace gradc {
namespace {

/// At most this many nodes are recomputed for one value.
constexpr size_t kMaxCone = 48;
/// ... and at most this many without a product (collectCheap).
constexpr size_t kMaxCheapCone = 4;

class Rematerializer {
public:
  explicit Rematerializer(Graph &g) : g(g), users(g.users()) {}

  bool run() {
    bool changed = false;
    // Latest first: the probabilities' cone holds the exponentials, which
    // then need no clones of their own.
    for (size_t i = g.nodes.size(); i-- > 0;) {
      Node *x = g.nodes[i].get();
      if (done.count(x) || x->prov.phase != Phase::Forward || x->type.rank() < 3 || !readByBackward(x)) continue;
      llvm::SetVector<Node *> cone;
      if (!collect(x, cone)) {
        cone.clear();
        if (!collectCheap(x, cone)) continue;
      }
      clone(cone);
      changed = true;
    }
    if (changed) g.sortTopologically();
    return changed;
  }

private:
  bool readByBackward(const Node *n) const {
    return llvm::any_of(users[n->id], [](const Node *u) { return u->prov.phase != Phase::Forward; });
  }

  /// Whether the backward pass keeps n's bytes anyway: it reads n, n is a
  /// leaf, or n is a layout op over such a value.
  bool keptAnyway(const Node *n) const {
    if (n->has(Leaf) && !n->has(Random)) return true;
    if (readByBackward(n)) return true;
    if (n->has(Layout) && !n->operands.empty()) return keptAnyway(n->operand(0));
    return false;
  }

  /// X's cone, operands first; false when X does not qualify.
  bool collect(Node *x, llvm::SetVector<Node *> &cone) {
    int products = 0;
    bool ok = true;
    std::function<void(Node *)> visit = [&](Node *n) {
      if (!ok || cone.count(n)) return;
      if (n->is(OpKind::MatMul)) {
        if (++products > 1 || n->type.rank() < 3) {
          ok = false;
          return;
        }
        int64_t operands = 0;
        for (Node *op : n->operands) {
          if (!keptAnyway(op)) ok = false;
          operands += op->type.numel();
        }
        if (operands >= x->type.numel()) ok = false;
        cone.insert(n); // its operands are read as they are
        return;
      }
      if (n->has(Random) || n->prov.phase != Phase::Forward || !computableInLoop(n) ||
          !(n->has(Elementwise) || n->has(Reduction) || n->has(Layout))) {
        ok = false;
        return;
      }
      for (Node *op : n->operands)
        if (!op->has(Leaf)) visit(op);
      if (cone.size() >= kMaxCone) ok = false;
      cone.insert(n);
    };
    visit(x);
    return ok && products == 1;
  }

  /// Whether a batched product of the backward pass reads n: slice fusion
  /// then runs the product slice by slice, and the clone with it, into a
  /// slice of scratch. Elsewhere (a layer norm's normalised rows, read by
  /// a column sum) the clone would be a kernel of its own that stores what
  /// the forward pass stored, one more pass over memory.
  bool readByBatchedProduct(const Node *n) const {
    return llvm::any_of(users[n->id], [](const Node *u) {
      return u->prov.phase != Phase::Forward && u->is(OpKind::MatMul) && u->type.rank() >= 3 &&
             u->type.numel() > u->type.shape[u->type.rank() - 2] * u->type.shape[u->type.rank() - 1];
    });
  }

  /// How many elements n reads from memory: a layout op (a broadcast row
  /// sum) reads its operand's.
  static int64_t storedSize(const Node *n) {
    while (n->has(Layout) && !n->operands.empty()) n = n->operand(0);
    return n->type.numel();
  }

  /// The second rule: X's cone down to values kept anyway holds a few
  /// elementwise ops and no product, and of the values it reads, one is as
  /// large as X and the rest are at most half of it (rows broadcast along
  /// X, constants). The backward pass then reads that one,
  /// which it reads already, instead of X, and X is never stored:
  /// attention's probabilities p = e / rowsum(e), where the backward pass
  /// keeps the exponentials e for exp's gradient, become one division per
  /// element in the backward slice group, and its [B, H, T, T] store and
  /// load go (a layer of the baby GPT: 786 KB each way).
  bool collectCheap(Node *x, llvm::SetVector<Node *> &cone) {
    if (!readByBatchedProduct(x)) return false;
    int large = 0;
    bool ok = true;
    std::function<void(Node *)> visit = [&](Node *n) {
      if (!ok || cone.count(n)) return;
      if (n->has(Random) || n->prov.phase != Phase::Forward || !computableInLoop(n) ||
          !(n->has(Elementwise) || n->has(Layout)) || cone.size() >= kMaxCheapCone) {
        ok = false;
        return;
      }
      for (Node *op : n->operands) {
        if (op->has(Leaf) || keptAnyway(op)) {
          int64_t size = storedSize(op);
          if (size * 2 <= x->type.numel()) continue;
          if (size < x->type.numel() || ++large > 1) ok = false;
          continue;
        }
        visit(op);
      }
      cone.insert(n);
    };
    visit(x);
    return ok && large == 1;
  }

  /// Clones the cone and points the backward readers of its values at the
  /// clones; sortTopologically then puts the clones before the first reader.
  void clone(const llvm::SetVector<Node *> &cone) {
    llvm::DenseMap<Node *, Node *> copy;
    // Named as autodiff names what it differentiates: the value, or its op.
    std::string of = cone.back()->name.empty() ? cone.back()->info().mnemonic.str() : cone.back()->name;
    for (Node *n : cone) {
      auto c = std::make_unique<Node>(*n);
      for (Node *&op : c->operands)
        if (Node *r = copy.lookup(op)) op = r;
      c->name.clear();
      c->prov = Provenance{Phase::Backward, of, "recompute"};
      copy[n] = g.append(std::move(c));
      done.insert(n);
    }
    for (Node *n : cone)
      for (Node *u : users[n->id])
        if (u->prov.phase != Phase::Forward && !copy.count(u))
          for (Node *&op : u->operands)
            if (op == n) op = copy[n];
  }

  Graph &g;
  UserLists users;
  llvm::DenseSet<const Node *> done;
};

} // namespace

llvm::Error runRematerialize(Module &m, const PassOptions &opts) {
  if (opts.fusionLevel < 3) return llvm::Error::success();
  for (auto &g : m.graphs) Rematerializer(*g).run();
  return llvm::Error::success();
}

} // namespace gradc
