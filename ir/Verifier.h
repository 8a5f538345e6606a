//===- ir/Verifier.h - checks that a module is well formed ----------------===//
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace gradc {

/// One problem, and what it concerns, so that a reader of text IR can point
/// at its line: a node, or an output or update (an index into the graph's
/// lists), or else the graph (nullptr: the module as a whole).
struct Problem {
  std::string message;
  const Graph *graph = nullptr;
  const Node *node = nullptr;
  int output = -1, update = -1;
  int kernel = -1; // a kernel line's problem: its index in the graph's list
};

/// Checks every node, output and update of every graph and returns each
/// problem found (empty when the module is well formed).
std::vector<Problem> verifyProblems(const Module &m);

/// The same, as one message per problem. The pass manager runs it after
/// every pass.
std::vector<std::string> verify(const Module &m);
std::vector<std::string> verify(const Graph &g);

} // namespace gradc
