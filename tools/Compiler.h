//===- tools/Compiler.h - the compilation stages, as gradc runs them ------===//
//
// One object per compilation: source -> module -> pipeline -> loops -> LLVM
// -> machine code. Each subcommand runs as many stages as it needs, and any
// stage can be printed (`gradc dump --stage=...`).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <functional>

#include "codegen/EmitModule.h"
#include "codegen/Jit.h"
#include "frontend/Frontend.h"
#include "passes/Pipeline.h"

#include "llvm/Target/TargetMachine.h"

#include <set>
#include <string>

#include "runtime/include/gradrt/abi.h"

namespace gradc {

struct CompileOptions {
  std::string input;
  SemaOptions sema;
  PassOptions passes;
  ScheduleOptions schedule;
  EmitOptions emit;
  std::vector<std::string> printBefore, printAfter;
  bool printAfterAll = false;
};

class Compiler {
public:
  /// Source diagnostics go to `diagnostics` (stderr by default).
  explicit Compiler(CompileOptions opts, llvm::raw_ostream &diagnostics = llvm::errs())
      : opts(std::move(opts)), frontend(diagnostics) {}

  /// Parses and analyses the input file (or `source`, when given, named
  /// opts.input in messages); false after reporting errors.
  bool load(llvm::StringRef source = {});
  /// Runs the passes of the pipeline that the module has not been through
  /// (Module::after: all of them for .grad input), up to and including step
  /// `last` (to the end of the middle end when null); false after reporting
  /// errors, among them text IR that does not say its stage.
  bool runPipeline(const Step *last = nullptr);
  /// Runs exactly these passes.
  bool runPasses(llvm::ArrayRef<std::string> passes);
  /// Whether the loaded input is text IR: a .gir file, or text beginning
  /// with `module NAME` from standard input or a file named otherwise.
  bool isTextIR() const;
  /// The loaded input's text (empty before load).
  llvm::StringRef sourceText() const;
  /// For text IR that is to become an executable: every graph is one the
  /// pipeline or the runtime knows by name (@model and @data before
  /// split-entries; @train, @eval, ... after). `gradc opt` takes any name;
  /// an executable built with @evil for @eval had no eval command.
  bool checkEntryNames();
  /// Turns every kernel into a loop nest.
  bool schedule();
  /// Emits LLVM IR (unoptimised), scheduling first if needed.
  bool lower();
  /// Makes the target machine for the host CPU (once).
  bool createTarget();
  /// Runs LLVM's optimiser for the host CPU.
  bool optimize();
  /// Writes an object file, or assembly text.
  bool emit(llvm::raw_pwrite_stream &os, bool assembly);

  /// Compiles the optimised module into this process and returns its
  /// descriptor (the `gradc_model` symbol).
  const GrtModel *jit();

  /// Called before each pass runs, with its name (build's progress lines).
  std::function<void(llvm::StringRef pass)> onPass;

  /// Reports an error from a stage: "gradc: error: ..." on stderr.
  void report(llvm::Error err);

  /// The passes any Compiler of this process has run, for the warning
  /// that a --print-after or --print-before pass never ran.
  static const std::set<std::string> &passesRun();

  CompileOptions opts;
  Frontend frontend;
  std::unique_ptr<Module> module;
  LoweredModel loops;
  std::unique_ptr<llvm::LLVMContext> llvmContext;
  std::unique_ptr<llvm::Module> llvmModule;
  std::unique_ptr<llvm::TargetMachine> target;
  std::unique_ptr<JitModel> jitModel;
};

} // namespace gradc
