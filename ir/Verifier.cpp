//===- ir/Verifier.cpp - checks that a module is well formed --------------===//
//
// What it checks, per graph:
//   - operands are defined earlier in the same graph (SSA, topological order);
//   - each node's type is what its op's type rule computes;
//   - leaves have unique external names per kind;
//   - outputs are named uniquely and point into the graph;
//   - updates target a stateful leaf, once each, with a value of its type.
//
//===----------------------------------------------------------------------===//
#include "ir/Verifier.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

namespace gradc {

std::vector<std::string> verify(const Graph &g) {
  std::vector<std::string> errs;
  auto err = [&](const llvm::Twine &msg) { errs.push_back("graph @" + g.name + ": " + msg.str()); };
  llvm::DenseMap<const Node *, unsigned> position;
  llvm::StringSet<> leafNames[kNumOps];

  for (unsigned i = 0; i < g.nodes.size(); ++i) {
    const Node *n = g.nodes[i].get();
    std::string where = "node " + std::to_string(i) + " (" + n->info().mnemonic.str() + ")";
    for (const Node *op : n->operands) {
      if (!op) {
        err(where + " has a null operand");
        continue;
      }
      auto it = position.find(op);
      if (it == position.end()) err(where + " uses a value that is not defined before it");
    }
    if (llvm::all_of(n->operands, [](Node *o) { return o != nullptr; })) {
      llvm::SmallVector<TensorType, 3> types;
      for (const Node *op : n->operands) types.push_back(op->type);
      auto t = inferType(n->op, types, n->attrs, &n->type);
      if (!t)
        err(where + ": " + llvm::toString(t.takeError()));
      else if (*t != n->type)
        err(where + " has type " + str(n->type) + " but its operands give " + str(*t));
    }
    if (n->has(Leaf) && n->attrs.has(AttrKey::Name)) {
      llvm::StringRef name = n->attrs.getString(AttrKey::Name);
      if (!leafNames[unsigned(n->op)].insert(name).second)
        err(where + " redefines " + n->info().mnemonic + " \"" + name + "\"");
    }
    position[n] = i;
  }

  llvm::StringSet<> outNames;
  for (auto &o : g.outputs) {
    if (!o.value || !position.count(o.value)) err("output \"" + o.name + "\" is not a node of this graph");
    if (!outNames.insert(o.name).second) err("output \"" + o.name + "\" is defined twice");
  }
  llvm::DenseMap<const Node *, int> updated;
  for (auto &u : g.updates) {
    if (!u.target || !position.count(u.target) || !u.target->has(Stateful)) {
      err("an update targets something that is not a param or state of this graph");
      continue;
    }
    std::string tname = u.target->attrs.getString(AttrKey::Name).str();
    if (!u.value || !position.count(u.value))
      err("update of \"" + tname + "\" has a value that is not a node of this graph");
    else if (u.value->type != u.target->type)
      err("update of \"" + tname + "\" has type " + str(u.value->type) + ", not " + str(u.target->type));
    if (updated[u.target]++) err("\"" + tname + "\" is updated twice");
  }
  return errs;
}

std::vector<std::string> verify(const Module &m) {
  std::vector<std::string> errs;
  llvm::StringSet<> names;
  for (auto &g : m.graphs) {
    if (!names.insert(g->name).second) errs.push_back("graph @" + g->name + " is defined twice");
    auto e = verify(*g);
    errs.insert(errs.end(), e.begin(), e.end());
  }
  return errs;
}

} // namespace gradc
