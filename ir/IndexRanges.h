//===- ir/IndexRanges.h - the values an i32 input may take as an index ---===//
//
// An i32 input that reaches gather's rows, scatter_add's rows or onehot's
// classes must hold values those tables have: the generated code clamps an
// index, so one out of range is no memory error but a silently wrong
// answer (another row read, a target with a loss of 0). The runtime
// refuses data outside the range this analysis finds, which the compiled
// model carries (GrtTensor.index_low, index_limit).
//
// The input is followed through layout ops (reshape, broadcast, transpose,
// slice, pad, concat), element by element, and through the addition or
// subtraction of a constant: labels 1..K used as `onehot(y - 1, K)` take
// 1 to K, not 0 to K-1. Any other op (a product, a clamp, a modulo) ends
// the trail: what comes out of it no longer says which inputs are valid.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"
#include "ir/UserLists.h"

#include <cstdint>
#include <vector>

namespace gradc {

/// The values one column of an input (one element of a row: a CSV column)
/// may take: [low, limit). `lowUse` and `limitUse` are the index uses that
/// set each end, for messages; both null when nothing bounds the column.
struct IndexRange {
  int64_t low = 0, limit = 0;
  const Node *lowUse = nullptr, *limitUse = nullptr;

  bool bounded() const { return limitUse != nullptr; }
  /// No value fits every use (onehot(y, 3) and onehot(y - 5, 3)).
  bool empty() const { return bounded() && low >= limit; }
  /// Narrows this range to what `o` allows too.
  void intersect(const IndexRange &o);
};

/// The range of each column of i32 input `input` (its elements per row,
/// row-major), from its index uses in `g`. Past a few million elements
/// followed, every column gets one range, when every use gives the same,
/// else none: a wrong narrow one would refuse valid data.
std::vector<IndexRange> indexRanges(const Graph &g, const UserLists &users, const Node *input);

} // namespace gradc
