//===- codegen/EmitModule.h - a compiled model as one LLVM module ---------===//
#pragma once

#include "codegen/LoopIR.h"
#include "codegen/Schedule.h"
#include "ir/IndexRanges.h"

#include "llvm/IR/Module.h"

namespace gradc {

/// The tensors the runtime allocates, in descriptor order.
struct SlotInfo {
  std::string name; // leaf name, or "output:NAME"
  int role;         // GrtRole
  TensorType type;
  std::string init;
  double defaultValue = 0;
  /// An i32 input used as indices: the values its uses can take
  /// (ir/IndexRanges.h), the same for every column, or one per column
  /// when they differ (`range` is then unbounded). The runtime refuses
  /// data outside them.
  IndexRange range;
  std::vector<IndexRange> columnRanges;
};

/// Everything codegen produced for one model, before LLVM: the runtime's
/// tensors and each entry's kernels (the `loops` dump prints this).
struct LoweredModel {
  std::vector<SlotInfo> slots;
  struct Entry {
    std::string name;
    std::vector<loops::Kernel> kernels;
    int64_t arenaBytes = 0;
  };
  std::vector<Entry> entries;
  /// An input no value of which every index use takes: onehot(y, 3) and
  /// onehot(y - 5, 3). The build refuses it, at `at`.
  struct RangeConflict {
    const Node *at;
    std::string msg;
  };
  std::vector<RangeConflict> rangeConflicts;
};

/// The LLVM mirrors of the descriptor structs of runtime/include/gradrt/abi.h,
/// field by field (tests/unit/AbiLayoutTest.cpp holds their layout to the
/// C structs' offsetof and sizeof).
struct AbiTypes {
  llvm::StructType *tensor, *stored, *entry, *model, *call, *callArg;
};
AbiTypes abiTypes(llvm::LLVMContext &ctx);

/// Schedules every graph of a fused, memory-planned module into loop nests.
LoweredModel lowerToLoops(const Module &m, const ScheduleOptions &opts = {});

struct EmitOptions {
  /// From this many kernels that differ only in their scalar constants
  /// (the steps of an unrolled loop, each with its own time t), they share
  /// one function that reads the constants from memory; 0: never. The
  /// results are the same bits in every model tried: constants LLVM would
  /// do more with in the code stay there (SharedConstants.cpp).
  size_t shareKernelsFrom = 4;
  /// An entry of at least this many kernels hands its calls to the runtime
  /// as a table (grt_run_calls) instead of making them in code; 0: never.
  size_t callTableFrom = 512;
  /// Short loops whose last elements would fill most of a vector are
  /// vectorised with a mask on their last pass, on AVX-512 (codegen/EmitKernel.cpp).
  bool foldTails = true;
};

/// Emits the lowered model as LLVM IR, including the `gradc_model`
/// descriptor of runtime/include/gradrt/abi.h.
std::unique_ptr<llvm::Module> emitLLVM(const Module &m, const LoweredModel &lm, llvm::LLVMContext &ctx,
                                       const EmitOptions &opts = {});

} // namespace gradc
