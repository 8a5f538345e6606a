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
llvm::Function *emitKernel(llvm::Module &m, const loops::Kernel &k, llvm::StringRef name);

} // namespace gradc
