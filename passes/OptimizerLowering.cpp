//===- passes/OptimizerLowering.cpp - the optimizer update as IR ----------===//
//
// Appends the parameter update to @model, after autodiff, so the update is
// compiled and fused with the rest of the step. For each parameter w with
// gradient g (all tensors shaped like w):
//
//   sgd       w' = w - lr·g
//   momentum  v' = μ·v + g;                 w' = w - lr·v'
//   adam      m' = β1·m + (1-β1)·g;         v' = β2·v + (1-β2)·g²
//             w' = w - lr·(m'/(1-β1ᵗ)) / (sqrt(v'/(1-β2ᵗ)) + ε)
//   adamw     as adam, then w' -= lr·λ·w for params of rank ≥ 2 (decoupled
//             weight decay; biases and norm gains are not decayed)
//
// where t = step + 1. Before that, gradients may be clipped to a global L2
// norm, and the learning rate follows linear warmup and cosine decay:
//
//   lr(t) = lr·(step+1)/max(warmup, step+1)                      step < warmup
//         = min_lr + ½(lr - min_lr)(1 + cos(π·progress))          after, with
//           progress = (step - warmup) / (total_steps - warmup)  clamped to [0, 1]
//
// Numeric hyperparameters are `hyper` leaves the executable sets each step
// (so `--lr` works without recompiling); `step` and `total_steps` come from
// the runtime too. The new values become graph updates: the runtime-visible
// buffers of w, m and v are overwritten in place at the end of the step.
//
// For data-parallel training the pass also builds @apply, the update alone
// on gradients the runtime supplies (addApplyGraph below).
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Builder.h"
#include "ir/Optimizers.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

namespace gradc {
namespace {

class OptimizerBuilder {
public:
  OptimizerBuilder(Module &m, Graph &g) : m(m), g(g), b(g) {
    b.loc = m.train.loc;
    b.prov = {Phase::Optimizer, "step", m.train.optimizer};
    // The shared scalars (learning rate, hyperparameters, the gradient
    // norm) in the widest float type of the params: f64 if any param is.
    // Each param's update casts them to its own type (splat).
    ft = DType::F32;
    for (Node *p : g.leaves(OpKind::Param))
      if (p->type.dtype == DType::F64) ft = DType::F64;
  }

  /// A scalar hyperparameter leaf with the source's value as its default.
  Node *hyper(llvm::StringRef name) {
    // Asked once per parameter: remembered, not looked up among every node
    // (quadratic in a deep model).
    Node *&h = hypers[name];
    if (!h) h = g.findLeaf(OpKind::Hyper, name);
    if (h) return h;
    Attrs a;
    a.set(AttrKey::Default, trainArg(m.train, name));
    return h = b.leaf(OpKind::Hyper, name, TensorType(ft, {}), std::move(a));
  }
  Node *scalar(double v) { return b.constant(v, TensorType(ft, {})); }
  /// Scalar s broadcast to the shape and float type of `like`.
  Node *splat(Node *s, Node *like) {
    if (s->type.dtype != like->type.dtype) s = b.cast(s, like->type.dtype);
    return b.broadcastTo(s, like->type.shape);
  }

  /// float(step) and float(total_steps), from the runtime.
  Node *stepCounter(llvm::StringRef name) {
    Node *h = g.findLeaf(OpKind::Hyper, name);
    if (!h) h = b.leaf(OpKind::Hyper, name, TensorType(DType::I32, {}));
    return b.cast(h, ft);
  }

  Node *learningRate() {
    b.prov.rule = "schedule";
    Node *lr = hyper("lr");
    Node *step = stepCounter("step");
    if (compilesHyper(m.train, "min_lr")) { // a cosine decay
      Node *minLr = hyper("min_lr"), *warmup = hyper("warmup");
      Node *total = stepCounter("total_steps");
      Node *span = b.binary(OpKind::Max, b.sub(total, warmup), scalar(1));
      Node *progress = b.div(b.sub(step, warmup), span);
      progress = b.binary(OpKind::Min, b.binary(OpKind::Max, progress, scalar(0)), scalar(1));
      Node *cosine = b.add(scalar(1), b.unary(OpKind::Cos, b.scale(progress, M_PI)));
      lr = b.add(minLr, b.mul(b.scale(b.sub(lr, minLr), 0.5), cosine));
    }
    // The ramp is compiled whenever `warmup` is a hyperparameter (cosine
    // decay reads it too), so `--hp warmup=N` on a model compiled without
    // warmup gets the whole schedule, not only cosine's shifted start.
    // max(warmup, step+1) is warmup on every ramp step of a whole warmup,
    // and never 0, so the branch not taken is never inf either.
    if (compilesHyper(m.train, "warmup")) {
      Node *warmup = hyper("warmup");
      Node *next = b.add(step, scalar(1));
      Node *ramp = b.div(b.mul(hyper("lr"), next), b.binary(OpKind::Max, warmup, next));
      lr = b.select(b.binary(OpKind::Lt, step, warmup), ramp, lr);
    }
    if (!lr->has(Leaf)) lr->name = "lr_t";
    return lr;
  }

  /// Scales every gradient so their global L2 norm is at most `clip`, or
  /// not at all when clip is 0 (`--hp clip=0`: off, as in the source).
  void clipGradients(std::vector<std::pair<Node *, Node *>> &pg) {
    b.prov = {Phase::Optimizer, "all gradients", "clip"};
    Node *sq = nullptr;
    for (auto &[p, gr] : pg) {
      std::vector<int64_t> axes;
      for (unsigned i = 0; i < gr->type.rank(); ++i) axes.push_back(i);
      Node *s = b.reshape(b.reduce(OpKind::ReduceSum, b.mul(gr, gr), axes), {});
      if (s->type.dtype != ft) s = b.cast(s, ft);
      sq = sq ? b.add(sq, s) : s;
    }
    Node *norm = b.unary(OpKind::Sqrt, sq);
    norm->name = "grad_norm";
    g.outputs.push_back({"grad_norm", norm});
    Node *clip = hyper("clip");
    Node *scale = b.binary(OpKind::Min, scalar(1), b.div(clip, b.add(norm, scalar(1e-6))));
    scale = b.select(b.binary(OpKind::Gt, clip, scalar(0)), scale, scalar(1));
    for (auto &[p, gr] : pg) gr = b.mul(gr, splat(scale, gr));
  }

  Node *state(Node *p, llvm::StringRef suffix) {
    Attrs a;
    a.set(AttrKey::Init, std::string("zeros"));
    std::string name = p->attrs.getString(AttrKey::Name).str() + "." + suffix.str();
    return b.leaf(OpKind::State, name, p->type, std::move(a));
  }

  void update(Node *target, Node *value, llvm::StringRef name) {
    value->name = name.str();
    g.updates.push_back({target, value});
  }

  llvm::Error build() {
    std::vector<std::pair<Node *, Node *>> pg;
    for (Node *p : g.leaves(OpKind::Param)) {
      Node *gr = g.output(grt::gradName(p->attrs.getString(AttrKey::Name)));
      if (!gr) return passError("optimizer: run autodiff first; no gradient for \"" + p->name + "\"");
      pg.push_back({p, gr});
    }
    if (compilesHyper(m.train, "clip")) clipGradients(pg);
    Node *lr = learningRate();
    const std::string &opt = m.train.optimizer;

    // Per-step scalars shared by every parameter.
    Node *corr1 = nullptr, *corr2 = nullptr;
    if (opt == "adam" || opt == "adamw") {
      b.prov = {Phase::Optimizer, "step", opt + ".bias_correction"};
      // 1 - βᵗ computed as 1 - exp(t·log β), t = step + 1.
      Node *t = b.add(stepCounter("step"), scalar(1));
      corr1 = b.sub(scalar(1), b.unary(OpKind::Exp, b.mul(t, b.unary(OpKind::Log, hyper("beta1")))));
      corr2 = b.sub(scalar(1), b.unary(OpKind::Exp, b.mul(t, b.unary(OpKind::Log, hyper("beta2")))));
    }

    for (auto &[p, gr] : pg) {
      std::string pname = p->attrs.getString(AttrKey::Name).str();
      b.loc = p->loc;
      b.prov = {Phase::Optimizer, pname, opt};
      Node *w = p;
      Node *lrw = splat(lr, w);
      if (opt == "sgd") {
        Node *stepDir = gr;
        if (compilesHyper(m.train, "momentum")) {
          Node *v = state(p, "momentum");
          Node *v2 = b.add(b.mul(splat(hyper("momentum"), w), v), gr);
          update(v, v2, pname + ".momentum.next");
          stepDir = v2;
        }
        update(p, b.sub(w, b.mul(lrw, stepDir)), pname + ".next");
        continue;
      }
      // adam / adamw
      Node *mstate = state(p, "adam_m"), *vstate = state(p, "adam_v");
      Node *b1 = splat(hyper("beta1"), w), *b2 = splat(hyper("beta2"), w);
      Node *one = b.constantLike(1, w);
      Node *m2 = b.add(b.mul(b1, mstate), b.mul(b.sub(one, b1), gr));
      Node *v2 = b.add(b.mul(b2, vstate), b.mul(b.sub(one, b2), b.mul(gr, gr)));
      Node *mhat = b.div(m2, splat(corr1, w));
      Node *vhat = b.div(v2, splat(corr2, w));
      Node *dir = b.div(mhat, b.add(b.unary(OpKind::Sqrt, vhat), splat(hyper("eps"), w)));
      Node *w2 = b.sub(w, b.mul(lrw, dir));
      if (decaysWeights(opt, p->type.rank()))
        w2 = b.sub(w2, b.mul(b.mul(lrw, splat(hyper("weight_decay"), w)), w));
      update(mstate, m2, pname + ".adam_m.next");
      update(vstate, v2, pname + ".adam_v.next");
      update(p, w2, pname + ".next");
    }
    g.outputs.push_back({"lr", lr});
    g.removeDeadNodes(); // e.g. the step counter, when no schedule reads it
    return llvm::Error::success();
  }

private:
  Module &m;
  Graph &g;
  Builder b;
  llvm::StringMap<Node *> hypers; // hyper(): the leaves made or found so far
  DType ft;
};

/// @apply, for data-parallel training: the same update, built on a graph of
/// its own from the params and one `gradient` leaf "grad.W" per param,
/// which the runtime fills with the gradients @grads computed, averaged
/// over the processes. Building it afresh rather than cutting @model at its
/// gradients keeps it right when a gradient *is* another leaf (the
/// gradient of sum(w * v) for w is v itself).
llvm::Error addApplyGraph(Module &m, const Graph &model) {
  Graph &g = m.addGraph("apply");
  Builder b(g);
  for (Node *p : model.leaves(OpKind::Param)) {
    std::string name = p->attrs.getString(AttrKey::Name).str();
    b.loc = p->loc;
    Attrs init;
    if (p->attrs.has(AttrKey::Init)) init.set(AttrKey::Init, p->attrs.getString(AttrKey::Init).str());
    b.leaf(OpKind::Param, name, p->type, std::move(init));
    g.outputs.push_back({grt::gradName(name), b.leaf(OpKind::Gradient, grt::gradName(name), p->type)});
  }
  if (auto err = OptimizerBuilder(m, g).build()) return err;
  std::erase_if(g.outputs, [](const GraphOutput &o) { return llvm::StringRef(o.name).starts_with(GRT_GRAD_PREFIX); });
  return llvm::Error::success();
}

} // namespace

llvm::Error runOptimizerLowering(Module &m, const PassOptions &opts) {
  Graph *g = m.graph("model");
  if (!g) return passError("optimizer: the module has no @model graph");
  if (m.train.optimizer.empty()) return passError("optimizer: the module has no train statement");
  if (!findOptimizer(m.train.optimizer)) return passError("optimizer: unknown optimizer '" + m.train.optimizer + "'");
  // Parameters the loss ignores are gone after autodiff: with none left
  // there is nothing to update, and the step only computes the loss.
  if (g->leaves(OpKind::Param).empty()) return llvm::Error::success();
  if (!g->updates.empty()) return passError("optimizer: @model already has updates");
  if (auto err = OptimizerBuilder(m, *g).build()) return err;
  return opts.dataParallel ? addApplyGraph(m, *g) : llvm::Error::success();
}

} // namespace gradc
