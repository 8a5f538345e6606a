//===- passes/Pipeline.cpp - the pass pipeline ----------------------------===//
#include "passes/Pipeline.h"

#include "ir/Verifier.h"

namespace gradc {

static const PassInfo kPasses[] = {
    {"autodiff", "derive the gradient of the loss w.r.t. every parameter (reverse mode)", runAutodiff},
    {"optimizer", "append the optimizer's parameter update to the training step", runOptimizerLowering},
    {"split-entries", "copy @model into one graph per entry point: @train, @eval, @predict", runSplitEntries},
    {"constfold", "replace ops on constants by their constant result", runConstantFold},
    {"matvec", "rewrite matrix products with a dimension of 1 as broadcast multiplies and reductions", runMatvec},
    {"simplify", "algebraic simplification (x*1, x+0, double transpose, ...)", runSimplify},
    {"cse", "merge nodes that compute the same value", runCSE},
    {"dce", "remove nodes no output or update needs", runDCE},
    {"fuse", "group nodes into kernels, one loop nest each", runFusion},
    {"plan-memory", "place stored values: in place, output slots, or arena offsets by liveness", runMemoryPlan},
};

llvm::ArrayRef<PassInfo> allPasses() { return kPasses; }

const PassInfo *findPass(llvm::StringRef name) {
  for (auto &p : kPasses)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> defaultPipeline() {
  return {"autodiff", "optimizer", "split-entries", "constfold", "matvec", "simplify", "cse", "dce", "fuse", "plan-memory"};
}

std::vector<std::string> remainingPipeline(const Module &m) {
  std::vector<std::string> all = defaultPipeline();
  auto from = [&](llvm::StringRef first) {
    auto it = std::find(all.begin(), all.end(), first.str());
    return std::vector<std::string>(it, all.end());
  };
  if (const Graph *model = m.graph("model")) {
    if (!llvm::any_of(model->outputs, [](auto &o) { return llvm::StringRef(o.name).starts_with("grad."); }))
      return from("autodiff");
    return model->updates.empty() ? from("optimizer") : from("split-entries");
  }
  bool fused = false, planned = false;
  for (auto &g : m.graphs)
    for (auto &n : g->nodes) {
      fused |= n->kernel >= 0;
      planned |= n->kernel >= 0 && n->storage.kind != Storage::None;
    }
  if (planned) return {};
  return fused ? from("plan-memory") : from("constfold");
}

llvm::Error runPasses(Module &m, llvm::ArrayRef<std::string> passes, const PassOptions &opts,
                      const PassObserver &observe) {
  for (const std::string &name : passes) {
    const PassInfo *p = findPass(name);
    if (!p) {
      std::string names;
      for (auto &q : kPasses) names += (names.empty() ? "" : ", ") + q.name.str();
      return passError("unknown pass '" + name + "'; passes: " + names);
    }
    if (observe) observe(name, false, m);
    if (auto err = p->run(m, opts)) return err;
    auto problems = verify(m);
    if (!problems.empty()) {
      std::string msg = "internal error: the IR is invalid after pass '" + name + "':";
      for (auto &e : problems) msg += "\n  " + e;
      return passError(msg);
    }
    if (observe) observe(name, true, m);
  }
  return llvm::Error::success();
}

} // namespace gradc
