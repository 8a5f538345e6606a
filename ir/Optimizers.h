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

struct TrainSpec;

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

/// Whether the optimizer pass compiles numeric argument `arg` of train line
/// `t` into the training step as a hyper leaf. Some are left out at their
/// "off" value, so the step costs nothing for them: momentum and clip at 0,
/// warmup at 0 without a cosine decay, min_lr without one. (weight_decay
/// is read only where a param has rank 2 or more.) The pass decides by
/// this, and the verifier holds a module's train line to it (ir/Entries.cpp).
bool compilesHyper(const TrainSpec &t, llvm::StringRef arg);
/// Whether `optimizer` decays a param of this rank (decoupled weight decay,
/// whatever its gradient): adamw, params of rank 2 or more only, not biases
/// or norm gains. The optimizer pass builds the update by it, and the
/// front end's warning about params the loss does not train says it.
inline bool decaysWeights(llvm::StringRef optimizer, unsigned rank) { return optimizer == "adamw" && rank >= 2; }
/// The train line's value of numeric argument `arg`, or its default.
double trainArg(const TrainSpec &t, llvm::StringRef arg);
/// The train line's value of string argument `arg`, or its default.
std::string trainStrArg(const TrainSpec &t, llvm::StringRef arg);

} // namespace gradc
