//===- ir/Dot.h - the IR as a Graphviz picture ----------------------------===//
//
// `gradc dot` writes this: one box per node labelled with its op and shape,
// coloured by phase (forward blue, backward orange, optimizer green), leaves
// as ellipses (params yellow), outputs as labels and in-place updates as
// dashed edges back to the param they overwrite. `dot -Tsvg` renders it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/Support/raw_ostream.h"

namespace gradc {

/// Draws every graph, or only the graph named `only`.
void printDot(const Module &m, llvm::raw_ostream &os, llvm::StringRef only = "");

} // namespace gradc
