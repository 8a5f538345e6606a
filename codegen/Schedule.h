//===- codegen/Schedule.h - from fused graph to loop nests ----------------===//
#pragma once

#include "codegen/LoopIR.h"

namespace gradc {

struct ScheduleOptions {
  /// Run an entry with little work in all on the calling thread only
  /// (codegen/Threading.cpp, kSerialEntryWork). The model generator's
  /// 1-vs-2-threads oracle turns it off, so its small models still run
  /// their big-enough kernels on threads.
  bool oneThreadSmallEntries = true;
  /// Compute only the columns of a slice group's product that an
  /// index-only mask lets its readers use (codegen/MaskedColumns.cpp).
  bool skipMaskedColumns = true;
  /// Start each buffer's base pointer at the first element its kernel
  /// touches (codegen/RebaseBuffers.cpp). Off only to compare.
  bool rebaseBuffers = true;
};

/// Turns every kernel of a fused, memory-planned graph into a loop nest, in
/// execution order, followed by the copies that put outputs and updates
/// into their slots when memory planning could not place them there.
std::vector<loops::Kernel> scheduleGraph(const Module &m, const Graph &g, const ScheduleOptions &opts = {});

} // namespace gradc
