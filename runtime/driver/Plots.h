//===- runtime/driver/Plots.h - the pictures `train --plot DIR` writes ----===//
#pragma once

#include "driver/Data.h"
#include "driver/Svg.h"

namespace grt {

struct History {
  Points train, val; // (step, loss)
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
