//===- codegen/Threading.h - which loops run on the threads ---------------===//
#pragma once

#include "codegen/LoopIR.h"

#include <vector>

namespace gradc {

/// Sets `flag` (singleThreaded or oneThread) on every GEMM in `s`, itself
/// included, and in the statements nested in it.
void markGemms(loops::Stmt &s, bool loops::Stmt::*flag);

/// Marks the kernel's outermost loop parallel when that is safe and pays
/// (`matmul`: its GEMMs then run one per thread, each on one thread).
void parallelize(loops::Kernel &k, bool matmul);

/// For a whole entry, once its kernels are scheduled: one thread for an
/// entry with little work (when `oneThreadSmallEntries`), else runs of
/// small independent loops grouped into one parallel loop.
void chooseThreads(std::vector<loops::Kernel> &kernels, bool oneThreadSmallEntries);

} // namespace gradc
