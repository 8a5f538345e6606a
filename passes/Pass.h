//===- passes/Pass.h - what a pass is -------------------------------------===//
//
// A pass transforms a Module in place. It reports user-facing problems (a
// missing gradient rule, say) as an llvm::Error; the pass manager verifies
// the module after every pass and treats a verifier failure as a compiler
// bug.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace gradc {

/// Knobs the passes read. Everything has a sensible default.
struct PassOptions {
  /// Test hook for the gradient checker: scale the gradient that the rule of
  /// this op (by mnemonic) produces by 1.5, so a check must catch it.
  std::string breakGradRule;
  /// Test hook: behave as if this op (by mnemonic) had no gradient rule.
  std::string missingGradRule;
  /// Also produce the entries gradient checking needs: @grads (loss and
  /// every parameter's gradient) and, for a model with stop_gradient,
  /// @capture and @frozen (the loss with stopped values held fixed).
  bool gradsEntry = false;
  /// Also produce the entries data-parallel training runs: @grads, and
  /// @apply, the optimizer update alone, reading each gradient from a
  /// `gradient` leaf (the runtime averages the processes' gradients between
  /// the two).
  bool dataParallel = false;
  /// Refuse a loss that sums over the batch's rows, and warn about one that
  /// mixes them otherwise (RowMeanCheck.cpp). `gradc build --data-parallel`
  /// sets it; the model generator builds @apply without it.
  bool lossMustBeRowMean = false;
  /// Leave out the passes' warnings and notes: `gradc stats` compiles the
  /// model again at each lower fusion level, and said each one per level.
  bool quiet = false;
  /// Where the passes' warnings and notes go.
  llvm::raw_ostream &diagnostics() const { return quiet ? llvm::nulls() : llvm::errs(); }
  /// Fusion: 0 keeps one kernel per op; 1 fuses elementwise chains and
  /// reductions; 2 also runs a matmul's elementwise consumers (bias,
  /// activation, residual add) as its epilogue; 3 (the default) also runs
  /// chains of batched products and loops slice by slice (SliceFusion.cpp).
  unsigned fusionLevel = 3;
  /// A slice group whose values of one slice, those only the group reads,
  /// take more than this many bytes (the group's scratch, about a core's
  /// L2: ir/Plan.h, kGroupScratchBytes) runs in row blocks that keep them
  /// within it (SliceFusion.cpp); but a block has at least
  /// sliceBlockMinRows rows, so that its products stay fast, and a block
  /// of that many rows stays in scratch even when it is bigger. The model
  /// generator lowers both to run its small models in blocks.
  int64_t sliceBlockBytes = 1024 * 1024;
  int64_t sliceBlockMinRows = 64;
  /// A group of a single slice ([1, 1, T, T]: one sequence, one head) runs
  /// in row blocks only when its values would take more than this many
  /// bytes whole. A group's slices are its unit of threads, so one slice
  /// in blocks runs on one thread; whole, its products and loops run on
  /// all threads, faster while the memory is there. The GPT with one head
  /// and B = 1 (n_embd 16, 1 layer, 2 threads): at T = 3001, 24 ms a step
  /// in 151 MiB whole against 40 ms in 28 MiB in blocks; at T = 8192,
  /// 203 ms in 1045 MiB against 307 ms in 62 MiB (medians of 7 alternating
  /// runs, AMD EPYC). The [T, T] values grow
  /// quadratically (T = 65536 would need 69 GB), the blocks linearly, so
  /// past 256 MiB (one [T, T] f32 value at T = 8192) memory wins.
  int64_t singleSliceBlockBytes = int64_t(256) << 20;
  /// Derive @step from @predict for a text model: the logits at one new
  /// position, with attention's keys and values cached (StepEntry.cpp).
  /// Auto (the default) does so when it can and quietly leaves @step out
  /// of a model that mixes positions otherwise; On reports why.
  enum class StepEntry : uint8_t { Off, Auto, On } stepEntry = StepEntry::Auto;
  /// How many sequences @step generates side by side (at most the batch).
  int64_t stepBatch = 1;
};

using PassFn = llvm::Error (*)(Module &, const PassOptions &);

// The passes, one file each; passes/Pipeline.cpp names and orders them.
llvm::Error runRowMeanCheck(Module &m, const PassOptions &o);
llvm::Error runAutodiff(Module &m, const PassOptions &o);
llvm::Error runOptimizerLowering(Module &m, const PassOptions &o);
llvm::Error runSplitEntries(Module &m, const PassOptions &o);
llvm::Error runStepEntry(Module &m, const PassOptions &o);
llvm::Error runConstantFold(Module &m, const PassOptions &o);
llvm::Error runOneHotProducts(Module &m, const PassOptions &o);
llvm::Error runMatvec(Module &m, const PassOptions &o);
llvm::Error runSimplify(Module &m, const PassOptions &o);
llvm::Error runCSE(Module &m, const PassOptions &o);
llvm::Error runDCE(Module &m, const PassOptions &o);
llvm::Error runRematerialize(Module &m, const PassOptions &o);
llvm::Error runSplitColumnSums(Module &m, const PassOptions &o);
llvm::Error runBlockLongSums(Module &m, const PassOptions &o);
llvm::Error runMergeScatterAdds(Module &m, const PassOptions &o);
llvm::Error runConcatPadSums(Module &m, const PassOptions &o);
llvm::Error runSplitWideConcats(Module &m, const PassOptions &o);
llvm::Error runFusion(Module &m, const PassOptions &o);
llvm::Error runSliceFusion(Module &m, const PassOptions &o);
llvm::Error runMemoryPlan(Module &m, const PassOptions &o);

/// An llvm::Error carrying a message for the user.
llvm::Error passError(const llvm::Twine &msg);
/// "file:line:col: " of node n, or "" where it has no location.
std::string where(const Module &m, const Node *n);
std::string where(const Module &m, const Location &l);
/// The source line of node n and a caret under its column, each on a line
/// of its own after a newline, or "" where it has no location.
std::string sourceWithCaret(const Module &m, const Node *n);
std::string sourceWithCaret(const Module &m, const Location &l);
/// A mistake in the user's model, found by a pass at a source location:
/// printed as `file:line:col: error: message` (then the source line and a
/// caret, if `msg` has them), as the front end prints its own.
class LocatedError : public llvm::ErrorInfo<LocatedError> {
public:
  static char ID;
  LocatedError(std::string where, std::string msg) : where(std::move(where)), msg(std::move(msg)) {}
  std::string where; // "file:line:col"
  std::string msg;
  void log(llvm::raw_ostream &os) const override { os << where << ": error: " << msg; }
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }
};
/// A LocatedError at node n, `msg` followed by its source line and caret
/// (a passError where n has no location).
llvm::Error errorAt(const Module &m, const Node *n, const std::string &msg);
/// The same at a source location (an `output` line).
llvm::Error errorAt(const Module &m, const Location &l, const std::string &msg);

} // namespace gradc
