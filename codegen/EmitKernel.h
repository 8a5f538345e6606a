//===- codegen/EmitKernel.h - loop IR to LLVM IR ---------------------------===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/IR/Module.h"

#include <map>

namespace gradc {

/// Emits `k` as `void name(ptr env, i64 begin, i64 end)` into `m`, where env
/// points at {slots, arena, ctx} and [begin, end) is the part of a parallel
/// outer loop to run (ignored by serial kernels).
/// `slotIndex` maps a slot name to its index in the descriptor's tensors.
llvm::Function *emitKernel(llvm::Module &m, const loops::Kernel &k, const std::map<std::string, int> &slotIndex);

} // namespace gradc
