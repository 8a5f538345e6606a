//===- passes/SplitEntries.cpp - one graph per entry point ----------------===//
//
// After autodiff and the optimizer, @model computes everything: loss,
// metrics, predictions, gradients and updates. The executable calls it in
// different ways, so this pass copies it into one graph per entry point and
// lets dead-code removal keep only what each needs:
//
//   @train    loss (and grad_norm, lr) + the parameter/state updates
//   @eval     loss and metrics, no gradients
//   @predict  the `output` values, from the inputs they depend on
//   @grads    loss and every gradient (only when asked: gradient checking
//             and data-parallel training, which also has @apply, built by
//             the optimizer pass)
//   @capture  the values under stop_gradient, and
//   @frozen   the loss with those values held fixed (gradient checking of a
//             model with stop_gradient; see addFrozenLoss in Autodiff.cpp)
//   @train_loss  the loss as @train computes it (gradient checking of a
//             model that uses training(), where @eval would differ)
//
// training() (dropout's switch) becomes the constant true in @train,
// @grads and the gradient-checking entries, false in @eval and @predict.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"
#include "passes/Rewrite.h"
#include "runtime/include/gradrt/abi.h"

namespace gradc {

llvm::Error runSplitEntries(Module &m, const PassOptions &opts) {
  Graph *model = m.graph("model");
  if (!model) return passError("split-entries: the module has no @model graph");
  bool usesTraining = model->findLeaf(OpKind::Hyper, kTrainingLeaf) != nullptr;
  auto keep = [&](llvm::StringRef name, auto pred, bool updates, bool training = true) {
    auto g = model->clone(name.str());
    std::erase_if(g->outputs, [&](const GraphOutput &o) { return !pred(llvm::StringRef(o.name)); });
    if (!updates) g->updates.clear();
    if (usesTraining)
      rewriteNodes(*g, [&](Builder &b, Node *n) -> Node * {
        bool isSwitch = n->is(OpKind::Hyper) && n->attrs.getString(AttrKey::Name) == kTrainingLeaf;
        return isSwitch ? b.constant(training ? 1 : 0, n->type) : nullptr;
      });
    g->removeDeadNodes();
    return g;
  };
  auto isGrad = [](llvm::StringRef n) { return n.starts_with(GRT_GRAD_PREFIX); };
  auto isMetric = [](llvm::StringRef n) { return n.starts_with(GRT_METRIC_PREFIX); };
  auto isCapture = [](llvm::StringRef n) { return n.starts_with(GRT_CAPTURE_PREFIX); };
  auto isCheck = [&](llvm::StringRef n) { return isCapture(n) || n == GRT_FROZEN_LOSS; };
  std::vector<std::unique_ptr<Graph>> entries;
  entries.push_back(keep("train", [&](llvm::StringRef n) { return n == "loss" || n == "grad_norm" || n == "lr"; }, true));
  entries.push_back(keep("eval", [&](llvm::StringRef n) { return n == "loss" || isMetric(n); }, false, false));
  auto predict = keep("predict", [&](llvm::StringRef n) {
    return n != "loss" && n != "grad_norm" && n != "lr" && !isGrad(n) && !isMetric(n) && !isCheck(n);
  }, false, false);
  if (!predict->outputs.empty()) entries.push_back(std::move(predict));
  if (opts.gradsEntry || opts.dataParallel)
    entries.push_back(keep(GRT_ENTRY_GRADS, [&](llvm::StringRef n) { return n == "loss" || isGrad(n); }, false));
  if (opts.gradsEntry && usesTraining)
    entries.push_back(keep(GRT_ENTRY_TRAIN_LOSS, [&](llvm::StringRef n) { return n == "loss"; }, false));
  if (model->output(GRT_FROZEN_LOSS)) {
    entries.push_back(keep(GRT_ENTRY_CAPTURE, isCapture, false));
    entries.push_back(keep(GRT_ENTRY_FROZEN, [&](llvm::StringRef n) { return n == GRT_FROZEN_LOSS; }, false));
  }

  // Replace @model in place, keeping the other graphs (e.g. @data) in order.
  auto it = std::find_if(m.graphs.begin(), m.graphs.end(), [](auto &g) { return g->name == "model"; });
  it = m.graphs.erase(it);
  for (auto &e : entries) it = std::next(m.graphs.insert(it, std::move(e)));
  return llvm::Error::success();
}

} // namespace gradc
