//===- codegen/MaskedColumns.h - products that skip masked columns -------===//
//
// A slice group's product whose columns are read only where an index
// condition holds (a causal mask: where(i >= j, s, -1e9)) computes only the
// columns some reader can use; one that reads a local that is zero outside
// such a condition (or checked at run time to be) skips its zero columns;
// the softmax's loops skip the masked columns too, and so does a product
// whose masked columns a row sum multiplies by zeros, once a bound shows
// them finite. See MaskedColumns.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "codegen/LoopIR.h"

namespace gradc {

/// Narrows every product in `group` (a slice group's loop, codegen/
/// Schedule.cpp) that stores a local no reader uses outside an index-only
/// select condition to the columns where that condition can hold, and
/// every product of a local that is zero outside one (or, checked at run
/// time, holds zeros there) to its other columns, then every loop over
/// such columns whose masked part is one value per row, and last every
/// product whose local a row sum reads in every column but multiplies by
/// zeros in the masked ones (under a run-time bound), per row block:
/// `blockVar` is the group's loop over row blocks (-1: none).
void narrowMaskedProducts(loops::Kernel &k, loops::Stmt &group, int blockVar);

} // namespace gradc
