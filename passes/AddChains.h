//===- passes/AddChains.h - the terms of a chain of adds ------------------===//
//
// Autodiff adds a value's gradient contributions one at a time:
//
//   %s1 = add %g1, %g2 ; %s2 = add %s1, %g3 ; ... : f32[V, D]
//
// Each add but the last is read only by the next. Passes that rebuild such
// a sum (concat-pad-sums: the pads of many slices; merge-scatter-adds: the
// scatters of many lookups) see it as one node with its terms, in order.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Builder.h"
#include "ir/Graph.h"
#include "ir/UserLists.h"
#include "passes/Rewrite.h"

#include <vector>

namespace gradc {

class AddChains {
public:
  /// For the graph as it is now; nodes created later are no chain's.
  explicit AddChains(const Graph &g) : users(g.users()), readers(users.size(), 0) {
    for (size_t id = 0; id < users.size(); ++id) readers[id] = unsigned(users[id].size());
    for (const auto &o : g.outputs) ++readers[o.value->id];
    for (const auto &u : g.updates) ++readers[u.value->id];
  }

  /// Whether n is the last add of a chain (an add no add of its type
  /// absorbs), from the graph as it was.
  bool isRoot(const Node *n) const { return n->is(OpKind::Add) && n->id < readers.size() && !absorbed(n); }

  /// The terms of the chain that ends at `root`, left to right. An explicit
  /// stack: autodiff's chains are as long as the graph.
  std::vector<Node *> terms(Node *root) const {
    std::vector<Node *> out, stack{root};
    while (!stack.empty()) {
      Node *x = stack.back();
      stack.pop_back();
      bool inner = x == root || (x->is(OpKind::Add) && x->id < readers.size() && x->type == root->type && absorbed(x));
      if (!inner) {
        out.push_back(x);
        continue;
      }
      stack.push_back(x->operand(1));
      stack.push_back(x->operand(0));
    }
    return out;
  }

private:
  UserLists users;
  std::vector<unsigned> readers; // users, outputs and updates of each node

  /// An add whose only reader is an add of the same type is part of that
  /// add's chain, and rewritten with it.
  bool absorbed(const Node *n) const {
    if (readers[n->id] != 1 || users[n->id].size() != 1) return false;
    const Node *u = users[n->id].front();
    return u->is(OpKind::Add) && u->type == n->type;
  }
};

/// Runs `rewrite(builder, node, chains)` over every node of every graph, as
/// rewriteNodes does, with the chains of the graph as it was.
template <typename F> void rewriteAddChains(Module &m, F rewrite) {
  for (auto &g : m.graphs) {
    AddChains chains(*g);
    rewriteNodes(*g, [&](Builder &b, Node *n) { return rewrite(b, n, chains); });
  }
}

} // namespace gradc
