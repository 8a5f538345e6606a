//===- passes/Autodiff.cpp - reverse-mode differentiation on the graph ----===//
//
// Derives the backward graph symbolically. Starting from dL/dL = 1, walk the
// forward nodes in reverse topological order; for each node with a gradient,
// apply its op's vector-Jacobian rule (passes/GradRules.cpp) to send a
// contribution to each operand, and sum the contributions each value gets.
// Every node created is ordinary IR, marked as backward, pointing at the
// forward value it differentiates and the rule that made it. The result is
// one output "grad.<param>" per parameter.
//
//===----------------------------------------------------------------------===//
#include "passes/GradRules.h"
#include "passes/Pass.h"
#include "runtime/include/gradrt/abi.h"


#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace gradc {

namespace {

/// How backward nodes name the forward value they differentiate: its own
/// name, or for an unnamed intermediate its op and the named value it feeds
/// ("matmul in pred"), which stays meaningful after later passes renumber.
class ValueDescriber {
public:
  explicit ValueDescriber(const Graph &g) : users(g.users()) {}

  std::string operator()(const Node *n) const {
    if (!n->name.empty()) return n->name;
    const Node *at = n;
    for (int hops = 0; hops < 8; ++hops) {
      const auto &us = users[at->id];
      if (us.empty()) break;
      at = us.front();
      if (!at->name.empty()) return n->info().mnemonic.str() + " in " + at->name;
    }
    return n->info().mnemonic.str();
  }

private:
  UserLists users;
};

std::string ruleName(const Node *n, unsigned i) {
  static const char *binaryRoles[] = {"lhs", "rhs"};
  std::string role = n->operands.size() == 1 ? "x"
                     : n->operands.size() == 2 ? binaryRoles[i]
                                                : "operand" + std::to_string(i);
  if (n->is(OpKind::Select)) role = i == 1 ? "then" : "else";
  return n->info().mnemonic.str() + "." + role;
}

/// Gradient checking compares symbolic gradients with finite differences of
/// the loss. Where stop_gradient cuts a path, the symbolic gradient is that
/// of the loss with the stopped value held fixed, so the differences must
/// hold it fixed too. For stop_gradient number K this adds the output
/// "capture.K" (the value it stops, at the current point) and a state leaf
/// "frozen.K" of its type, and the output "frozen_loss": the loss computed
/// again with frozen.K in place of stop_gradient K. A checker runs the
/// capture once at the base point, copies capture.K into frozen.K, and
/// differences frozen_loss.
void addFrozenLoss(Graph &g, Node *loss) {
  // The stop_gradients the loss depends on.
  llvm::DenseSet<const Node *> toLoss{loss};
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it)
    if (toLoss.count(it->get()))
      for (Node *op : (*it)->operands) toLoss.insert(op);
  std::vector<Node *> stops;
  for (auto &n : g.nodes)
    if (n->is(OpKind::StopGradient) && n->prov.phase == Phase::Forward && toLoss.count(n.get())) stops.push_back(n.get());
  if (stops.empty()) return;
  Builder b(g);
  llvm::DenseMap<Node *, Node *> frozen;
  for (size_t k = 0; k < stops.size(); ++k) {
    Node *s = stops[k];
    b.loc = s->loc;
    b.prov = {Phase::Backward, "stop_gradient", "freeze"};
    Attrs init;
    init.set(AttrKey::Init, std::string("zeros"));
    frozen[s] = b.leaf(OpKind::State, GRT_FROZEN_PREFIX + std::to_string(k), s->type, std::move(init));
    g.outputs.push_back({GRT_CAPTURE_PREFIX + std::to_string(k), s->operand(0)});
  }
  // Recompute, in order, every forward node that depends on a frozen value.
  // The nodes appended here come after the ones they read, so the graph
  // stays in topological order.
  size_t forwardEnd = g.nodes.size();
  for (size_t i = 0; i < forwardEnd; ++i) {
    Node *n = g.nodes[i].get();
    if (n->prov.phase != Phase::Forward || frozen.count(n)) continue;
    if (!llvm::any_of(n->operands, [&](Node *o) { return frozen.count(o); })) continue;
    auto c = std::make_unique<Node>(*n);
    c->name.clear();
    for (auto &op : c->operands)
      if (Node *f = frozen.lookup(op)) op = f;
    frozen[n] = g.append(std::move(c));
  }
  Node *l = frozen.lookup(loss);
  g.outputs.push_back({GRT_FROZEN_LOSS, l ? l : loss});
}

} // namespace

llvm::Error runAutodiff(Module &m, const PassOptions &opts) {
  Graph *g = m.graph("model");
  if (!g) return passError("autodiff: the module has no @model graph");
  Node *loss = g->output("loss");
  if (!loss) return passError("autodiff: @model has no \"loss\" output");
  if (!loss->type.isScalar() || !isFloat(loss->type.dtype))
    return passError("autodiff: the loss must be a float scalar, not " + str(loss->type));
  std::vector<Node *> params = g->leaves(OpKind::Param);

  // Only values on a path from a parameter to the loss need gradients.
  llvm::DenseSet<const Node *> fromParams(params.begin(), params.end());
  for (auto &n : g->nodes)
    for (Node *op : n->operands)
      if (fromParams.count(op) && isFloat(n->type.dtype)) fromParams.insert(n.get());
  llvm::DenseSet<const Node *> toLoss{loss};
  for (auto it = g->nodes.rbegin(); it != g->nodes.rend(); ++it)
    if (toLoss.count(it->get()))
      for (Node *op : (*it)->operands) toLoss.insert(op);
  auto needed = [&](const Node *n) { return fromParams.count(n) && toLoss.count(n) && isFloat(n->type.dtype); };

  g->renumber();
  ValueDescriber describeValue(*g);
  Builder b(*g);
  llvm::DenseMap<Node *, Node *> grad;
  b.loc = loss->loc;
  b.prov = {Phase::Backward, describeValue(loss), "seed"};
  grad[loss] = b.constantLike(1.0, loss);

  size_t forwardCount = g->nodes.size();
  for (size_t k = forwardCount; k-- > 0;) {
    Node *n = g->nodes[k].get();
    auto gi = grad.find(n);
    if (gi == grad.end() || n->has(Leaf)) continue;
    Node *gn = gi->second;
    if (!n->name.empty() && gn->name.empty() && gn->prov.phase == Phase::Backward) gn->name = "d." + n->name;
    const GradRule *rule = opts.missingGradRule == n->info().mnemonic ? nullptr : gradRule(n->op);
    if (!rule) {
      bool anyNeeded = llvm::any_of(n->operands, [&](Node *o) { return needed(o); });
      if (!anyNeeded || n->has(NoGrad)) continue;
      return passError("autodiff: no gradient rule for op '" + n->info().mnemonic + "'" +
                       (n->loc.known() ? " (used at " + m.locStr(n->loc) + ")" : std::string()));
    }
    for (unsigned i = 0; i < n->operands.size(); ++i) {
      Node *x = n->operands[i];
      if (!needed(x)) continue;
      b.loc = n->loc;
      b.prov = {Phase::Backward, describeValue(n), ruleName(n, i)};
      Node *contrib = rule->vjp(b, n, i, gn);
      if (!contrib) continue;
      if (opts.breakGradRule == n->info().mnemonic) contrib = b.scale(contrib, 1.5);
      if (contrib->type != x->type)
        return passError("internal error: gradient rule " + ruleName(n, i) + " gave " + str(contrib->type) +
                         " for an operand of type " + str(x->type));
      auto [it, fresh] = grad.try_emplace(x, contrib);
      if (!fresh) {
        b.prov.rule = "accumulate";
        b.prov.of = describeValue(x);
        it->second = b.add(it->second, contrib);
      }
    }
  }

  // One gradient output per parameter; a parameter the loss ignores gets zeros.
  for (Node *p : params) {
    Node *dp = grad.lookup(p);
    if (!dp) {
      b.loc = p->loc;
      b.prov = {Phase::Backward, describeValue(p), "unused"};
      dp = b.constantLike(0.0, p);
    }
    if (dp->name.empty()) dp->name = "d." + p->name;
    g->outputs.push_back({grt::gradName(p->attrs.getString(AttrKey::Name)), dp});
  }

  if (opts.gradsEntry) addFrozenLoss(*g, loss);

  // Differentiation is done: stop_gradient is now the identity.
  llvm::DenseMap<Node *, Node *> identity;
  for (auto &n : g->nodes)
    if (n->is(OpKind::StopGradient)) identity[n.get()] = n->operand(0);
  g->replaceAllUsesWith(identity);
  g->removeDeadNodes();
  return llvm::Error::success();
}

} // namespace gradc
