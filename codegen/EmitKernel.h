//===- codegen/EmitKernel.h - loop IR to LLVM IR ---------------------------===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/IR/Module.h"

namespace gradc {

/// Emits `k` as `void name(ptr args, i64 begin, i64 end)` into `m`. args
/// points at the kernel's buffer base pointers, in k.buffers order, then the
/// runtime context; [begin, end) is the part of a parallel outer loop to run
/// (ignored by serial kernels). Since the buffers are arguments, one
/// function serves every kernel with the same loops (the layers of a
/// network).
///
/// With `constants` (some of k's scalar constants), the function reads
/// those from memory instead of having them in its code, so that one
/// function serves kernels that differ only in them (an unrolled loop whose
/// steps each have their own time t; EmitModule.cpp decides). args then
/// holds, after the runtime context, a pointer to a `constantsType` struct.
///
/// `tailLanes` (the f32 lanes of a vector register; 0: never) decides which
/// short loops are vectorised with a mask on their last pass rather than
/// with a scalar remainder (KernelEmitter::foldsTail).
llvm::Function *emitKernel(llvm::Module &m, const loops::Kernel &k, llvm::StringRef name,
                           llvm::ArrayRef<loops::ShapeConstant> constants = {}, unsigned tailLanes = 0);

/// The struct a shared kernel reads its constants from: for each constant
/// its value, and for one the kernel divides by also its reciprocal (a
/// division by a constant is a multiplication by it, as LLVM makes it of a
/// constant in the code).
llvm::StructType *constantsType(llvm::LLVMContext &ctx, llvm::ArrayRef<loops::ShapeConstant> constants);
/// The values of `constants` (the same shape as those `ty` was made for).
llvm::Constant *constantsValue(llvm::StructType *ty, llvm::ArrayRef<loops::ShapeConstant> constants);

} // namespace gradc
