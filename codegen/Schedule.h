//===- codegen/Schedule.h - from fused graph to loop nests ----------------===//
#pragma once

#include "codegen/LoopIR.h"

namespace gradc {

/// Turns every kernel of a fused, memory-planned graph into a loop nest, in
/// execution order, followed by the copies that put outputs and updates
/// into their slots when memory planning could not place them there.
std::vector<loops::Kernel> scheduleGraph(const Module &m, const Graph &g);

} // namespace gradc
