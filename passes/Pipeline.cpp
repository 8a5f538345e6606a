//===- passes/Pipeline.cpp - the compilation pipeline, declared once ------===//
#include "passes/Pipeline.h"

#include "ir/Verifier.h"

#include "llvm/Support/WithColor.h"

#include <algorithm>

namespace gradc {

char LocatedError::ID = 0;

llvm::Error passError(const llvm::Twine &msg) { return llvm::createStringError(llvm::inconvertibleErrorCode(), msg); }

std::string where(const Module &m, const Location &l) { return l.known() ? m.locStr(l) + ": " : std::string(); }
std::string where(const Module &m, const Node *n) { return where(m, n->loc); }

std::string sourceWithCaret(const Module &m, const Node *n) { return sourceWithCaret(m, n->loc); }

std::string sourceWithCaret(const Module &m, const Location &loc) {
  if (!loc.known()) return "";
  // The line as written, indentation and all (the column counts it); it
  // is quoted without the indentation, so the caret moves left with it (it
  // sat under a later character, by the indentation's width).
  llvm::StringRef written = m.sourceLine(loc);
  llvm::StringRef line = written.ltrim();
  if (line.empty()) return "";
  size_t indent = written.size() - line.size();
  size_t at = loc.col > indent ? std::min<size_t>(loc.col - 1 - indent, line.size()) : 0;
  // A tab before the caret stays a tab, so the caret lines up with it.
  std::string pad;
  for (char c : line.take_front(at)) pad += c == '\t' ? '\t' : ' ';
  return "\n  " + line.str() + "\n  " + pad + "^";
}

llvm::Error errorAt(const Module &m, const Location &l, const std::string &msg) {
  if (!l.known()) return passError(msg);
  return llvm::make_error<LocatedError>(m.locStr(l), msg + sourceWithCaret(m, l));
}

llvm::Error errorAt(const Module &m, const Node *n, const std::string &msg) { return errorAt(m, n->loc, msg); }

// The whole compilation, in order. A stage is the result of the step that
// names it: `gradc dump --stage=opt` prints the module after dce, having run
// every step above it.
static constexpr Step kPipeline[] = {
    // kind              step             stage       what it does
    {Step::Parse,        "parse",         "ast",      "read the source into a syntax tree"},
    {Step::Sema,         "sema",          "graph",    "resolve names, check shapes and types, build the forward graph @model"},
    {Step::Pass,         "check-row-mean", "",        "with --data-parallel: check the loss is a mean over the batch's rows, as averaging gradients assumes; warn of metrics that are not", runRowMeanCheck, true, true},
    {Step::Pass,         "autodiff",      "grad",     "derive the gradient of the loss w.r.t. every parameter (reverse mode)", runAutodiff},
    {Step::Pass,         "optimizer",     "optim",    "append the optimizer's parameter update to the training step", runOptimizerLowering},
    {Step::Pass,         "split-entries", "entries",  "copy @model into one graph per entry point: @train, @eval, @predict", runSplitEntries},
    {Step::Pass,         "step-entry",    "",         "derive @step from @predict (text models): one new position, keys and values cached", runStepEntry, false, true},
    {Step::Pass,         "constfold",     "",         "replace ops on constants by their constant result", runConstantFold, true},
    {Step::Pass,         "onehot-products", "",   "rewrite products with a one-hot matrix as lookups: onehot(i, N) @ t as gather(t, i), its transpose @ m as scatter_add(i, m)", runOneHotProducts},
    {Step::Pass,         "matvec",        "",         "rewrite matrix products with a side of 4 or less as broadcast multiplies and reductions", runMatvec},
    {Step::Pass,         "simplify",      "",         "algebraic simplification (x*1, x+0, double transpose, ...)", runSimplify, true},
    {Step::Pass,         "cse",           "",         "merge nodes that compute the same value", runCSE, true},
    {Step::Pass,         "dce",           "opt",      "remove nodes no output or update needs", runDCE, true},
    {Step::Pass,         "rematerialize", "",         "recompute for the backward pass what one batched product, or one cheap op of a kept value, makes (attention's probabilities)", runRematerialize},
    {Step::Pass,         "split-column-sums", "",     "sum column reductions by their first axis first, so threads split them by rows as the kernels before did", runSplitColumnSums},
    {Step::Pass,         "block-long-sums", "",       "add long column sums (millions of rows) in blocks of rows, then the block sums: f32 keeps its digits", runBlockLongSums},
    {Step::Pass,         "merge-scatter-adds", "",    "make a sum of scatter_adds (the gradients of many lookups in one table) one scatter_add over all their rows", runMergeScatterAdds},
    {Step::Pass,         "concat-pad-sums", "",       "make a sum of more than 8 pads (the gradient of many slices of one value) a concat of their pieces and zeros, so no loop tests every pad", runConcatPadSums},
    {Step::Pass,         "split-wide-concats", "",    "make a concat of more than 8 parts a tree of concats of at most 8, which fusion stores level by level", runSplitWideConcats},
    {Step::Pass,         "fuse",          "",         "group nodes into kernels, one loop nest each", runFusion},
    {Step::Pass,         "fuse-slices",   "",         "run chains of batched products and loops slice by slice (attention), in blocks of rows where a slice outgrows its scratch", runSliceFusion},
    {Step::Pass,         "plan-memory",   "kernels",  "place stored values: in place, output slots, or arena offsets by liveness (an epilogue output over its product)", runMemoryPlan},
    {Step::Schedule,     "schedule",      "loops",    "turn each kernel into a loop nest"},
    {Step::EmitLLVM,     "emit-llvm",     "llvm-raw", "emit LLVM IR for the loop nests and the model descriptor"},
    {Step::OptimizeLLVM, "optimize-llvm", "llvm",     "run LLVM's optimiser for this CPU"},
    {Step::MachineCode,  "machine-code",  "asm",      "emit machine code for this CPU"},
};

llvm::ArrayRef<Step> pipeline() { return kPipeline; }

const Step *findStep(llvm::StringRef name) {
  for (const Step &s : kPipeline)
    if (s.name == name) return &s;
  return nullptr;
}

const Step *findPass(llvm::StringRef name) {
  const Step *s = findStep(name);
  return s && s->kind == Step::Pass ? s : nullptr;
}

const Step *findStage(llvm::StringRef stage) {
  for (const Step &s : kPipeline)
    if (!stage.empty() && s.stage == stage) return &s;
  return nullptr;
}

const Step &stepOf(Step::Kind kind) {
  return *llvm::find_if(kPipeline, [&](const Step &s) { return s.kind == kind; });
}

std::vector<llvm::StringRef> moduleSteps() {
  std::vector<llvm::StringRef> names;
  for (const Step &s : kPipeline)
    if (s.makesModule()) names.push_back(s.name);
  return names;
}

std::vector<std::string> defaultPipeline() {
  std::vector<std::string> names;
  for (const Step &s : kPipeline)
    if (s.kind == Step::Pass) names.push_back(s.name.str());
  return names;
}

std::vector<std::string> passesBetween(const Step &from, const Step *to) {
  std::vector<std::string> names;
  for (const Step *s = &from + 1; s < std::end(kPipeline) && (!to || s <= to); ++s)
    if (s->kind == Step::Pass) names.push_back(s->name.str());
  return names;
}

llvm::Error runPasses(Module &m, llvm::ArrayRef<std::string> passes, const PassOptions &opts,
                      const PassObserver &observe) {
  for (const std::string &name : passes) {
    const Step *p = findPass(name);
    if (!p) {
      std::string names;
      for (const std::string &q : defaultPipeline()) names += (names.empty() ? "" : ", ") + q;
      return passError("unknown pass '" + name + "'; passes: " + names);
    }
    if (observe) observe(name, false, m);
    // `gradc opt` runs any list of passes. One that is not the next of the
    // pipeline after the module's stage may meet IR it was not written for:
    // what it leaves invalid is then the list's doing, not a bug, and the
    // module no longer has a stage of the pipeline (a build must not resume
    // it as if the passes in between had run).
    const Step *at = findStep(m.after);
    // The next step, past optional ones the module skipped (autodiff on a
    // module after sema, without --data-parallel's check-row-mean).
    bool next = at && at < p && std::all_of(at + 1, p, [](const Step &s) { return s.optional; });
    // Graphs with kernels, before and after: see the stage below.
    auto fusedGraphs = [&] { return llvm::count_if(m.graphs, [](auto &g) { return g->numKernels() > 0; }); };
    auto fusedBefore = fusedGraphs();
    if (auto err = p->run(m, opts)) return err;
    auto problems = verify(m);
    if (!problems.empty()) {
      std::string msg = next ? "internal error: the IR is invalid after pass '" + name + "':"
                             : "pass '" + name + "' does not apply to IR " +
                                   (at ? "after '" + at->name.str() + "'" : std::string("of unknown stage")) +
                                   " (passes run in the order gradc opt --list-passes shows); it left the IR invalid:";
      for (auto &e : problems) msg += "\n  " + e;
      return passError(msg);
    }
    // The stage means "every step up to here has run". A clean-up out of
    // order (Step::cleanUp: constfold, simplify, cse, dce, and check-row-mean,
    // which changes nothing) keeps it; any
    // other pass out of order leaves the module without one.
    // A clean-up that rewrote fused graphs (cse merging values across
    // kernels) drops their kernels and memory plan: the module is no
    // longer at its stage, and must not claim it (it read back as "graph
    // @train has no kernels").
    if (next) {
      m.after = p->name.str();
    } else if (!p->cleanUp || fusedGraphs() < fusedBefore) {
      // Said, not only done: `gradc opt --passes=fuse` on a module after
      // sema exited 0, and the build of its output then asked for an
      // `after` line as if the file had lost one.
      if (!m.after.empty()) {
        const Step *due = at ? std::find_if(at + 1, std::end(kPipeline),
                                            [](const Step &s) { return s.kind == Step::Pass && !s.optional; })
                             : nullptr;
        llvm::WithColor::warning(opts.diagnostics(), "gradc")
            << "pass '" << name << "' is out of the pipeline's order: the module was after '" << m.after << "'"
            << (due && due != std::end(kPipeline) ? ", and the next pass is '" + due->name.str() + "'" : std::string())
            << " (gradc opt --list-passes gives the order); its output claims no stage, so gradc build will not "
               "resume it\n";
      }
      m.after.clear();
    }
    if (observe) observe(name, true, m);
  }
  return llvm::Error::success();
}

} // namespace gradc
