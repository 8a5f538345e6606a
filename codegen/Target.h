//===- codegen/Target.h - LLVM optimisation and machine code for the host -===//
#pragma once

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"

namespace gradc {

/// A target machine for the CPU gradc runs on, with all its features
/// (AVX-512 where present, AVX2 otherwise), tuned for speed.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createHostTargetMachine();

/// Verifies the module, stamps every function with the host CPU and its
/// preferred vector width, and runs LLVM's -O3 pipeline.
llvm::Error optimizeModule(llvm::Module &m, llvm::TargetMachine &tm);

/// Writes an object file (or, with `assembly`, the assembly text).
llvm::Error emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, llvm::raw_pwrite_stream &out, bool assembly);

/// Machine code for an optimised module as `parts` object files, made on
/// `parts` threads at once: the module is split by function (kernels call
/// nothing of each other's once optimised, so no inlining is lost), each
/// part goes through bitcode into a context of its own, and each thread has
/// its own target machine. Machine code is about two thirds of a GPT build.
/// parts = 1 is emitMachineCode on this thread.
llvm::Expected<std::vector<llvm::SmallVector<char, 0>>> emitObjects(llvm::Module &m, llvm::TargetMachine &tm,
                                                                     unsigned parts);

} // namespace gradc
