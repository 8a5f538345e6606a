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

#include <optional>

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

/// A product of two matrices with its operands as stored: a transpose
/// node that swaps their axes becomes the flag instead (simplify folds
/// such transposes into the flags, but runs after matvec and
/// onehot-products, which read them). Only a transpose that swaps:
/// transpose(x, [0, 1]) is x itself, and peeling it as a swap cut [3, 1]
/// windows out of a [1, 3] x (modelgen seeds 80070, 80157, 80209).
struct StoredProduct {
  Node *a, *c; // [M, K] and [K, N], or their transposes as stored
  bool ta, tb; // whether they are
};
inline std::optional<StoredProduct> storedProduct(Node *n) {
  if (!n->is(OpKind::MatMul) || n->type.rank() != 2 || n->operand(0)->type.rank() != 2 || n->operand(1)->type.rank() != 2)
    return std::nullopt;
  StoredProduct p{n->operand(0), n->operand(1), n->attrs.getBool(AttrKey::TransposeA),
                  n->attrs.getBool(AttrKey::TransposeB)};
  auto peel = [](Node *&x, bool &t) {
    if (x->is(OpKind::Transpose) && x->type.rank() == 2 && x->attrs.getInts(AttrKey::Perm)[0] == 1)
      x = x->operand(0), t = !t;
  };
  peel(p.a, p.ta);
  peel(p.c, p.tb);
  return p;
}

} // namespace gradc
