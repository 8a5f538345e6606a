//===- ir/Optimizers.h - the optimizers a train statement can name --------===//
//
// The catalogue of optimizers and their arguments with defaults. The frontend
// checks `train adamw(lr = 1e-3, ...)` against it; the optimizer pass
// (passes/OptimizerLowering.cpp) gives each one its meaning as IR. Numeric
// arguments become hyperparameters the executable can override
// (`--lr 0.01`, `--hp beta2=0.95`); string arguments are fixed at build time.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace gradc {

struct OptimizerArg {
  llvm::StringRef name;
  double numDefault;           // for numeric arguments
  llvm::StringRef strDefault;  // non-empty: a string argument
  llvm::ArrayRef<llvm::StringRef> choices; // allowed strings
  llvm::StringRef help;
};

struct OptimizerInfo {
  llvm::StringRef name;
  llvm::StringRef help;
  llvm::ArrayRef<OptimizerArg> args;
};

llvm::ArrayRef<OptimizerInfo> optimizers();
const OptimizerInfo *findOptimizer(llvm::StringRef name);
const OptimizerArg *findArg(const OptimizerInfo &opt, llvm::StringRef name);
/// "sgd, adam, adamw", "lr, momentum, ...", "none, cosine": for messages.
std::string optimizerNames();
std::string argumentNames(const OptimizerInfo &opt);
std::string choiceNames(const OptimizerArg &arg);

} // namespace gradc
