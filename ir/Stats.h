//===- ir/Stats.h - what a graph costs ------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <map>

namespace gradc {

struct GraphStats {
  std::map<std::string, int> opCounts; // by mnemonic
  int nodes = 0;
  int kernels = 0;             // a slice group counted once, as it runs
  int64_t params = 0;          // parameter elements
  int64_t paramBytes = 0;
  int64_t gradBytes = 0;       // one gradient per parameter, once backward exists
  int64_t stateBytes = 0;      // optimizer state
  int64_t activationBytes = 0; // every forward intermediate value, unplanned
  int64_t arenaBytes = 0;      // after memory planning: the scratch arena
  int64_t flops = 0;           // per call of the graph (a training step for @train)
};

/// FLOPs are counted as: one per element for elementwise arithmetic
/// (transcendentals included), one per input element for a reduction,
/// 2·M·N·K for a matrix product, nothing for layout ops and leaves, nor for
/// ops whose result is an integer or a boolean (comparisons, hashes).
GraphStats computeStats(const Graph &g);
int64_t flopsOf(const Node &n);

} // namespace gradc
