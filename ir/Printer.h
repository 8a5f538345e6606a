//===- ir/Printer.h - the text form of the IR -----------------------------===//
//
// The text form is what `gradc dump` shows and what `gradc opt` reads back
// (ir/Parser.h). One line per node:
//
//   %pred = add %3, %4 : f32[32,1] loc("linreg.grad":9:14)
//   %12 = mul %d.pred, %x : f32[32,1] loc("linreg.grad":9:10) grad("pred", "matmul.rhs")
//
// After fusion the graph opens with its kernel list (ir/Kernel.h), and each
// node computed by a kernel says which: `kernel(2)`; after memory planning,
// where it lives: `arena(128)`, `slot("w")` or `view`.
//
// `grad(of, rule)` marks a backward node: the forward value it differentiates
// and the gradient rule that made it; `optim(of, rule)` marks optimizer nodes.
// Comment lines (`//`) quote the source line a run of nodes came from; the
// parser skips them and the printer makes them again from the `source` table
// in the module header, so printing what was parsed gives the same text.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

namespace gradc {

struct PrintOptions {
  /// Quote source lines in comments above the nodes that came from them.
  bool sourceComments = true;
};

void print(const Module &m, llvm::raw_ostream &os, const PrintOptions &opts = {});
void print(const Module &m, const Graph &g, llvm::raw_ostream &os, const PrintOptions &opts = {});
std::string toString(const Module &m, const PrintOptions &opts = {});

/// The names the printer gives to a graph's values: the user's name where it
/// has one (made unique with .1, .2, ...), otherwise a number.
llvm::DenseMap<const Node *, std::string> valueNames(const Graph &g);

} // namespace gradc
