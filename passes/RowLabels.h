//===- passes/RowLabels.h - how each value relates to the batch's rows ----===//
//
// The rows of a batch are axis 0 of every input, B long. rowLabels gives
// each value of a graph a label, in node order:
//
//   Inv    does not read the inputs (params, constants, hypers)
//   Row    computed row by row: along `axis`, index = (o·B + r)·inner + j
//          for row r (a reshape [B, T, C] -> [B·T, C] gives inner = T),
//          with the constant factor it was last scaled by (x / B, say)
//   Agg    linear in a sum over rows of per-row terms: `sum` until it is
//          divided by the number of elements summed or by a whole multiple
//          of B (sum(e²) / (2·B) is a mean too), before or after the sum;
//          scaled, added and reshaped freely after that, except by a whole
//          multiple of B again: mean(e²) * B, or mean(e² * B), is a sum
//          over rows written as a mean (the same rule read backwards)
//   Mixed  anything else, with the node that made it so
//
// A value that reads no input but differs along the batch's row axis (a
// param [B, H], arange(B)) is a term by batch position: added to rows it
// gives a Row marked `positional`, which a mean over rows averages out, but
// which a nonlinear op, a product with rows or predict's output cannot use.
//
// check-row-mean (RowMeanCheck.cpp) holds the loss and metrics to them;
// split-entries (SplitEntries.cpp) keeps in @predict only the outputs that
// have a row per input row.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <string>

namespace gradc {

struct Label {
  enum Kind : uint8_t { Inv, Row, Agg, Mixed } kind = Inv;
  int axis = -1;        // Row: the axis holding the rows
  int64_t inner = 1;    // Row: elements of that axis per row step
  double scale = 1;     // Row: the constant factor it was last scaled by
  bool sum = false;     // Agg: still a sum over rows (not yet divided)
  int64_t count = 1;    // Agg: elements added up, rows included
  const Node *at = nullptr; // Agg: the sum over rows; Mixed: the culprit
  std::string why;      // Mixed: what the culprit does
  const Node *byB = nullptr; // Agg: the op that scaled it by a multiple of B
  double byBFactor = 0;      // ... and that factor
  bool pendingB = false;     // Agg: ... before the sum, for a divisor to cancel
  int64_t perRow = 0;        // ... where that factor is exactly the elements each
                             // row has (> 1, not B), that count: it reads both
                             // ways (T · cross_entropy over [B, T], T = 2·B)
  const Node *positional = nullptr; // Row: where a term by batch position
                                    // was added (x @ w + b with b [B, H]);
                                    // linear ops keep it, a sum over rows
                                    // drops it (a constant), others mix

  static Label row(int axis, int64_t inner, double scale = 1) { return {Row, axis, inner, scale}; }
  static Label mixed(const Node *n, std::string why) {
    Label l;
    l.kind = Mixed, l.at = n, l.why = std::move(why);
    return l;
  }
  bool sameRows(const Label &o) const { return axis == o.axis && inner == o.inner; }
  /// This row label, with its rows now along `toAxis` (a broadcast,
  /// transpose or reshape moved them).
  Label moved(int toAxis, int64_t toInner) const {
    Label l = row(toAxis, toInner, scale);
    l.positional = positional;
    return l;
  }
};

/// The label of every node of g (its inputs' axis 0 holds B rows). With
/// `training` given, training() is that constant, and where() on it (or on
/// a constant) takes the label of the branch it picks: what one entry
/// (@train, or @eval and @predict) computes. Otherwise both branches count.
llvm::DenseMap<const Node *, Label> rowLabels(const Graph &g, int64_t B, std::optional<bool> training = std::nullopt);

} // namespace gradc
