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
//   - The context input idx: [B, T] has sequences on axis 0 and positions
//     on axis 1. @step reads step.idx: [Bs, 1] instead, one token for each
//     of Bs sequences (--step-batch, 1 by default), at the position held by
//     the scalar input step.pos (the same for every sequence), and writes
//     step.logits: [Bs, 1, V] (names apart, as the runtime has one tensor
//     per name). Sequences are followed like positions, and cut to the
//     first Bs; nothing may mix them.
//   - A value computed position by position (an embedding, a layer norm, a
//     projection, the MLP) keeps the position axis, and @step computes it at
//     position t only: that axis shrinks from T to 1. A reshape may merge it
//     with others ([B, T, C] -> [B·T, C]) while it stays one block of digits
//     of the flat index.
//   - A value that does not depend on the tokens (a parameter, the position
//     embedding, the causal mask) is computed whole; where it meets the
//     position axis, @step reads its row t (a gather at `step.pos`), and
//     where it meets the sequence axis, its first Bs.
//   - A matrix product that needs every position of its right operand reads
//     that operand from a cache, a state tensor of the operand's full shape
//     into which @step first writes position t:
//       q·kᵀ  [Bs, H, 1, D] @ [Bs, H, D, T] -> [Bs, H, 1, T]  (k on N)
//       att·v [Bs, H, 1, T] @ [Bs, H, T, D] -> [Bs, H, 1, D]  (v contracted)
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
// refused with the node's location: an error with --step-entry; by default
// the model simply has no @step, and generation recomputes instead.
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

/// A tracked axis: along `axis`, index = (o·E + i)·inner + j, for an outer
/// block o, the tracked index i < E (E: T for positions, B for sequences)
/// and an inner block j < inner.
struct PosAxis {
  int axis = -1;
  int64_t inner = 1;
  bool has() const { return axis >= 0; }
  bool operator==(const PosAxis &o) const = default;
};

/// What a value of @predict is to @step.
struct Label {
  PosAxis q;   // positions: @step holds position t only
  PosAxis k;   // keys: every position, from a cache
  PosAxis seq; // the batch's sequences: @step holds the first Bs of B
  bool positional() const { return q.has() || k.has() || seq.has(); }
};

class StepBuilder {
public:
  StepBuilder(const Module &m, const Graph &predict, Graph &step, int64_t T, int64_t B, int64_t Bs)
      : m(m), predict(predict), step(step), b(step), T(T), B(B), Bs(Bs) {}

  llvm::Error run(llvm::StringRef context, llvm::StringRef output);

private:
  const Module &m;
  const Graph &predict;
  Graph &step;
  Builder b;
  int64_t T, B, Bs;
  Node *pos = nullptr, *pos1 = nullptr; // step.pos: i32[] and i32[1]
  llvm::DenseMap<const Node *, Label> labels;
  llvm::DenseMap<const Node *, Node *> inStep; // @predict node -> @step node
  std::map<std::tuple<const Node *, int, int64_t, int, int64_t>, Node *> fitted;
  llvm::DenseMap<const Node *, Node *> caches;

  llvm::Error visit(Node *n, llvm::StringRef context);
  llvm::Error elementwise(Node *n);
  llvm::Error matmul(Node *n);

  /// At the op's source line, with a caret, as the front end's errors.
  llvm::Error refuse(const Node *n, const llvm::Twine &why) const {
    return errorAt(m, n, ("--step-entry: cannot compute '" + n->info().mnemonic + "' of " + str(n->type) +
                          " one position at a time: " + why)
                             .str());
  }
  /// `t` with its position axis cut to one position and its sequence axis
  /// to the first Bs.
  TensorType sliced(const TensorType &t, const Label &l) const {
    TensorType s = t;
    if (l.q.has()) s.shape[l.q.axis] /= T;
    if (l.seq.has()) s.shape[l.seq.axis] = s.shape[l.seq.axis] / B * Bs;
    return s;
  }
  /// n again in @step, on new operands, with n's attributes and name.
  Node *copy(const Node *n, llvm::ArrayRef<Node *> operands, const TensorType &type) {
    Node *c = b.create(n->op, operands, n->attrs, &type);
    c->name = n->name;
    return c;
  }
  Node *fit(const Node *n, Label want);
  /// n's value in @step where its consumer holds the tracked axes `need`:
  /// as computed if n tracks them too, cut to fit if n does not depend on
  /// the tokens; null (refused) if it tracks only some.
  Node *operandFor(const Node *n, Label need) {
    Label l = labels.lookup(n);
    if (!l.q.has() && !l.seq.has()) return need.q.has() || need.seq.has() ? fit(n, need) : inStep.lookup(n);
    if ((need.q.has() && l.q != need.q) || (need.seq.has() && l.seq != need.seq)) return nullptr;
    return inStep.lookup(n);
  }
  llvm::Expected<Node *> everyPosition(const Node *n);
};

/// Where a tracked axis (of extent E) of `from` lands when the flat elements
/// are read as `to`; none when the reshape cuts through it.
std::optional<PosAxis> reshapeAxis(PosAxis p, llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to, int64_t E) {
  if (!p.has()) return PosAxis{};
  int64_t stride = p.inner * product(from.drop_front(p.axis + 1)); // flat weight of one step along it
  int64_t suffix = 1;                                               // product(to[a+1..])
  for (int a = int(to.size()) - 1; a >= 0; suffix *= to[a], --a) {
    if (!(suffix <= stride && stride < suffix * to[a])) continue;
    if (stride % suffix) return std::nullopt;
    int64_t inner = stride / suffix;
    if (to[a] % (inner * E)) return std::nullopt;
    return PosAxis{a, inner};
  }
  return std::nullopt;
}

/// A value that does not depend on the tokens, cut to what @step holds:
/// row t along the position block want.q, the first Bs along the sequence
/// block want.seq. A splat constant, or a broadcast that made the block,
/// is the same along it; an index (iota) along the positions is step.pos;
/// an elementwise op is cut operand by operand. Anything else is sliced
/// (the first Bs sequences: reshape to [pre, outer, B, inner, post] and
/// slice) and read at row t (reshape to [pre, outer, T, inner, post], bring
/// T to the front, gather row step.pos, and reshape to the cut shape).
Node *StepBuilder::fit(const Node *n, Label want) {
  auto key = std::make_tuple(n, want.q.axis, want.q.inner, want.seq.axis, want.seq.inner);
  if (Node *r = fitted[key]) return r;
  TensorType out = sliced(n->type, want);
  Node *r = nullptr;
  int64_t axis = n->attrs.getInt(AttrKey::Axis, -1);
  if (n->is(OpKind::Const)) {
    r = b.constant(n->attrs.getFloat(AttrKey::Value), out);
  } else if (n->is(OpKind::Iota) && axis != want.q.axis) {
    r = b.iota(out, axis); // along the sequences: 0..Bs-1, the first Bs
  } else if (n->is(OpKind::Iota) && n->type.shape[axis] == T && axis != want.seq.axis) { // the position itself
    r = b.broadcastTo(pos, out.shape);
  } else if (n->is(OpKind::Broadcast)) {
    const Node *o = n->operand(0);
    int lead = int(n->type.rank() - o->type.rank());
    auto inOperand = [&](PosAxis p) { // the block's axis in the operand, unless broadcast made it
      int at = p.axis - lead;
      return !p.has() || at < 0 || o->type.shape[at] == 1 ? PosAxis{} : PosAxis{at, p.inner};
    };
    Label w{inOperand(want.q), {}, inOperand(want.seq)};
    r = b.broadcastTo(w.q.has() || w.seq.has() ? fit(o, w) : inStep.lookup(o), out.shape);
  } else if (n->has(OpTrait::Elementwise)) {
    llvm::SmallVector<Node *, 3> ops;
    for (const Node *o : n->operands) ops.push_back(fit(o, want));
    r = copy(n, ops, out);
  } else {
    r = inStep.lookup(n);
    PosAxis q = want.q;
    if (PosAxis s = want.seq; s.has()) {
      llvm::ArrayRef<int64_t> S = r->type.shape;
      int64_t outer = S[s.axis] / (B * s.inner);
      int64_t pre = product(S.take_front(s.axis)), post = product(S.drop_front(s.axis + 1));
      r = b.reshape(r, {pre, outer, B, s.inner, post});
      r = b.slice(r, {0, 0, 0, 0, 0}, {pre, outer, Bs, s.inner, post});
      r = b.reshape(r, sliced(n->type, Label{{}, {}, s}).shape);
      if (q.has() && q.axis == s.axis && q.inner > s.inner) q.inner = q.inner / B * Bs; // positions outside sequences
    }
    if (q.has()) {
      llvm::ArrayRef<int64_t> S = r->type.shape;
      int64_t outer = S[q.axis] / (T * q.inner);
      int64_t pre = product(S.take_front(q.axis)), post = product(S.drop_front(q.axis + 1));
      r = b.reshape(r, {pre, outer, T, q.inner, post});
      r = b.transpose(r, {2, 0, 1, 3, 4});
      r = b.create(OpKind::Gather, {r, pos1}); // [1, pre, outer, inner, post]
      r = b.reshape(r, out.shape);
    }
  }
  return fitted[key] = r;
}

/// Every position of a value computed per position: a cache of its shape
/// (the first Bs sequences), with position t written from this step's
/// value first.
llvm::Expected<Node *> StepBuilder::everyPosition(const Node *n) {
  if (Node *c = caches.lookup(n)) return c;
  Label l = labels.lookup(n);
  if (l.q.inner != 1 || n->type.shape[l.q.axis] != T)
    return refuse(n, "a product needs every position of it, and its position axis is merged with another axis");
  Attrs init;
  init.set(AttrKey::Init, std::string("zeros"));
  TensorType type = sliced(n->type, Label{{}, {}, l.seq});
  Node *cache = b.leaf(OpKind::State, GRT_CACHE_PREFIX + std::to_string(caches.size()), type, std::move(init));
  llvm::ArrayRef<int64_t> S = type.shape;
  Node *here = b.binary(OpKind::Eq, b.iota(TensorType(DType::I32, S), l.q.axis), b.broadcastTo(pos, S));
  Node *full = b.select(here, b.broadcastTo(inStep.lookup(n), S), cache);
  step.updates.push_back({cache, full});
  return caches[n] = full;
}

llvm::Error StepBuilder::elementwise(Node *n) {
  Label out;
  for (Node *o : n->operands) {
    Label l = labels.lookup(o);
    if (l.k.has() && !l.q.has()) return refuse(n, "an operand has a key axis but no position axis");
    for (auto [mine, theirs] : {std::pair{&out.q, l.q}, {&out.k, l.k}, {&out.seq, l.seq}}) {
      if (theirs.has() && mine->has() && theirs != *mine) return refuse(n, "its operands hold positions or sequences on different axes");
      if (theirs.has()) *mine = theirs;
    }
  }
  llvm::SmallVector<Node *, 3> ops;
  for (Node *o : n->operands) {
    ops.push_back(operandFor(o, Label{out.q, {}, out.seq}));
    if (!ops.back()) return refuse(n, "an operand holds positions but not sequences, or the other way");
  }
  labels[n] = out;
  inStep[n] = copy(n, ops, sliced(n->type, out));
  return llvm::Error::success();
}

llvm::Error StepBuilder::matmul(Node *n) {
  Node *A = n->operand(0), *Bm = n->operand(1);
  Label la = labels.lookup(A), lb = labels.lookup(Bm);
  int r = int(n->type.rank());
  bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
  int aM = ta ? r - 1 : r - 2, aK = ta ? r - 2 : r - 1, bN = tb ? r - 2 : r - 1; // else the right operand's K
  auto batch = [&](PosAxis p) { return p.has() && p.axis < r - 2; };
  if (lb.k.has() || (la.k.has() && (la.k.axis != aK || !la.q.has())))
    return refuse(n, "it multiplies along a key axis in a way attention does not");
  if (la.q.axis == aK || la.seq.axis == aK) return refuse(n, "it sums over the positions or sequences of its left operand");
  if (lb.seq.has() && !batch(lb.seq)) return refuse(n, "it mixes the sequences of the batch");
  Label out;
  auto fromLeft = [&](PosAxis p) { return p.axis == aM ? PosAxis{r - 2, p.inner} : p; };
  out.q = fromLeft(la.q);
  out.seq = fromLeft(la.seq);
  if (lb.seq.has()) {
    if (out.seq.has() && out.seq != lb.seq) return refuse(n, "its operands hold sequences on different axes");
    out.seq = lb.seq;
  }
  Node *opB = nullptr;
  bool cacheB = false;
  if (batch(lb.q)) {
    if (out.q.has() && out.q != lb.q) return refuse(n, "its operands hold positions on different axes");
    out.q = lb.q;
  } else if (lb.q.has() && lb.q.axis == bN) {
    if (la.q.has()) { // q·kᵀ: every key
      cacheB = true;
      out.k = PosAxis{r - 1, 1};
    } else { // W·x with positions on N
      out.q = PosAxis{r - 1, lb.q.inner};
    }
  } else if (lb.q.has()) { // positions of the right operand are summed over
    if (!la.k.has()) return refuse(n, "it sums over the position axis of its right operand, not over attention's keys");
    cacheB = true;
  }
  // Each operand as computed, or cut along the batch dims the other tracks.
  Label needed{batch(out.q) ? out.q : PosAxis{}, {}, batch(out.seq) ? out.seq : PosAxis{}};
  Node *opA = operandFor(A, needed);
  if (cacheB) {
    llvm::Expected<Node *> full = everyPosition(Bm);
    if (!full) return full.takeError();
    opB = *full;
  } else {
    opB = operandFor(Bm, needed);
  }
  if (!opA || !opB) return refuse(n, "an operand holds positions but not sequences, or the other way");
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
    // With every sequence kept there is nothing to cut or to keep apart.
    labels[n] = Label{PosAxis{1, 1}, {}, Bs < B ? PosAxis{0, 1} : PosAxis{}};
    inStep[n] = b.leaf(OpKind::Input, GRT_STEP_PREFIX + context.str(), sliced(n->type, labels[n]));
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
    auto shift = [&](PosAxis p) { return p.has() ? PosAxis{p.axis + lead, p.inner} : p; };
    out = Label{shift(in.q), shift(in.k), shift(in.seq)};
    break;
  }
  case OpKind::Reshape: {
    auto q = reshapeAxis(in.q, from, to, T), k = reshapeAxis(in.k, from, to, T), s = reshapeAxis(in.seq, from, to, B);
    if (!q || !k || !s) return refuse(n, "the reshape from " + shapeStr(from) + " cuts through the position or sequence axis");
    out = Label{*q, *k, *s};
    break;
  }
  case OpKind::Transpose: {
    auto perm = n->attrs.getInts(AttrKey::Perm);
    for (int i = 0; i < int(perm.size()); ++i)
      for (auto [mine, theirs] : {std::pair{&out.q, in.q}, {&out.k, in.k}, {&out.seq, in.seq}})
        if (theirs.axis == perm[i]) *mine = PosAxis{i, theirs.inner};
    break;
  }
  case OpKind::ReduceSum:
  case OpKind::ReduceMax: {
    out = in;
    for (int64_t a : n->attrs.getInts(AttrKey::Axes)) {
      // (A mask may hide the later positions, as a causal max-pool's does;
      // what @step lacks is every earlier position's value: it keeps only
      // attention's keys and values.)
      if (a == in.q.axis)
        return refuse(n, "it reduces over the position axis, and @step keeps of the earlier positions only attention's "
                         "keys and values");
      if (a == in.seq.axis) return refuse(n, "it reduces over the sequences of the batch");
      if (a == in.k.axis) out.k = PosAxis{};
    }
    break;
  }
  case OpKind::Slice:
  case OpKind::Pad: {
    auto off = n->attrs.getInts(AttrKey::Offsets);
    for (PosAxis p : {in.q, in.k, in.seq})
      if (p.has() && (off[p.axis] != 0 || from[p.axis] != to[p.axis]))
        return refuse(n, "it cuts or pads the position or sequence axis");
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
    labels[n] = Label{idx.q, {}, idx.seq};
    inStep[n] = copy(n, ops, sliced(n->type, labels[n]));
    return llvm::Error::success();
  }
  case OpKind::Concat: {
    int64_t axis = n->attrs.getInt(AttrKey::Axis);
    for (Node *o : n->operands) {
      Label l = labels.lookup(o);
      if (l.k.has() || l.q.axis == axis || l.seq.axis == axis)
        return refuse(n, "it joins along the position, key or sequence axis");
      for (auto [mine, theirs] : {std::pair{&out.q, l.q}, {&out.seq, l.seq}}) {
        if (theirs.has() && mine->has() && theirs != *mine) return refuse(n, "its operands hold positions on different axes");
        if (theirs.has()) *mine = theirs;
      }
    }
    for (size_t i = 0; i < ops.size(); ++i)
      if (!(ops[i] = operandFor(n->operand(i), out))) return refuse(n, "an operand holds positions but not sequences");
    labels[n] = out;
    inStep[n] = copy(n, ops, sliced(n->type, out));
    return llvm::Error::success();
  }
  default: return refuse(n, "it mixes positions in a way this pass does not follow");
  }
  labels[n] = out;
  inStep[n] = copy(n, ops, sliced(n->type, out));
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

/// The context input @predict reads as [B, T], or null.
const Node *predictContext(const Module &m) {
  const Graph *predict = m.graph("predict");
  const Node *context = predict ? predict->findLeaf(OpKind::Input, m.data.textInput) : nullptr;
  return context && context->type.rank() == 2 ? context : nullptr;
}

/// Why @predict has no 'logits' (split-entries left the output out: it
/// mixes the batch's rows), at the model's `output logits` line; this
/// said "the module has no @predict graph (split-entries makes it)".
llvm::Error noLogitsInPredict(const Module &m) {
  auto it = m.rowlessOutputs.find("logits");
  if (it == m.rowlessOutputs.end())
    return passError("--step-entry: the model has no `output logits` to generate tokens from");
  return errorAt(m, it->second,
                 "--step-entry: output 'logits' has no row per input row (the note above says why), so it cannot be "
                 "generated one position at a time, and neither `predict` nor `sample` can use it; compute each "
                 "row's logits from that row alone");
}

/// @step from @predict, inserted after it; an error says why it cannot be.
/// (runStepEntry has checked --step-batch against the batch.)
llvm::Error deriveStep(Module &m, const PassOptions &opts) {
  if (m.data.kind != DataSpec::Text) return passError("step-entry: only a text model (`data text`) generates tokens");
  auto it = std::find_if(m.graphs.begin(), m.graphs.end(), [](auto &g) { return g->name == "predict"; });
  if (it == m.graphs.end() || !(*it)->output("logits")) return noLogitsInPredict(m);
  const Graph &predict = **it;
  const Node *context = predictContext(m);
  if (!context)
    return passError("step-entry: @predict does not read the context input '" + m.data.textInput + "' as [B, T]");
  int64_t B = context->type.shape[0], T = context->type.shape[1];
  // With one position an axis of size 1 cannot be told apart from the
  // position axis (reshapes the user never wrote "cut through" it), and
  // there is nothing to cache: recomputing is as cheap.
  if (T == 1)
    return passError("step-entry: the context '" + m.data.textInput + "' is " + str(context->type) +
                     ", one position long: there are no earlier positions to cache, and sample recomputes it as "
                     "cheaply (build without --step-entry)");
  auto step = std::make_unique<Graph>(GRT_ENTRY_STEP);
  StepBuilder sb(m, predict, *step, T, B, opts.stepBatch);
  if (llvm::Error e = sb.run(m.data.textInput, "logits")) return e;
  step->sortTopologically();
  step->removeDeadNodes();
  m.graphs.insert(std::next(it), std::move(step));
  return llvm::Error::success();
}

} // namespace

llvm::Error runStepEntry(Module &m, const PassOptions &opts) {
  using Mode = PassOptions::StepEntry;
  // A --step-batch on a table model set nothing, silently.
  if (opts.stepEntry == Mode::Auto && m.data.kind != DataSpec::Text && opts.stepBatch != 1)
    return passError("--step-batch " + llvm::Twine(opts.stepBatch) +
                     ": only a text model (`data text`) has @step, whose batch it sets");
  if (opts.stepEntry == Mode::Off || (opts.stepEntry == Mode::Auto && m.data.kind != DataSpec::Text))
    return llvm::Error::success();
  // A --step-batch out of range is the user's to fix, not something the
  // model's graph rules out: an error even when @step was not asked for
  // (the build went on without @step, silently).
  if (const Node *context = predictContext(m))
    if (int64_t B = context->type.shape[0]; opts.stepBatch < 1 || opts.stepBatch > B)
      return passError("--step-batch " + llvm::Twine(opts.stepBatch) + ": @step generates 1 to " + llvm::Twine(B) +
                       " sequences at once (the model's batch)");
  llvm::Error e = deriveStep(m, opts);
  if (e && opts.stepEntry == Mode::Auto) {
    llvm::consumeError(std::move(e)); // sample recomputes instead; --step-entry says why
    return llvm::Error::success();
  }
  return e;
}

} // namespace gradc
