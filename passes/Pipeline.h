//===- passes/Pipeline.h - the pass pipeline ------------------------------===//
//
// The compiler's middle end is one linear list of named passes (see
// defaultPipeline()). `gradc opt --passes=a,b,c` runs any list of them;
// `--print-before=NAME`, `--print-after=NAME` and `--print-after-all` watch
// the module between them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "passes/Pass.h"

#include <functional>

namespace gradc {

/// Called before and after each pass with the pass name.
using PassObserver = std::function<void(llvm::StringRef pass, bool after, const Module &m)>;

/// The passes `gradc build` runs, in order.
std::vector<std::string> defaultPipeline();

/// The part of the default pipeline a module has not been through yet, read
/// from its state (a module parsed from text may stop anywhere).
std::vector<std::string> remainingPipeline(const Module &m);

/// Runs the named passes in order, verifying the module after each one.
llvm::Error runPasses(Module &m, llvm::ArrayRef<std::string> passes, const PassOptions &opts,
                      const PassObserver &observe = nullptr);

} // namespace gradc
