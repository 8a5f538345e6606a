//===- passes/Rewrite.h - the node-by-node rewrite loop passes share ------===//
//
// Constant folding, matvec and simplify each replace single nodes. They
// share this loop: visit every node in order (nodes a rewrite appends are
// visited too), point operands at the replacements made so far, ask for a
// replacement, and at the end redirect all uses, restore topological order
// and drop what became dead.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Builder.h"

#include "llvm/ADT/DenseMap.h"

namespace gradc {

/// `rewrite(builder, node)` returns the node's replacement, or null or the
/// node itself to keep it. The builder carries the node's location and
/// provenance; a replacement takes the node's name if it has none.
template <typename F> void rewriteNodes(Graph &g, F rewrite) {
  Builder b(g);
  llvm::DenseMap<Node *, Node *> repl;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node *n = g.nodes[i].get();
    for (auto &op : n->operands)
      if (Node *r = repl.lookup(op)) op = r;
    b.loc = n->loc;
    b.prov = n->prov;
    Node *r = rewrite(b, n);
    if (!r || r == n) continue;
    if (r->name.empty()) r->name = n->name;
    repl[n] = r;
  }
  g.replaceAllUsesWith(repl);
  g.sortTopologically();
  g.removeDeadNodes();
}

} // namespace gradc
