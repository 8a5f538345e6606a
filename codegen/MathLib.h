//===- codegen/MathLib.h - exp, log, tanh and friends as inline IR --------===//
//
// Calls to libm cannot be vectorised, so the f32 functions the hot loops
// need (exp, log, tanh) are emitted inline as range reduction plus a
// polynomial: straight-line arithmetic the loop vectoriser turns into AVX
// code. Their error is a few ulp. f64 exists for gradient checking, where
// accuracy matters and speed does not, so f64 calls libm. sin and cos only
// appear in data generation and schedules, and use LLVM's intrinsics.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Ops.h"

#include "llvm/IR/IRBuilder.h"

namespace gradc {

/// Emits op(x) for a unary float op (Exp, Log, Tanh, Sqrt, Sin, Cos).
llvm::Value *emitMath(llvm::IRBuilder<> &b, OpKind op, llvm::Value *x);

} // namespace gradc
