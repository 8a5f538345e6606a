//===- codegen/SharedConstants.h - which constants a shared kernel reads ---===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/ADT/DenseSet.h"

namespace gradc::loops {

/// The constants of `k` that a kernel sharing its function with others may
/// read from memory (codegen/EmitModule.cpp), computing exactly the bits
/// LLVM computes with the constant in the code. See SharedConstants.cpp.
llvm::DenseSet<const Expr *> shareableConstants(const Kernel &k);

/// Whether 1/c, rounded to c's type, is a normal number: LLVM then makes a
/// division by c a multiplication by it, anywhere.
bool reciprocalIsNormal(const Expr *c);

} // namespace gradc::loops
