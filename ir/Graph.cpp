//===- ir/Graph.cpp - nodes, graphs and modules of the tensor IR ----------===//
#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

namespace gradc {

llvm::StringRef phaseName(Phase p) {
  switch (p) {
  case Phase::Forward: return "forward";
  case Phase::Backward: return "backward";
  case Phase::Optimizer: return "optimizer";
  }
  return "?";
}

Node *Graph::append(std::unique_ptr<Node> n) {
  n->id = nodes.size();
  nodes.push_back(std::move(n));
  return nodes.back().get();
}

Node *Graph::output(llvm::StringRef n) const {
  for (auto &o : outputs)
    if (o.name == n) return o.value;
  return nullptr;
}

std::vector<Node *> Graph::leaves(OpKind k) const {
  std::vector<Node *> out;
  for (auto &n : nodes)
    if (n->op == k) out.push_back(n.get());
  return out;
}

Node *Graph::findLeaf(OpKind k, llvm::StringRef leafName) const {
  for (auto &n : nodes)
    if (n->op == k && n->attrs.getString(AttrKey::Name) == leafName) return n.get();
  return nullptr;
}

void Graph::replaceAllUsesWith(Node *from, Node *to) {
  for (auto &n : nodes)
    for (auto &op : n->operands)
      if (op == from) op = to;
  for (auto &o : outputs)
    if (o.value == from) o.value = to;
  for (auto &u : updates)
    if (u.value == from) u.value = to;
}

void Graph::replaceAllUsesWith(const llvm::DenseMap<Node *, Node *> &repl) {
  if (repl.empty()) return;
  auto resolve = [&](Node *n) {
    // At most repl.size() hops: a cycle would be a bug in the pass.
    for (size_t hops = 0; hops <= repl.size(); ++hops) {
      auto it = repl.find(n);
      if (it == repl.end()) return n;
      n = it->second;
    }
    return n;
  };
  for (auto &n : nodes)
    for (auto &op : n->operands) op = resolve(op);
  for (auto &o : outputs) o.value = resolve(o.value);
  for (auto &u : updates) u.value = resolve(u.value);
}

void Graph::renumber() {
  for (unsigned i = 0; i < nodes.size(); ++i) nodes[i]->id = i;
}

void Graph::sortTopologically() {
  // Depth-first post-order from each node in current order: a node is placed
  // after all its operands, and otherwise keeps its relative position.
  llvm::DenseSet<Node *> placed;
  std::vector<std::unique_ptr<Node>> sorted;
  llvm::DenseMap<Node *, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) index[nodes[i].get()] = i;
  std::vector<std::pair<Node *, unsigned>> stack;
  for (auto &root : nodes) {
    if (!root || placed.count(root.get())) continue;
    stack.push_back({root.get(), 0});
    while (!stack.empty()) {
      auto &[n, next] = stack.back();
      if (next < n->operands.size()) {
        Node *op = n->operands[next++];
        if (!placed.count(op)) stack.push_back({op, 0});
        continue;
      }
      if (placed.insert(n).second) sorted.push_back(std::move(nodes[index[n]]));
      stack.pop_back();
    }
  }
  nodes = std::move(sorted);
  renumber();
}

llvm::DenseSet<const Node *> Graph::liveNodes() const {
  llvm::DenseSet<const Node *> live;
  std::vector<const Node *> work;
  auto mark = [&](const Node *n) {
    if (live.insert(n).second) work.push_back(n);
  };
  for (auto &o : outputs) mark(o.value);
  for (auto &u : updates) {
    mark(u.value);
    mark(u.target);
  }
  while (!work.empty()) {
    const Node *n = work.back();
    work.pop_back();
    for (const Node *op : n->operands) mark(op);
  }
  return live;
}

unsigned Graph::removeDeadNodes() {
  llvm::DenseSet<const Node *> live = liveNodes();
  size_t before = nodes.size();
  std::erase_if(nodes, [&](auto &n) { return !live.count(n.get()); });
  renumber();
  // The kernel list would point at deleted nodes.
  if (nodes.size() != before) clearPlan();
  return before - nodes.size();
}

const SliceGroup *Graph::sliceGroupOf(int32_t k) const {
  // The groups are in kernel order and do not overlap (verifyKernels), so
  // the candidate is the last group starting at or before k: a scan per
  // value was quadratic in a deep model's attention layers.
  auto it = std::upper_bound(sliceGroups.begin(), sliceGroups.end(), k,
                             [](int32_t k, const SliceGroup &sg) { return k < sg.first; });
  if (it == sliceGroups.begin() || !std::prev(it)->contains(k)) return nullptr;
  return &*std::prev(it);
}

void Graph::clearPlan() {
  kernels.clear();
  sliceGroups.clear();
  arenaBytes = 0;
  for (auto &n : nodes) {
    n->kernel = -1;
    n->storage = Storage{};
  }
}

UserLists Graph::users() const {
  // Two walks: count each value's users, then fill them in. A node that
  // reads a value twice (x * x) is its user once: `last` remembers the
  // latest user counted for each value.
  UserLists u;
  size_t n = nodes.size();
  std::vector<uint32_t> count(n + 1, 0), last(n, UINT32_MAX);
  for (auto &node : nodes)
    for (Node *op : node->operands)
      if (last[op->id] != node->id) last[op->id] = node->id, ++count[op->id];
  u.start.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) u.start[i + 1] = u.start[i] + count[i];
  u.flat.resize(u.start[n]);
  std::vector<uint32_t> next(u.start.begin(), u.start.end() - 1);
  std::fill(last.begin(), last.end(), UINT32_MAX);
  for (auto &node : nodes)
    for (Node *op : node->operands)
      if (last[op->id] != node->id) last[op->id] = node->id, u.flat[next[op->id]++] = node.get();
  return u;
}

std::unique_ptr<Graph> Graph::clone(std::string newName) const {
  auto g = std::make_unique<Graph>(std::move(newName));
  llvm::DenseMap<const Node *, Node *> map;
  for (auto &n : nodes) {
    auto c = std::make_unique<Node>(*n);
    for (auto &op : c->operands) op = map.lookup(op);
    map[n.get()] = g->append(std::move(c));
  }
  for (auto &o : outputs) g->outputs.push_back({o.name, map.lookup(o.value)});
  for (auto &u : updates) g->updates.push_back({map.lookup(u.target), map.lookup(u.value)});
  for (const FusedKernel &k : kernels) {
    FusedKernel c = k;
    for (auto *list : {&c.stored, &c.epilogue})
      for (Node *&n : *list) n = map.lookup(n);
    g->kernels.push_back(std::move(c));
  }
  g->arenaBytes = arenaBytes;
  return g;
}

Graph *Module::graph(llvm::StringRef n) const {
  for (auto &g : graphs)
    if (g->name == n) return g.get();
  return nullptr;
}

Graph &Module::addGraph(std::string n) {
  graphs.push_back(std::make_unique<Graph>(std::move(n)));
  return *graphs.back();
}

void Module::removeGraph(llvm::StringRef n) {
  std::erase_if(graphs, [&](auto &g) { return g->name == n; });
}

uint32_t Module::fileId(llvm::StringRef path) {
  for (uint32_t i = 1; i < files.size(); ++i)
    if (files[i] == path) return i;
  files.push_back(path.str());
  return files.size() - 1;
}

std::string Module::locStr(const Location &l) const {
  if (!l.known() || l.file >= files.size()) return "?";
  return files[l.file] + ":" + std::to_string(l.line) + ":" + std::to_string(l.col);
}

llvm::StringRef Module::sourceLine(const Location &l) const {
  auto it = sourceLines.find({l.file, l.line});
  return it == sourceLines.end() ? llvm::StringRef() : llvm::StringRef(it->second);
}

} // namespace gradc
