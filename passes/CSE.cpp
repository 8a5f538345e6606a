//===- passes/CSE.cpp - common-subexpression elimination ------------------===//
//
// Two nodes with the same op, operands, attributes and type compute the same
// tensor, so the later one is replaced by the earlier. Random draws are never
// merged: two rand_normal nodes are two different samples.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

namespace gradc {

static std::string keyOf(const Node *n, const llvm::DenseMap<const Node *, unsigned> &ids) {
  std::string key = n->info().mnemonic.str() + " " + str(n->type);
  for (auto &[k, v] : n->attrs.entries()) key += " " + attrName(k).str() + "=" + attrValueStr(v);
  for (const Node *op : n->operands) key += " %" + std::to_string(ids.lookup(op));
  return key;
}

llvm::Error runCSE(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) {
    llvm::StringMap<Node *> seen;
    llvm::DenseMap<const Node *, unsigned> ids;
    llvm::DenseMap<Node *, Node *> repl;
    for (auto &np : g->nodes) {
      Node *n = np.get();
      for (auto &o : n->operands)
        if (Node *r = repl.lookup(o)) o = r;
      ids[n] = ids.size();
      if (n->has(Random)) continue;
      auto [it, fresh] = seen.try_emplace(keyOf(n, ids), n);
      if (!fresh) {
        repl[n] = it->second;
        if (it->second->name.empty()) it->second->name = n->name;
      }
    }
    g->replaceAllUsesWith(repl);
    g->removeDeadNodes();
  }
  return llvm::Error::success();
}

} // namespace gradc
