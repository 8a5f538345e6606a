//===- passes/RowMeanCheck.cpp - is the loss a mean over the batch's rows? -===//
//
// Data-parallel training (--data-parallel) gives each of N processes B of
// the global batch's N·B rows and averages their gradients. That equals
// one process with the global batch only when the loss is a mean over rows
// (plus terms that do not read the data, such as weight decay):
//
//   mean:  (1/N) Σ_p (1/B) Σ_{r in p} f(r)  =  (1/NB) Σ_r f(r)       equal
//   sum:   (1/N) Σ_p Σ_{r in p} f(r)        =  (1/N)  Σ_r f(r)       N× too small
//
// A sum over rows trains with 1/N of the gradient, silently; so it is an
// error under --data-parallel. A loss that mixes rows otherwise (a maximum
// over rows, a function of a batch mean such as batch normalisation or
// log(mean(x))) is computed on each process's own rows: training works
// but differs from one process, and the pass warns.
//
// The labels (passes/RowLabels.h) say how each value of @model relates to
// the batch's rows.
//
// A metric that is not a mean over rows gets a warning, with or without
// --data-parallel: validation and eval average it over batches.
//
// The loss must be Inv or an Agg that is a mean. Terms added to the loss
// that read no parameter (sum(y) * 0.5, a constant of the data) are left
// out: they have no gradient, so however they mix rows, training on N
// processes is the same. Nothing is changed.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"
#include "passes/RowLabels.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/WithColor.h"

#include <cmath>

namespace gradc {
namespace {

std::string numberText(double v) {
  if (v == std::round(v) && std::fabs(v) < 1e15) return std::to_string(int64_t(v));
  return std::to_string(v);
}

/// The terms the loss adds up (through +, -, negation, casts and
/// reshapes), leaving out those that read no parameter: their gradient is
/// zero. A term whose label is fine needs no further look.
void gradientTerms(const Node *n, const llvm::DenseSet<const Node *> &readsParams, std::vector<const Node *> &out) {
  if (!readsParams.count(n)) return;
  if (n->is(OpKind::Add) || n->is(OpKind::Sub)) {
    for (const Node *o : n->operands) gradientTerms(o, readsParams, out);
    return;
  }
  if ((n->is(OpKind::Neg) || n->is(OpKind::Cast) || n->is(OpKind::Reshape)) && n->operand(0)->type.numel() == 1) {
    gradientTerms(n->operand(0), readsParams, out);
    return;
  }
  out.push_back(n);
}

/// Where an elementwise op pairs rows because its operands broadcast
/// against each other, the shapes before broadcasting, which is the usual
/// mistake: pred f32[B,1] - y f32[B] is f32[B,B], every prediction against
/// every target. "" otherwise.
std::string broadcastText(const Node *n, llvm::StringRef why) {
  // Only where rows meet other rows (a row minus the batch's mean is
  // broadcasting as meant).
  if (why != "pairs rows with other rows" || n->operands.size() != 2 || !n->has(Elementwise)) return "";
  auto before = [](const Node *o) { return o->is(OpKind::Broadcast) ? o->operand(0) : o; };
  const Node *a = before(n->operand(0)), *b = before(n->operand(1));
  if (a->type.shape == b->type.shape || a->type.rank() == 0 || b->type.rank() == 0) return "";
  return "; its operands " + sourceStr(a->type) + " and " + sourceStr(b->type) + " broadcast to " + sourceStr(n->type) +
         ": if one value per row was meant, give them the same shape";
}

} // namespace

llvm::Error runRowMeanCheck(Module &m, const PassOptions &opts) {
  auto it = llvm::find_if(m.graphs, [](auto &g) { return g->name == "model"; });
  if (it == m.graphs.end()) return llvm::Error::success();
  Graph &g = **it;
  std::vector<const GraphOutput *> metrics;
  for (const GraphOutput &o : g.outputs)
    if (llvm::StringRef(o.name).starts_with("metric.")) metrics.push_back(&o);
  Node *loss = g.output("loss");
  auto inputs = g.leaves(OpKind::Input);
  if (!loss || inputs.empty() || inputs[0]->type.rank() == 0) return llvm::Error::success();
  int64_t B = inputs[0]->type.shape[0];
  for (Node *in : inputs)
    if (in->type.rank() == 0 || in->type.shape[0] != B) return llvm::Error::success(); // rows unclear
  if (B == 1) return llvm::Error::success(); // a sum over one row is its mean

  // Validation and eval run with training() false; training, with it
  // true (a batch norm written with where(training(), ...) mixes rows in
  // training only).
  auto labels = rowLabels(g, B, /*training=*/false);
  llvm::DenseSet<const Node *> readsParams;
  for (auto &n : g.nodes)
    if (n->is(OpKind::Param) || llvm::any_of(n->operands, [&](const Node *o) { return readsParams.count(o); }))
      readsParams.insert(n.get());
  // Validation and eval average a metric over batches, weighted by their
  // rows: its value over the split only when it is a mean of per-row values.
  for (const GraphOutput *o : metrics) {
    const Label &ml = labels[o->value];
    if (ml.kind == Label::Inv || ml.kind == Label::Row || (ml.kind == Label::Agg && !ml.sum)) continue;
    llvm::StringRef name = llvm::StringRef(o->name).drop_front(7);
    auto warn = [&]() -> llvm::raw_ostream & { return llvm::WithColor::warning(opts.diagnostics() << where(m, ml.at)); };
    // A sum over rows is still exact, scaled: every batch has B rows (a
    // short one repeats its rows equally), so the weighted mean of the
    // batches' sums is B times the mean per row over the split.
    if (ml.kind == Label::Agg)
      warn() << "metric '" << name << "' sums over rows: validation and eval report " << B
             << " (the batch) times its mean per row over the whole split, not its sum over the split"
             << sourceWithCaret(m, ml.at) << "\n";
    else
      warn() << "metric '" << name << "' is not a mean of per-row values ('" << ml.at->info().mnemonic << "' " << ml.why
             << "): validation and eval report the mean of its value on each batch, not its value over the whole split"
             << sourceWithCaret(m, ml.at) << "\n";
  }
  // The loss is averaged the same way. A loss that pairs rows (a triplet
  // or contrastive loss) computed on a validation split of one row, its
  // batch padded with copies of that row, reported 0 with no word. (A
  // sum over rows averages fine: every batch has B rows.)
  const Label evalLoss = labels[loss];
  auto warnEvalLoss = [&] {
    const Label &ll = evalLoss;
    llvm::WithColor::warning(opts.diagnostics() << where(m, ll.at))
        << "the loss is not a mean of per-row values ('" << ll.at->info().mnemonic << "' " << ll.why
        << broadcastText(ll.at, ll.why) << "): validation and eval report the mean of its value on each batch, not its value over the whole split, "
           "and a batch the split is too short to fill is padded with copies of its rows"
        << sourceWithCaret(m, ll.at) << "\n";
  };
  if (!opts.lossMustBeRowMean) {
    if (evalLoss.kind == Label::Mixed) warnEvalLoss();
    return llvm::Error::success();
  }

  labels = rowLabels(g, B, /*training=*/true);
  // A factor that is a multiple of B and the row's own count reads either
  // way: the numbers cannot tell T from 2·B. Said, not refused, and the
  // loss's other terms are still looked at.
  auto ambiguous = [&](const Label &t) { return t.kind == Label::Agg && t.sum && t.byB && !t.pendingB && t.perRow; };
  auto warnAmbiguous = [&](const Label &t) {
    llvm::WithColor::warning(opts.diagnostics() << where(m, t.byB))
        << "the loss scales a mean by " << numberText(t.byBFactor) << ", the " << t.perRow << " elements each of the batch's "
        << B << " rows has and a multiple of the batch size. As the row's own count (a mean over rows of per-row sums) "
        << "it trains on N processes as one process does on their rows together; if it grows with the batch (a sum over "
        << "rows), --data-parallel would take 1/N of the gradient on N processes"
        << sourceWithCaret(m, t.byB) << "\n";
  };
  // The loss's label, unless a term with no gradient (or an ambiguous one)
  // is what spoils it: then the first term that matters and is not a mean
  // over rows, if any.
  Label l = labels[loss];
  if (l.kind == Label::Mixed || (l.kind == Label::Agg && l.sum)) {
    std::vector<const Node *> terms;
    gradientTerms(loss, readsParams, terms);
    l = {};
    for (const Node *t : terms) {
      const Label &tl = labels[t];
      if (ambiguous(tl)) {
        warnAmbiguous(tl);
        continue;
      }
      if (tl.kind == Label::Agg && tl.sum) {
        l = tl;
        break;
      }
      if (tl.kind == Label::Mixed && l.kind != Label::Mixed) l = tl;
    }
  }
  if (l.kind == Label::Agg && l.sum && l.byB && !l.pendingB) {
    std::string msg = ("the loss is a sum over the batch's " + llvm::Twine(B) + " rows written as a mean: it scales a " +
                       "mean over them by " + numberText(l.byBFactor) + ", a multiple of the batch size. " +
                       "--data-parallel averages the processes' gradients, so training would take 1/N of the " +
                       "gradient on N processes. Drop the factor, or make it one that does not grow with the batch")
                          .str();
    return errorAt(m, l.byB, msg);
  }
  if (l.kind == Label::Agg && l.sum) {
    std::string msg = ("the loss sums over the batch's " + llvm::Twine(B) + " rows (" + sourceStr(l.at->operand(0)->type) +
                       " -> " + sourceStr(l.at->type) +
                       "), but --data-parallel averages the processes' gradients, so training would take 1/N of "
                       "the gradient on N processes. Divide the sum by the number of rows (" +
                       llvm::Twine(B) + "), or use mean()")
                          .str();
    return errorAt(m, l.at, msg);
  }
  // Rows that mix in eval only (where(training(), 0.0, mean(x, 0, true)))
  // still make validation's figure a mean of batches: said as without
  // --data-parallel, where the training-side warning does not cover it.
  if (l.kind != Label::Mixed && evalLoss.kind == Label::Mixed) warnEvalLoss();
  if (l.kind == Label::Mixed)
    llvm::WithColor::warning(opts.diagnostics() << where(m, l.at))
        << "the loss is not a mean of per-row terms: '" << l.at->info().mnemonic << "' "
        << l.why << " (" << sourceStr(l.at->type) << broadcastText(l.at, l.why) << "). With --data-parallel each process computes it on its own "
        << "rows, so training differs from one process with the global batch" << sourceWithCaret(m, l.at) << "\n";
  return llvm::Error::success();
}

} // namespace gradc
