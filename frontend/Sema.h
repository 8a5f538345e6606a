//===- frontend/Sema.h - from syntax tree to graph IR ---------------------===//
//
// Semantic analysis runs the model's source at compile time: constants are
// evaluated, functions are inlined, `for` loops are unrolled, and every tensor
// operation becomes a node of the graph IR with a checked dtype and static
// shape. Mistakes are reported with file:line:col, the source line, a caret
// and the shapes involved; analysis continues after an error so one run
// reports them all.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "ir/Graph.h"

#include <map>

namespace gradc {

struct SemaOptions {
  /// `-D NAME=VALUE`: overrides of top-level constants.
  std::vector<std::pair<std::string, std::string>> defines;
  /// The dtype `f32` in the source stands for (f64 for gradient checks).
  DType floatType = DType::F32;
};

/// Builds the module of the one model in `user`. Functions of `prelude` are
/// visible to the model. Returns null when any error was reported.
std::unique_ptr<Module> buildModule(const ast::Program &user, const ast::Program &prelude, DiagEngine &diag,
                                    const SemaOptions &opts);

} // namespace gradc
