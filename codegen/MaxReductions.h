//===- codegen/MaxReductions.h - a row maximum's last step, shorter -------===//
//
// Rewrites LLVM's NaN-propagating maximum reductions, which the loop
// vectoriser leaves at the end of every row maximum, into an integer
// maximum of order-preserving keys plus a NaN test. Same results; about a
// third of the instructions on x86. See MaxReductions.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/IR/PassManager.h"

namespace gradc {

/// Replaces each llvm.vector.reduce.fmaximum in a function (run last in
/// the -O3 pipeline, after the loop vectoriser made them).
struct MaxReductionsPass : llvm::PassInfoMixin<MaxReductionsPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &fam);
};

} // namespace gradc
