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
  /// The dtype `f32` in the source stands for (f64 for gradient checks),
  /// and that float(x), full, onehot, rand_* and the prelude's params make.
  DType floatType = DType::F32;
  /// When set (gradc without --dtype), a program that names f64 and never
  /// f32 (as a type or a conversion), and does not build with floatType
  /// F32, is built with F64. A model written all in f64 could not call
  /// cross_entropy, linear or dropout (their onehot and params were f32),
  /// nor add float(k) to its values; one that builds in f32 stays so.
  bool floatTypeFromSource = false;
  /// Analysis runs the program: loops are unrolled and calls inlined, so a
  /// short file can ask for unbounded work (nested loops, calls that each
  /// call the next twice). Past either budget it stops with one error.
  ///
  /// Steps: one per expression evaluated, statement run or loop iteration,
  /// ten per call of a function (which allocates its frame and binds its
  /// arguments: about ten times the work). The GPT example takes 3,454 steps
  /// and makes 561 nodes with 4 layers, 9,670 and 1,585 with 12 (measured
  /// 2026-12-06; the prelude's argument checks count too); a loop of
  /// 20,000 `h = h + 1` takes 100,000 and makes 40,000. Either budget runs
  /// out in under 0.15 s (2 s under AddressSanitizer), and a graph at the
  /// node budget still builds in seconds, in a few hundred megabytes.
  int64_t maxSteps = 1'000'000;
  /// Graph nodes in one graph (the model's, or its data's): each one costs
  /// every later pass time and memory.
  int64_t maxNodes = 200'000;
  /// Elements computed at build time to check constant indices (onehot,
  /// gather, over the whole program): past it, indices go unchecked at
  /// build time and the generated code clamps them.
  int64_t maxIndexElements = int64_t(1) << 24;
  /// The module becomes an executable (gradc build), which takes its batch
  /// from the inputs it reads: a model that reads none is refused. A
  /// gradient check or a dump of one is fine.
  bool forExecutable = false;
};

/// Builds the module of the one model in `user`. Functions of `prelude` are
/// visible to the model. Returns null when any error was reported.
std::unique_ptr<Module> buildModule(const ast::Program &user, const ast::Program &prelude, DiagEngine &diag,
                                    const SemaOptions &opts);

} // namespace gradc
