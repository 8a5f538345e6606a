//===- codegen/LoopGroups.h - independent loops run as one parallel loop --===//
#pragma once

#include "codegen/LoopIR.h"

#include <vector>

namespace gradc {

/// Marks runs of consecutive kernels that touch no memory another of them
/// writes, and that only loop (no matrix product, random fill or per-thread
/// scratch), to run as one parallel loop over all their elements
/// (Kernel::joinsPrevious). `parallelWork` is the least work such a run
/// must have in all to be worth handing to other threads.
void groupIndependentLoops(std::vector<loops::Kernel> &kernels, int64_t parallelWork);

} // namespace gradc
