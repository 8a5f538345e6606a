//===- codegen/EmitScalarOp.h - one element of an elementwise op ----------===//
//
// The lowering of every elementwise op to LLVM IR, one line per op in
// EmitScalarOp.cpp, beside its row in ir/Ops.def. The kernel emitter calls
// it for each Op expression of the loop IR, including index arithmetic.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/IR/IRBuilder.h"

namespace gradc {

/// Emits op `k` on `args` (already LLVM values). `type` is the result's
/// loop-IR type, `argType` the first operand's. Index arithmetic (loop
/// counters, addresses) never overflows and is marked so; i32 tensor
/// arithmetic wraps, and integer division by zero gives zero.
llvm::Value *emitScalarOp(llvm::IRBuilder<> &b, OpKind k, loops::Type type, loops::Type argType,
                          llvm::ArrayRef<llvm::Value *> args);

/// Whether op `k` has a lowering (every elementwise op must: a test checks).
bool hasScalarLowering(OpKind k);

} // namespace gradc
