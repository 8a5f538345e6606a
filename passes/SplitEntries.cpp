//===- passes/SplitEntries.cpp - one graph per entry point ----------------===//
//
// After autodiff and the optimizer, @model computes everything: loss,
// metrics, predictions, gradients and updates. The executable calls it in
// different ways, so this pass copies it into one graph per entry point and
// lets dead-code removal keep only what each needs:
//
//   @train    loss (and grad_norm, lr) + the parameter/state updates
//   @eval     loss and metrics, no gradients
//   @predict  the `output` values that have a row per input row, from the
//             inputs they depend on (`predict` prints a line per row: a
//             param, or a sum over the batch, has none, even when its first
//             dimension happens to be B; rowLabels says which)
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
#include "passes/RowLabels.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/WithColor.h"

namespace gradc {
namespace {

/// Why output value v has no row per input row, or "" (it has one). A value
/// computed across rows (a batch norm's x - mean(x)) has rows, but each
/// depends on the others in its batch, the padding of the last included.
std::string noRowsReason(const llvm::DenseMap<const Node *, Label> &labels, const Node *v, int64_t B) {
  const Label &l = labels.lookup(v);
  // A param (or a view of one) is no prediction. A value computed from
  // params alone still is one, the same for every row: a model that
  // ignores its input (and sample says why such logits cannot continue a
  // prompt).
  const Node *leaf = v;
  while (leaf->is(OpKind::Reshape)) leaf = leaf->operand(0);
  if (l.kind == Label::Inv && leaf->has(OpTrait::Stateful))
    return "it is " + leaf->info().mnemonic.str() + " '" + leaf->attrs.getString(AttrKey::Name).str() + "'";
  if (l.kind == Label::Inv) return "";
  // A batch of one row: whatever sums or mixes its rows is that row's.
  if (B == 1) return "";
  if (l.kind == Label::Agg) return "it adds up over the batch's rows";
  if (l.kind == Label::Mixed)
    return "each of its rows depends on the batch's other rows: '" + l.at->info().mnemonic.str() + "' " + l.why;
  if (l.kind == Label::Row && l.positional)
    return "each row gets a term by its position in the batch at '" + l.positional->info().mnemonic.str() +
           "' (a param or constant with B rows), so two equal rows would get different outputs";
  if (l.kind == Label::Row && (l.axis != 0 || l.inner != 1))
    return "its rows lie along axis " + std::to_string(l.axis) +
           (l.inner != 1 ? ", " + std::to_string(l.inner) + " apart" : "");
  // Blocks of B rows one after another (concat([a, b], 0)): each input
  // row has several.
  if (l.kind == Label::Row && v->type.shape[0] != B)
    return "it has " + std::to_string(v->type.shape[0]) + " rows, " + std::to_string(v->type.shape[0] / B) +
           " for each input row";
  return "";
}

} // namespace

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
  // The rows are axis 0 of every input, when they share its size.
  llvm::DenseMap<const Node *, Label> labels;
  auto inputs = model->leaves(OpKind::Input);
  if (!inputs.empty() && llvm::all_of(inputs, [&](const Node *in) {
        return in->type.rank() >= 1 && in->type.shape[0] == inputs[0]->type.shape[0];
      }))
    labels = rowLabels(*model, inputs[0]->type.shape[0], /*training=*/false); // as @predict computes them
  llvm::StringSet<> rowless;
  for (const GraphOutput &o : model->outputs) {
    llvm::StringRef n = o.name;
    if (labels.empty() || n == "loss" || n == "grad_norm" || n == "lr" || isGrad(n) || isMetric(n) || isCheck(n))
      continue;
    if (std::string why = noRowsReason(labels, o.value, inputs[0]->type.shape[0]); !why.empty()) {
      rowless.insert(n);
      // At the `output` line (the value may be deep in a function).
      Location at = o.loc.known() ? o.loc : o.value->loc;
      m.rowlessOutputs[n.str()] = at;
      llvm::WithColor::note(opts.diagnostics() << where(m, at))
          << "output '" << n << "' (" << sourceStr(o.value->type) << ") has no row per input row (" << why
          << "), so `predict`, which prints one line per row, leaves it out"
          << (m.data.kind == DataSpec::Text && n == "logits" ? ", and `sample` cannot generate from it" : "")
          << sourceWithCaret(m, at) << "\n";
    }
  }
  auto predict = keep("predict", [&](llvm::StringRef n) {
    return n != "loss" && n != "grad_norm" && n != "lr" && !isGrad(n) && !isMetric(n) && !isCheck(n) && !rowless.contains(n);
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
