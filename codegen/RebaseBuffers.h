//===- codegen/RebaseBuffers.h - base pointers at the first element read ---===//
#pragma once

#include "codegen/LoopIR.h"

namespace gradc::loops {

/// Moves each buffer's base pointer to the first element the kernel
/// touches, and takes that many elements off every address into it. See
/// RebaseBuffers.cpp.
void rebaseBuffers(Kernel &k);

} // namespace gradc::loops
