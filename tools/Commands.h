//===- tools/Commands.h - what each gradc subcommand does -----------------===//
#pragma once

#include "Compiler.h"
#include "GradCheck.h"

namespace gradc {

/// A point in the compilation to print.
enum class Stage { Ast, Graph, Grad, Optim, Entries, Opt, Kernels, Loops, LLVMRaw, LLVM, Asm };

struct BuildOptions {
  std::string output;
  bool objectOnly = false;
  bool timePhases = false; // print how long each phase took
};

int buildCommand(const CompileOptions &o, const BuildOptions &b);
int dumpCommand(const CompileOptions &o, Stage stage);
/// Runs exactly `passes` (none: just parse and print) and prints the module.
int optCommand(const CompileOptions &o, const std::vector<std::string> &passes);
int dotCommand(const CompileOptions &o, Stage stage, llvm::StringRef graph);
int statsCommand(const CompileOptions &o);
int gradcheckCommand(const CompileOptions &o, const GradCheckOptions &g);

} // namespace gradc
