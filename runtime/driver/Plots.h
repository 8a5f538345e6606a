//===- runtime/driver/Plots.h - the pictures `train --plot DIR` writes ----===//
#pragma once

#include "driver/Data.h"
#include "driver/Svg.h"

namespace grt {

/// The loss curve of a run: (step, loss) at each progress line (train,
/// the mean since the line before) and each validation. A checkpoint keeps
/// it (toText), so a resumed run draws the whole curve, as a run that
/// never stopped would.
struct History {
  Points train, val;

  /// Most points a series keeps. Reaching it, the series drops every other
  /// point but its first (the starting loss), so a run of millions of steps
  /// logged at every one keeps a few hundred to a thousand, older stretches
  /// more thinly: two points per pixel of the 492-pixel plot area at most,
  /// and under 40 KB of a checkpoint's metadata per series. The rule looks
  /// at the series alone, so a resumed run thins exactly as the run that
  /// never stopped.
  static constexpr size_t kMaxPoints = 1000;
  static void add(Points &series, double step, double loss);

  /// A series as a checkpoint's metadata holds it: "STEP:LOSS" pairs
  /// separated by spaces, losses with 17 digits so they read back exactly.
  static std::string toText(const Points &series);
  /// Reads the series `text` holds; returns "" or why it is malformed
  /// ("'x' is not STEP:LOSS"): steps must be whole, rising and 1 or more,
  /// losses finite. Points past `lastStep` are left out.
  static std::string fromText(const std::string &text, int64_t lastStep, Points &series);
};

/// DIR/loss.svg: training and validation loss against steps, log scale
/// (linear when a loss is 0 or negative).
std::string plotLoss(const std::string &dir, const GrtModel &m, const History &h);

/// DIR/fit.svg: what the model learned, when its prediction reads one input
/// of one or two features. One feature: the data points and the fitted
/// curve. Two: a heat map of the prediction over the plane, data on top.
/// Returns a one-line note when there is nothing it knows how to draw.
std::string plotFit(const std::string &dir, Session &s, const Dataset &d, int64_t step);

} // namespace grt
