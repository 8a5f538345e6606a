//===- ir/Entries.cpp - what each graph of a module may do at run time ----===//
#include "ir/Entries.h"

#include "ir/Declarations.h"
#include "ir/Optimizers.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

namespace gradc {
namespace {

/// The entries that only read tensors (passes/SplitEntries.cpp drops their
/// updates): the runtime calls them between training steps and during
/// gradient checking, and expects the weights unchanged.
const llvm::StringRef kReadOnly[] = {"eval", "predict", GRT_ENTRY_GRADS, GRT_ENTRY_TRAIN_LOSS, GRT_ENTRY_CAPTURE,
                                     GRT_ENTRY_FROZEN};

class EntryChecker {
public:
  explicit EntryChecker(const Module &m) : m(m), opt(findOptimizer(m.train.optimizer)) {}

  std::vector<Problem> run() {
    for (auto &g : m.graphs) {
      if (!g->updates.empty() && llvm::is_contained(kReadOnly, g->name))
        report(*g, nullptr, "it updates \"" + g->updates[0].target->attrs.getString(AttrKey::Name).str() +
                                "\", but @" + g->name + " only reads tensors: the training step alone changes them", 0);
      llvm::StringSet<> hypers;
      for (const Node *h : g->leaves(OpKind::Hyper)) {
        hyper(*g, h);
        hypers.insert(h->attrs.getString(AttrKey::Name));
      }
      if (!g->updates.empty()) compiledHypers(*g, hypers);
    }
    trainedParams();
    return std::move(problems);
  }

private:
  void report(const Graph &g, const Node *n, const std::string &msg, int update = -1) {
    problems.push_back({"graph @" + g.name + ": " + msg, &g, n, -1, update});
  }

  /// The runtime sets each hyper leaf by name, to one number: the step
  /// counters, dropout's seed and switch, and the optimizer's numeric
  /// arguments, which start at the value the train line gives (the
  /// optimizer pass copies it into the leaf's default).
  void hyper(const Graph &g, const Node *h) {
    llvm::StringRef name = h->attrs.getString(AttrKey::Name);
    std::string what = "hyper " + quotedName(name);
    if (!h->type.isScalar()) report(g, h, what + " is " + str(h->type) + ", but the runtime sets a hyperparameter to one number");
    if (name == "step" || name == "total_steps" || name == "seed" || name == kTrainingLeaf) return;
    const OptimizerArg *arg = opt ? findArg(*opt, name) : nullptr;
    if (!arg || !arg->strDefault.empty()) {
      std::string known;
      for (auto &a : opt ? opt->args : llvm::ArrayRef<OptimizerArg>())
        if (a.strDefault.empty()) known += (known.empty() ? opt->name.str() + "'s " : ", ") + a.name.str();
      report(g, h, what + " is not a value the runtime sets: " + (known.empty() ? "" : known + ", ") +
                       "step, total_steps, seed and training");
      return;
    }
    double given = arg->numDefault;
    for (auto &[k, v] : m.train.args)
      if (k == name && std::holds_alternative<double>(v)) given = std::get<double>(v);
    double dflt = h->attrs.getFloat(AttrKey::Default, 0);
    if (!(dflt == given))
      report(g, h, what + " starts at " + attrValueStr(dflt) + ", but the module's train line gives " + name.str() + " = " +
                       attrValueStr(given));
  }

  /// A training step reads exactly the hyperparameters its train line
  /// compiles (compilesHyper): a train line edited to `momentum = 0.9` over
  /// a step built without momentum made `info` claim an optimizer the step
  /// does not run.
  void compiledHypers(const Graph &g, const llvm::StringSet<> &hypers) {
    if (!opt || !hypers.contains("lr")) return; // not (yet) a step
    for (const OptimizerArg &a : opt->args) {
      if (!a.strDefault.empty() || a.name == "weight_decay") continue;
      bool compiled = compilesHyper(m.train, a.name), read = hypers.contains(a.name);
      if (compiled == read) continue;
      std::string given = a.name.str() + " = " + attrValueStr(trainArg(m.train, a.name));
      std::string decay = "decay = " + trainStrArg(m.train, "decay");
      if (a.name == "min_lr") given = decay;
      else if (a.name == "warmup") given += " and " + decay;
      report(g, nullptr,
             read ? "it reads hyper " + quotedName(a.name) + ", but the module's train line gives " + given +
                        ", which the optimizer pass leaves out of the step"
                  : "the module's train line gives " + given + ", but the step reads no hyper " + quotedName(a.name) +
                        ": it was built without it");
    }
  }

  /// Once the optimizer has run, the training step updates every
  /// parameter: one it left out (or one only another entry reads) never
  /// trains.
  void trainedParams() {
    const Graph *step = m.graph("train");
    if (!step) step = m.graph("model");
    if (!step || step->updates.empty() || !opt) return;
    llvm::StringSet<> updated;
    for (auto &u : step->updates) updated.insert(u.target->attrs.getString(AttrKey::Name));
    llvm::StringSet<> reported;
    for (auto &g : m.graphs)
      for (const Node *p : g->leaves(OpKind::Param)) {
        llvm::StringRef name = p->attrs.getString(AttrKey::Name);
        if (!updated.contains(name) && reported.insert(name).second)
          report(*g, p, "param " + quotedName(name) + " is never trained: @" + step->name + " does not update it");
      }
  }

  const Module &m;
  const OptimizerInfo *opt;
  std::vector<Problem> problems;
};

} // namespace

std::vector<Problem> entryProblems(const Module &m) { return EntryChecker(m).run(); }

} // namespace gradc
