//===- ir/Verifier.cpp - checks that a module is well formed --------------===//
//
// What it checks, per graph:
//   - operands are defined earlier in the same graph (SSA, topological order);
//   - each node's type is what its op's type rule computes;
//   - attributes hold values the op can use: an i32 constant a whole number
//     in i32's range, an i1 constant 0 or 1, rand_uniform's low at most its high,
//     rand_normal's std at least 0;
//   - leaves have unique external names per kind;
//   - outputs are named uniquely and point into the graph;
//   - updates target a stateful leaf, once each, with a value of its type;
//   - an output "grad.NAME" (GRT_GRAD_PREFIX) has the type of param NAME (when it has one);
//   - once fused, the kernel list describes the kernels (ir/Kernel.h);
//   - once memory is planned, the plan obeys ir/Plan.h.
// Across graphs, one runtime tensor name has one kind and type. Then the
// model's declarations (names, params, initialisers, the data table) follow
// the rules of ir/Declarations.h.
//
//===----------------------------------------------------------------------===//
#include "ir/Verifier.h"

#include "ir/Declarations.h"
#include "ir/Plan.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

namespace gradc {

namespace {

/// What is wrong with `n`'s attribute values, or "". Each fits its
/// attribute's kind (the parser saw to that) but not the op: a const of
/// 3e9 meant as i32 became a wrapped or saturated integer in the kernel,
/// and rand_uniform's fill with low above high drew from an empty range.
std::string attributeProblem(const Node &n) {
  if (n.is(OpKind::Const) && n.attrs.has(AttrKey::Value)) {
    double v = n.attrs.getFloat(AttrKey::Value);
    if (n.type.dtype == DType::I32 && !(v == std::floor(v) && v >= -2147483648.0 && v <= 2147483647.0))
      return "value " + attrValueStr(v) + " is not an i32 (a whole number from -2147483648 to 2147483647)";
    if (n.type.dtype == DType::I1 && v != 0 && v != 1) return "value " + attrValueStr(v) + " is not an i1 (0 or 1)";
  }
  if (n.is(OpKind::RandUniform) && n.attrs.getFloat(AttrKey::Low) > n.attrs.getFloat(AttrKey::High, 1))
    return "low " + attrValueStr(n.attrs.getFloat(AttrKey::Low)) + " is above high " +
           attrValueStr(n.attrs.getFloat(AttrKey::High, 1)) + ": the range is empty";
  if (n.is(OpKind::RandNormal) && !(n.attrs.getFloat(AttrKey::Std, 1) >= 0))
    return "std " + attrValueStr(n.attrs.getFloat(AttrKey::Std, 1)) + " is negative: a spread is at least 0";
  return "";
}

std::vector<Problem> graphProblems(const Graph &g) {
  std::vector<Problem> errs;
  // What each message is about, set before it is reported.
  const Node *node = nullptr;
  int output = -1, update = -1;
  auto err = [&](const llvm::Twine &msg) { errs.push_back({"graph @" + g.name + ": " + msg.str(), &g, node, output, update}); };
  llvm::DenseMap<const Node *, unsigned> position;
  position.reserve(g.nodes.size());
  llvm::StringSet<> leafNames[kNumOps];

  for (unsigned i = 0; i < g.nodes.size(); ++i) {
    const Node *n = node = g.nodes[i].get();
    // Built only for a message: a string per node after every pass was
    // a visible part of a deep model's compile time.
    auto where = [&] { return "node " + std::to_string(i) + " (" + n->info().mnemonic.str() + ")"; };
    for (const Node *op : n->operands) {
      if (!op) {
        err(where() + " has a null operand");
        continue;
      }
      auto it = position.find(op);
      if (it == position.end()) err(where() + " uses a value that is not defined before it");
    }
    if (llvm::all_of(n->operands, [](Node *o) { return o != nullptr; })) {
      llvm::SmallVector<TensorType, 3> types;
      for (const Node *op : n->operands) types.push_back(op->type);
      auto t = inferType(n->op, types, n->attrs, &n->type);
      if (!t)
        err(where() + ": " + llvm::toString(t.takeError()));
      else if (*t != n->type)
        err(where() + " has type " + str(n->type) + " but its operands give " + str(*t));
    }
    if (std::string bad = attributeProblem(*n); !bad.empty()) err(where() + ": " + bad);
    if (n->has(Leaf) && n->attrs.has(AttrKey::Name)) {
      llvm::StringRef name = n->attrs.getString(AttrKey::Name);
      if (!leafNames[unsigned(n->op)].insert(name).second)
        err(where() + " redefines " + n->info().mnemonic + " \"" + name + "\"");
    }
    position[n] = i;
  }

  node = nullptr;
  llvm::StringSet<> outNames;
  for (auto &o : g.outputs) {
    output = int(&o - g.outputs.data());
    if (!o.value || !position.count(o.value)) err("output \"" + o.name + "\" is not a node of this graph");
    if (!outNames.insert(o.name).second) err("output \"" + o.name + "\" is defined twice");
  }
  output = -1;
  llvm::DenseMap<const Node *, int> updated;
  for (auto &u : g.updates) {
    update = int(&u - g.updates.data());
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
  update = -1;
  // Params by name, once: a lookup per gradient output scanned every node
  // (quadratic in a 1000-layer model, after every pass).
  llvm::StringMap<const Node *> params;
  for (const Node *p : g.leaves(OpKind::Param)) params.try_emplace(p->attrs.getString(AttrKey::Name), p);
  for (auto &o : g.outputs) {
    output = int(&o - g.outputs.data());
    llvm::StringRef param = o.name;
    if (!o.value || !param.consume_front(GRT_GRAD_PREFIX)) continue;
    // (A param the loss ignores may be gone, its gradient a constant zero.)
    const Node *p = params.lookup(param);
    if (p && p->type != o.value->type)
      err("output \"" + o.name + "\" has type " + str(o.value->type) + ", but param \"" + param.str() + "\" is " + str(p->type));
  }
  output = -1;
  for (const Node *gl : g.leaves(OpKind::Gradient)) {
    node = gl;
    // @apply's gradients stand in for @grads' outputs of the same name.
    llvm::StringRef param = gl->attrs.getString(AttrKey::Name);
    const Node *p = param.consume_front(GRT_GRAD_PREFIX) ? params.lookup(param) : nullptr;
    if (!p)
      err("gradient \"" + gl->attrs.getString(AttrKey::Name).str() + "\" is not named grad.W after a param W of this graph");
    else if (p->type != gl->type)
      err("gradient \"grad." + param.str() + "\" has type " + str(gl->type) + ", but param \"" + param.str() + "\" is " +
          str(p->type));
  }
  node = nullptr;
  if (errs.empty())
    for (auto &p : verifyKernels(g)) {
      if (p.node) node = p.node;
      err(p.message);
      node = nullptr;
      errs.back().kernel = p.kernel;
    }
  if (errs.empty() && isPlanned(g))
    for (auto &p : verifyPlan(g)) errs.push_back({p.message, &g, p.node});
  return errs;
}

std::vector<std::string> messages(const std::vector<Problem> &problems) {
  std::vector<std::string> out;
  for (auto &p : problems) out.push_back(p.message);
  return out;
}

} // namespace

std::vector<std::string> verify(const Graph &g) { return messages(graphProblems(g)); }
std::vector<std::string> verify(const Module &m) { return messages(verifyProblems(m)); }

std::vector<Problem> verifyProblems(const Module &m) {
  std::vector<Problem> errs;
  llvm::StringSet<> names;
  // The runtime allocates one tensor per name for the whole module.
  llvm::StringMap<std::pair<OpKind, TensorType>> tensors;
  llvm::StringMap<TensorType> outputs;
  auto tensor = [&](const Graph &g, const Node *n, llvm::StringRef name, OpKind kind, const TensorType &t) {
    auto [it, fresh] = tensors.try_emplace(name, kind, t);
    if (!fresh && (it->second.first != kind || it->second.second != t))
      errs.push_back({"graph @" + g.name + ": tensor \"" + name.str() + "\" is " + mnemonic(kind).str() + " " + str(t) +
                          " here but " + mnemonic(it->second.first).str() + " " + str(it->second.second) + " elsewhere",
                      &g, n});
  };
  for (auto &g : m.graphs) {
    if (!names.insert(g->name).second) errs.push_back({"graph @" + g->name + " is defined twice", g.get()});
    auto e = graphProblems(*g);
    errs.insert(errs.end(), e.begin(), e.end());
    // A graph at odds with itself (a name defined twice) would be at odds
    // with the others too: one message is enough.
    if (!e.empty()) continue;
    for (auto &n : g->nodes)
      if (isRuntimeLeaf(n.get())) tensor(*g, n.get(), n->attrs.getString(AttrKey::Name), n->op, n->type);
    for (auto &o : g->outputs) {
      if (!o.value) continue;
      int index = int(&o - g->outputs.data());
      auto [it, fresh] = outputs.try_emplace(o.name, o.value->type);
      if (!fresh && it->second != o.value->type)
        errs.push_back({"graph @" + g->name + ": output \"" + o.name + "\" is " + str(o.value->type) + " here but " +
                            str(it->second) + " elsewhere",
                        g.get(), nullptr, index});
    }
  }
  // The rules of the model itself, once its graphs are sound.
  if (errs.empty()) errs = declarationProblems(m);
  return errs;
}

} // namespace gradc
