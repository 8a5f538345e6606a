//===- passes/Pipeline.h - the compilation pipeline, declared once --------===//
//
// gradc compiles in one linear list of named steps, from the source text to
// machine code (passes/Pipeline.cpp lists them). Everything that names a
// point in the compilation reads that list: `gradc dump --stage=NAME`,
// `gradc opt --passes=a,b,c` and `--list-passes`, `--print-after=NAME`,
// `gradc stats`, and the `after "STEP"` line of a .gir file, which records
// the last step a module has been through so that compiling it resumes
// there.
//
// Only the middle end's steps (kind Pass) transform the Module and are run
// here; the frontend and codegen steps are carried out by tools/Compiler.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "passes/Pass.h"

#include <functional>

namespace gradc {

struct Step {
  /// Who carries the step out. Each non-pass step has its own kind, so the
  /// driver dispatches on it rather than on names.
  enum Kind : uint8_t { Parse, Sema, Pass, Schedule, EmitLLVM, OptimizeLLVM, MachineCode } kind;
  llvm::StringRef name;  // "autodiff": what --passes, --print-after and `after` lines say
  llvm::StringRef stage; // "grad": the stage this step completes (--stage=), or empty
  llvm::StringRef summary;
  PassFn run = nullptr;  // kind Pass only
  /// A clean-up (a rewrite that leaves the IR in the form it found it): it
  /// may run out of pipeline order without changing the module's stage.
  bool cleanUp = false;
  /// A step that does nothing unless an option or the model asks for it
  /// (check-row-mean: --data-parallel; step-entry: a text model): a module
  /// that skipped it is still at the stage of the step before.
  bool optional = false;

  /// Whether the result of the step is a Module (printable as text IR).
  bool makesModule() const { return kind == Sema || kind == Pass; }
};

/// Every step, in the order gradc runs them.
llvm::ArrayRef<Step> pipeline();

/// The step called `name` (null: none), and the middle end pass called
/// `name` (null: no pass has that name).
const Step *findStep(llvm::StringRef name);
const Step *findPass(llvm::StringRef name);
/// The step that completes stage `stage` (null: no such stage).
const Step *findStage(llvm::StringRef stage);
/// The (first) step of a kind: stepOf(Step::Sema) is where a module from
/// a .grad source starts.
const Step &stepOf(Step::Kind kind);

/// The names of the steps whose result is a Module: what a .gir file's
/// `after` line may say.
std::vector<llvm::StringRef> moduleSteps();

/// The middle end passes `gradc build` runs, in order.
std::vector<std::string> defaultPipeline();

/// The passes after step `from` up to and including step `to` (to the end
/// of the middle end when null); none when `to` is not after `from`.
std::vector<std::string> passesBetween(const Step &from, const Step *to = nullptr);

/// Called before and after each pass with the pass name.
using PassObserver = std::function<void(llvm::StringRef pass, bool after, const Module &m)>;

/// Runs the named passes in order, verifying the module after each one. A
/// pass that is the next step of the pipeline after the module's stage
/// (Module::after) advances it; a pass run out of order leaves it alone, so
/// the stage always means "every step up to here has run".
llvm::Error runPasses(Module &m, llvm::ArrayRef<std::string> passes, const PassOptions &opts,
                      const PassObserver &observe = nullptr);

} // namespace gradc
