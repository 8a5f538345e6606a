//===- codegen/MathLib.h - exp, log, tanh and friends as inline IR --------===//
//
// Calls to libm cannot be vectorised, so the f32 functions the hot loops
// need (exp, log, tanh, erf, log1p, expm1, sin, cos) are emitted inline as
// range reduction plus a polynomial: straight-line arithmetic the loop
// vectoriser turns into AVX code. Their error is a few ulp. f32 fmod (the
// `%` and `//` of floats) is inline and exact. In f64, exp, log, tanh,
// erf, sin and cos are inline as well (Cephes' double forms, within 2 ulp:
// an f64 model's tanh was a libm call per element), and log1p and expm1
// over them; f32 pow is inline too, and f64 pow and fmod call libm.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/IR/IRBuilder.h"

namespace gradc {

/// exp(x), log(x) and tanh(x) of a float or double: inline polynomials and
/// rational functions in both.
llvm::Value *mathExp(llvm::IRBuilder<> &b, llvm::Value *x);
llvm::Value *mathLog(llvm::IRBuilder<> &b, llvm::Value *x);
llvm::Value *mathTanh(llvm::IRBuilder<> &b, llvm::Value *x);
/// erf(x), log(1 + x) and exp(x) - 1, the same way.
llvm::Value *mathErf(llvm::IRBuilder<> &b, llvm::Value *x);
llvm::Value *mathLog1p(llvm::IRBuilder<> &b, llvm::Value *x);
llvm::Value *mathExpm1(llvm::IRBuilder<> &b, llvm::Value *x);
/// sin(x) and cos(x), the same way (f32 reduced in f64: see MathLib.cpp).
llvm::Value *mathSin(llvm::IRBuilder<> &b, llvm::Value *x);
llvm::Value *mathCos(llvm::IRBuilder<> &b, llvm::Value *x);
/// pow(x, y): in f32 computed in f64 and rounded once (see MathLib.cpp),
/// in f64 LLVM's pow (a libm call).
llvm::Value *mathPow(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *y);
/// fmod(x, y): in f32 exact straight-line arithmetic (see MathLib.cpp), in
/// f64 LLVM's frem (a libm call).
llvm::Value *mathFmod(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *y);

} // namespace gradc
