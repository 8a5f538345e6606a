//===- codegen/Target.h - LLVM optimisation and machine code for the host -===//
#pragma once

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"

namespace gradc {

/// A target machine for the CPU gradc runs on, with all its features
/// (AVX-512 where present, AVX2 otherwise), tuned for speed.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createHostTargetMachine();

/// How many f32 values the host's vector registers hold as the kernels use
/// them: 16 with AVX-512, 8 with AVX, 4 otherwise.
unsigned hostFloatLanes();

/// Verifies the module and stamps every function with the host CPU and its
/// preferred vector width.
llvm::Error prepareModule(llvm::Module &m, llvm::TargetMachine &tm);

/// prepareModule, then LLVM's -O3 pipeline.
llvm::Error optimizeModule(llvm::Module &m, llvm::TargetMachine &tm);

/// Writes an object file (or, with `assembly`, the assembly text).
llvm::Error emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, llvm::raw_pwrite_stream &out, bool assembly);

/// An unoptimised module optimised and made into machine code as `parts`
/// object files, on `parts` threads at once. The module is split by
/// function, each part goes through bitcode into a context of its own (an
/// LLVM context serves one thread at a time), and each thread has its own
/// target machine and runs optimizeModule's -O3 pipeline on its part, so
/// optimisation (a third of a GPT build) is parallel too.
///
/// Splitting first loses nothing: kernels are NoInline and call no function
/// of the module (exp, log and tanh are inline IR, codegen/MathLib.h), so
/// each kernel is optimised as in the whole module. What crosses parts is
/// the descriptor's pointers and the entries' calls of kernels, resolved by
/// the linker. The one difference: a kernel an entry calls directly (a tiny
/// one, not worth threads) no longer has its buffer pointers loaded by the
/// caller (argument promotion), two loads more per call; every other
/// kernel's machine code is the same instruction for instruction (compared
/// with objdump on the GPT). parts = 1 is optimizeModule and emitMachineCode
/// on this thread.
llvm::Expected<std::vector<llvm::SmallVector<char, 0>>> emitObjects(llvm::Module &m, llvm::TargetMachine &tm,
                                                                     unsigned parts);

} // namespace gradc
