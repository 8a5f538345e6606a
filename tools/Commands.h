//===- tools/Commands.h - what each gradc subcommand does -----------------===//
#pragma once

#include "Compiler.h"
#include "GradCheck.h"

namespace gradc {

struct BuildOptions {
  std::string output;
  bool objectOnly = false;
  bool timePhases = false; // print how long each phase took
  unsigned jobs = 0;       // machine-code threads; 0: the cores available
};

int buildCommand(const CompileOptions &o, const BuildOptions &b);
/// Prints stage `stage`: the result of that step of the pipeline.
int dumpCommand(const CompileOptions &o, const Step &stage);
/// Runs exactly `passes` (none: just parse and print) and prints the module.
int optCommand(const CompileOptions &o, const std::vector<std::string> &passes);
int dotCommand(const CompileOptions &o, const Step &stage, llvm::StringRef graph);
int statsCommand(const CompileOptions &o);
int gradcheckCommand(const CompileOptions &o, const GradCheckOptions &g);

} // namespace gradc
