//===- passes/StepEntry.cpp - @step: one position at a time, keys cached --===//
//
// Generation runs the model once per new token. @predict recomputes the
// whole context each time: O(T²) attention work per token. @step computes
// only the newest position t, and reads what attention needs from earlier
// positions (its keys and values) from caches, so a token costs O(T).
//
// The pass derives @step from @predict for any text model, by following the
// position axis through the graph (no layer is recognised by name):
//
//   - The context input idx: [B, T] has positions on axis 1. @step reads
//     step.idx: [B, 1] instead, one token per row, at the position held by
//     the scalar input step.pos (the same for every row), and writes
//     step.logits: [B, 1, V] (names apart, as the runtime has one tensor
//     per name).
//   - A value computed position by position (an embedding, a layer norm, a
//     projection, the MLP) keeps the position axis, and @step computes it at
//     position t only: that axis shrinks from T to 1. A reshape may merge it
//     with others ([B, T, C] -> [B·T, C]) while it stays one block of digits
//     of the flat index.
//   - A value that does not depend on the tokens (a parameter, the position
//     embedding, the causal mask) is computed whole; where it meets the
//     position axis, @step reads its row t (a gather at `step.pos`).
//   - A matrix product that needs every position of its right operand reads
//     that operand from a cache, a state tensor of the operand's full shape
//     into which @step first writes position t:
//       q·kᵀ  [B, H, 1, D] @ [B, H, D, T] -> [B, H, 1, T]  (k on N)
//       att·v [B, H, 1, T] @ [B, H, T, D] -> [B, H, 1, D]  (v contracted)
//     The scores' last axis is then a key axis of full length; elementwise
//     ops and reductions over it (the mask, softmax) are fine. A reduction
//     or contraction over the position axis itself is refused: the output at
//     t would depend on later tokens.
//
// Cache positions after t hold zeros (a fresh generation) or stale values.
// A causal model masks them out (where(causal, att, -1e9) makes their
// weight exactly 0), so @step at position t equals @predict's row t. A model
// that is not causal would differ; the runtime compares the two on the
// prompt before it trusts @step. Anything else that mixes positions is
// refused with the node's location, and generation recomputes instead.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Builder.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <map>

namespace gradc {
namespace {

/// A position axis: along `axis`, index = (o·T + t)·inner + i, for an outer
/// block o, the position t < T and an inner block i < inner.
struct PosAxis {
  int axis = -1;
  int64_t inner = 1;
  bool has() const { return axis >= 0; }
  bool operator==(const PosAxis &o) const = default;
};

/// What a value of @predict is to @step.
struct Label {
  PosAxis q; // computed per position: @step holds position t only
  PosAxis k; // a key axis: every position, from a cache
  bool positional() const { return q.has() || k.has(); }
};

class StepBuilder {
public:
  StepBuilder(const Module &m, const Graph &predict, Graph &step, int64_t T)
      : m(m), predict(predict), step(step), b(step), T(T) {}

  llvm::Error run(llvm::StringRef context, llvm::StringRef output);

private:
  const Module &m;
  const Graph &predict;
  Graph &step;
  Builder b;
  int64_t T;
  Node *pos = nullptr, *pos1 = nullptr; // step.pos: i32[] and i32[1]
  llvm::DenseMap<const Node *, Label> labels;
  llvm::DenseMap<const Node *, Node *> inStep; // @predict node -> @step node
  std::map<std::tuple<const Node *, int, int64_t>, Node *> rows;
  llvm::DenseMap<const Node *, Node *> caches;

  llvm::Error visit(Node *n, llvm::StringRef context);
  llvm::Error elementwise(Node *n);
  llvm::Error matmul(Node *n);

  llvm::Error refuse(const Node *n, const llvm::Twine &why) const {
    return passError("step-entry: cannot compute '" + n->info().mnemonic + "' of " + str(n->type) +
                     (n->loc.known() ? " (" + m.locStr(n->loc) + ")" : std::string()) +
                     " one position at a time: " + why);
  }
  /// `t` with its position axis cut to one position.
  TensorType sliced(const TensorType &t, PosAxis q) const {
    TensorType s = t;
    if (q.has()) s.shape[q.axis] /= T;
    return s;
  }
  /// n again in @step, on new operands, with n's attributes and name.
  Node *copy(const Node *n, llvm::ArrayRef<Node *> operands, const TensorType &type) {
    Node *c = b.create(n->op, operands, n->attrs, &type);
    c->name = n->name;
    return c;
  }
  Node *rowAt(const Node *n, PosAxis q);
  llvm::Expected<Node *> everyPosition(const Node *n);
};

/// Where a position axis of `from` lands when the flat elements are read
/// as `to`; none when the reshape cuts through it.
std::optional<PosAxis> reshapeAxis(PosAxis p, llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to, int64_t T) {
  int64_t stride = p.inner * product(from.drop_front(p.axis + 1)); // flat weight of one position step
  int64_t suffix = 1;                                               // product(to[a+1..])
  for (int a = int(to.size()) - 1; a >= 0; suffix *= to[a], --a) {
    if (!(suffix <= stride && stride < suffix * to[a])) continue;
    if (stride % suffix) return std::nullopt;
    int64_t inner = stride / suffix;
    if (to[a] % (inner * T)) return std::nullopt;
    return PosAxis{a, inner};
  }
  return std::nullopt;
}

/// Row t of a value that does not depend on the tokens, along the block
/// `q` of its shape. A splat constant, or a broadcast that made the block,
/// is the same at every position; an index (iota) along the block is
/// step.pos; an elementwise op is taken row by row.
/// Anything else is read at the row: reshape it to [pre, outer, T, inner,
/// post], bring T to the front, gather row step.pos, and reshape to the
/// sliced shape.
Node *StepBuilder::rowAt(const Node *n, PosAxis q) {
  auto key = std::make_tuple(n, q.axis, q.inner);
  if (Node *r = rows[key]) return r;
  TensorType out = sliced(n->type, q);
  Node *r = nullptr;
  int64_t axis = n->attrs.getInt(AttrKey::Axis, -1);
  if (n->is(OpKind::Const)) {
    r = b.constant(n->attrs.getFloat(AttrKey::Value), out);
  } else if (n->is(OpKind::Iota) && axis != q.axis) {
    r = b.iota(out, axis);
  } else if (n->is(OpKind::Iota) && n->type.shape[axis] == T) { // the position itself
    r = b.broadcastTo(pos, out.shape);
  } else if (n->is(OpKind::Broadcast)) {
    const Node *o = n->operand(0);
    int at = q.axis - int(n->type.rank() - o->type.rank()); // the block's axis in the operand
    Node *row = at < 0 || o->type.shape[at] == 1 ? inStep.lookup(o) : rowAt(o, PosAxis{at, q.inner});
    r = b.broadcastTo(row, out.shape);
  } else if (n->has(OpTrait::Elementwise)) {
    llvm::SmallVector<Node *, 3> ops;
    for (const Node *o : n->operands) ops.push_back(rowAt(o, q));
    r = copy(n, ops, out);
  } else {
    Node *x = inStep.lookup(n);
    llvm::ArrayRef<int64_t> S = x->type.shape;
    int64_t outer = S[q.axis] / (T * q.inner);
    int64_t pre = product(S.take_front(q.axis)), post = product(S.drop_front(q.axis + 1));
    r = b.reshape(x, {pre, outer, T, q.inner, post});
    r = b.transpose(r, {2, 0, 1, 3, 4});
    r = b.create(OpKind::Gather, {r, pos1}); // [1, pre, outer, inner, post]
    r = b.reshape(r, out.shape);
  }
  return rows[key] = r;
}

/// Every position of a value computed per position: a cache of its full
/// shape, with position t written from this step's value first.
llvm::Expected<Node *> StepBuilder::everyPosition(const Node *n) {
  if (Node *c = caches.lookup(n)) return c;
  PosAxis q = labels.lookup(n).q;
  if (q.inner != 1 || n->type.shape[q.axis] != T)
    return refuse(n, "a product needs every position of it, and its position axis is merged with another axis");
  Attrs init;
  init.set(AttrKey::Init, std::string("zeros"));
  Node *cache = b.leaf(OpKind::State, GRT_CACHE_PREFIX + std::to_string(caches.size()), n->type, std::move(init));
  llvm::ArrayRef<int64_t> S = n->type.shape;
  Node *here = b.binary(OpKind::Eq, b.iota(TensorType(DType::I32, S), q.axis), b.broadcastTo(pos, S));
  Node *full = b.select(here, b.broadcastTo(inStep.lookup(n), S), cache);
  step.updates.push_back({cache, full});
  return caches[n] = full;
}

llvm::Error StepBuilder::elementwise(Node *n) {
  Label out;
  for (Node *o : n->operands) {
    Label l = labels.lookup(o);
    if (l.k.has() && !l.q.has()) return refuse(n, "an operand has a key axis but no position axis");
    if (l.q.has() && out.q.has() && l.q != out.q) return refuse(n, "its operands hold positions on different axes");
    if (l.k.has() && out.k.has() && l.k != out.k) return refuse(n, "its operands hold keys on different axes");
    if (l.q.has()) out.q = l.q;
    if (l.k.has()) out.k = l.k;
  }
  llvm::SmallVector<Node *, 3> ops;
  for (Node *o : n->operands) ops.push_back(labels.lookup(o).q.has() ? inStep.lookup(o) : rowAt(o, out.q));
  labels[n] = out;
  inStep[n] = copy(n, ops, sliced(n->type, out.q));
  return llvm::Error::success();
}

llvm::Error StepBuilder::matmul(Node *n) {
  Node *A = n->operand(0), *Bm = n->operand(1);
  Label la = labels.lookup(A), lb = labels.lookup(Bm);
  int r = int(n->type.rank());
  bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
  int aM = ta ? r - 1 : r - 2, aK = ta ? r - 2 : r - 1, bN = tb ? r - 2 : r - 1; // else positions on its K
  auto batch = [&](PosAxis p) { return p.axis < r - 2; };
  if (lb.k.has() || (la.k.has() && (la.k.axis != aK || !la.q.has())))
    return refuse(n, "it multiplies along a key axis in a way attention does not");
  if (la.q.has() && la.q.axis == aK) return refuse(n, "it sums over the position axis of its left operand");
  Label out;
  Node *opA = nullptr, *opB = nullptr;
  auto cached = [&](Node *x) -> llvm::Error {
    llvm::Expected<Node *> full = everyPosition(x);
    if (!full) return full.takeError();
    opB = *full;
    return llvm::Error::success();
  };
  if (la.q.has()) {
    out.q = la.q.axis == aM ? PosAxis{r - 2, la.q.inner} : la.q;
    opA = inStep.lookup(A);
  }
  if (!lb.q.has()) {
    // Weights, or a key-length table the scores are contracted with.
    opB = out.q.has() && batch(out.q) ? rowAt(Bm, out.q) : inStep.lookup(Bm);
  } else if (batch(lb.q)) {
    if (la.q.has() && la.q != lb.q) return refuse(n, "its operands hold positions on different axes");
    out.q = lb.q;
    opB = inStep.lookup(Bm);
  } else if (lb.q.axis == bN) {
    if (la.q.has()) { // q·kᵀ: every key
      if (llvm::Error e = cached(Bm)) return e;
      out.k = PosAxis{r - 1, 1};
    } else { // W·x with positions on N
      out.q = PosAxis{r - 1, lb.q.inner};
      opB = inStep.lookup(Bm);
    }
  } else { // positions of the right operand are summed over (bK)
    if (!la.k.has()) return refuse(n, "it sums over the position axis of its right operand, not over attention's keys");
    if (llvm::Error e = cached(Bm)) return e;
  }
  if (!opA) opA = out.q.has() && batch(out.q) ? rowAt(A, out.q) : inStep.lookup(A);
  labels[n] = out;
  inStep[n] = b.create(OpKind::MatMul, {opA, opB}, n->attrs);
  inStep[n]->name = n->name;
  return llvm::Error::success();
}

llvm::Error StepBuilder::visit(Node *n, llvm::StringRef context) {
  b.loc = n->loc;
  b.prov = n->prov;
  if (n->is(OpKind::Input)) {
    if (n->attrs.getString(AttrKey::Name) != context)
      return refuse(n, "generation sets only the context input '" + context + "'");
    labels[n] = Label{PosAxis{1, 1}, {}};
    inStep[n] = b.leaf(OpKind::Input, GRT_STEP_PREFIX + context.str(), sliced(n->type, PosAxis{1, 1}));
    return llvm::Error::success();
  }
  llvm::SmallVector<Node *, 3> ops;
  bool positional = false;
  for (Node *o : n->operands) {
    ops.push_back(inStep.lookup(o));
    positional |= labels.lookup(o).positional();
  }
  if (!positional) { // the same value in @step: it does not depend on the tokens
    inStep[n] = copy(n, ops, n->type);
    return llvm::Error::success();
  }
  if (n->has(OpTrait::Elementwise)) return elementwise(n);
  if (n->is(OpKind::MatMul)) return matmul(n);

  Label in = labels.lookup(n->operand(0)), out;
  llvm::ArrayRef<int64_t> from = n->operand(0)->type.shape, to = n->type.shape;
  switch (n->op) {
  case OpKind::Broadcast: {
    int lead = int(to.size() - from.size());
    if (in.q.has()) out.q = PosAxis{in.q.axis + lead, in.q.inner};
    if (in.k.has()) out.k = PosAxis{in.k.axis + lead, in.k.inner};
    break;
  }
  case OpKind::Reshape: {
    auto q = in.q.has() ? reshapeAxis(in.q, from, to, T) : std::optional<PosAxis>(PosAxis{});
    auto k = in.k.has() ? reshapeAxis(in.k, from, to, T) : std::optional<PosAxis>(PosAxis{});
    if (!q || !k) return refuse(n, "the reshape from " + shapeStr(from) + " cuts through the position axis");
    out = Label{*q, *k};
    break;
  }
  case OpKind::Transpose: {
    auto perm = n->attrs.getInts(AttrKey::Perm);
    for (int i = 0; i < int(perm.size()); ++i) {
      if (in.q.axis == perm[i]) out.q = PosAxis{i, in.q.inner};
      if (in.k.axis == perm[i]) out.k = PosAxis{i, in.k.inner};
    }
    break;
  }
  case OpKind::ReduceSum:
  case OpKind::ReduceMax: {
    out = in;
    for (int64_t a : n->attrs.getInts(AttrKey::Axes)) {
      if (a == in.q.axis) return refuse(n, "it reduces over the position axis (position t would see later tokens)");
      if (a == in.k.axis) out.k = PosAxis{};
    }
    break;
  }
  case OpKind::Slice:
  case OpKind::Pad: {
    auto off = n->attrs.getInts(AttrKey::Offsets);
    for (PosAxis p : {in.q, in.k})
      if (p.has() && (off[p.axis] != 0 || from[p.axis] != to[p.axis]))
        return refuse(n, "it cuts or pads the position axis");
    out = in;
    break;
  }
  case OpKind::Gather:
  case OpKind::OneHot: {
    // The indices' axes come first in the result.
    Label idx = labels.lookup(n->operands.back());
    if (n->is(OpKind::Gather) && labels.lookup(n->operand(0)).positional())
      return refuse(n, "it gathers from a table that depends on the tokens");
    if (idx.k.has()) return refuse(n, "its indices have a key axis");
    labels[n] = Label{idx.q, {}};
    inStep[n] = copy(n, ops, sliced(n->type, idx.q));
    return llvm::Error::success();
  }
  case OpKind::Concat: {
    int64_t axis = n->attrs.getInt(AttrKey::Axis);
    for (Node *o : n->operands) {
      Label l = labels.lookup(o);
      if (l.k.has() || (l.q.has() && l.q.axis == axis)) return refuse(n, "it joins along the position or key axis");
      if (l.q.has() && out.q.has() && l.q != out.q) return refuse(n, "its operands hold positions on different axes");
      if (l.q.has()) out.q = l.q;
    }
    for (size_t i = 0; i < ops.size(); ++i)
      if (!labels.lookup(n->operand(i)).q.has()) ops[i] = rowAt(n->operand(i), out.q);
    labels[n] = out;
    inStep[n] = copy(n, ops, sliced(n->type, out.q));
    return llvm::Error::success();
  }
  default: return refuse(n, "it mixes positions in a way this pass does not follow");
  }
  labels[n] = out;
  inStep[n] = copy(n, ops, sliced(n->type, out.q));
  return llvm::Error::success();
}

llvm::Error StepBuilder::run(llvm::StringRef context, llvm::StringRef output) {
  const GraphOutput *target = nullptr;
  for (auto &o : predict.outputs)
    if (o.name == output) target = &o;
  if (!target) return passError("step-entry: @predict has no output '" + output + "' to generate from");
  // Only what the output needs: another output may mix positions freely.
  llvm::DenseSet<const Node *> needed{target->value};
  for (auto it = predict.nodes.rbegin(); it != predict.nodes.rend(); ++it)
    if (needed.contains(it->get()))
      for (Node *o : (*it)->operands) needed.insert(o);
  pos = b.leaf(OpKind::Input, GRT_STEP_POS, TensorType(DType::I32, {}));
  pos1 = b.reshape(pos, {1});
  for (auto &np : predict.nodes)
    if (needed.contains(np.get()))
      if (llvm::Error e = visit(np.get(), context)) return e;
  Label l = labels.lookup(target->value);
  if (!l.q.has() || l.k.has()) return passError("step-entry: output '" + output + "' has no position axis");
  step.outputs.push_back({GRT_STEP_PREFIX + target->name, inStep.lookup(target->value)});
  return llvm::Error::success();
}

} // namespace

llvm::Error runStepEntry(Module &m, const PassOptions &opts) {
  if (!opts.stepEntry) return llvm::Error::success();
  if (m.data.kind != DataSpec::Text) return passError("step-entry: only a text model (`data text`) generates tokens");
  auto it = std::find_if(m.graphs.begin(), m.graphs.end(), [](auto &g) { return g->name == "predict"; });
  if (it == m.graphs.end()) return passError("step-entry: the module has no @predict graph (split-entries makes it)");
  const Graph &predict = **it;
  Node *context = predict.findLeaf(OpKind::Input, m.data.textInput);
  if (!context || context->type.rank() != 2)
    return passError("step-entry: @predict does not read the context input '" + m.data.textInput + "' as [B, T]");
  auto step = std::make_unique<Graph>(GRT_ENTRY_STEP);
  StepBuilder sb(m, predict, *step, context->type.shape[1]);
  if (llvm::Error e = sb.run(m.data.textInput, "logits")) return e;
  step->sortTopologically();
  step->removeDeadNodes();
  m.graphs.insert(std::next(it), std::move(step));
  return llvm::Error::success();
}

} // namespace gradc
