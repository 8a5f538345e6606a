//===- ir/Verifier.h - checks that a module is well formed ----------------===//
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace gradc {

/// Checks every node, output and update of every graph and returns one
/// message per problem found (empty when the module is well formed). The
/// pass manager runs it after every pass.
std::vector<std::string> verify(const Module &m);
std::vector<std::string> verify(const Graph &g);

} // namespace gradc
