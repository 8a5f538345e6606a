//===- codegen/EmitModule.h - a compiled model as one LLVM module ---------===//
#pragma once

#include "codegen/LoopIR.h"
#include "codegen/Schedule.h"

#include "llvm/IR/Module.h"

namespace gradc {

/// The tensors the runtime allocates, in descriptor order.
struct SlotInfo {
  std::string name; // leaf name, or "output:NAME"
  int role;         // GrtRole
  TensorType type;
  std::string init;
  double defaultValue = 0;
  /// An i32 input used as indices: its values must lie in [0, indexLimit)
  /// (the rows of the table it gathers from, the classes of its one-hot);
  /// 0 when no use bounds it. The runtime refuses data outside it.
  int64_t indexLimit = 0;
  /// When the input's columns (the elements of one row) have different
  /// bounds: one per column, 0 for a column no use bounds; indexLimit is
  /// then 0.
  std::vector<int64_t> columnLimits;
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
};

/// The LLVM mirrors of the descriptor structs of runtime/include/gradrt/abi.h,
/// field by field (tests/unit/AbiLayoutTest.cpp holds their layout to the
/// C structs' offsetof and sizeof).
struct AbiTypes {
  llvm::StructType *tensor, *stored, *entry, *model;
};
AbiTypes abiTypes(llvm::LLVMContext &ctx);

/// Schedules every graph of a fused, memory-planned module into loop nests.
LoweredModel lowerToLoops(const Module &m, const ScheduleOptions &opts = {});

/// Emits the lowered model as LLVM IR, including the `gradc_model`
/// descriptor of runtime/include/gradrt/abi.h.
std::unique_ptr<llvm::Module> emitLLVM(const Module &m, const LoweredModel &lm, llvm::LLVMContext &ctx);

} // namespace gradc
