//===- runtime/driver/Plots.cpp - the pictures `train --plot DIR` writes --===//
#include "driver/Plots.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sys/stat.h>

namespace grt {

void History::add(Points &series, double step, double loss) {
  series.push_back({step, loss});
  if (series.size() < kMaxPoints) return;
  // Keep the first point and every other one counted back from the newest.
  Points kept{series.front()};
  for (size_t i = series.size() % 2 == 0 ? 1 : 2; i < series.size(); i += 2) kept.push_back(series[i]);
  series = std::move(kept);
}

std::string History::toText(const Points &series) {
  std::string out;
  for (auto &[step, loss] : series) out += fmt::format("{}{}:{:.17g}", out.empty() ? "" : " ", int64_t(step), loss);
  return out;
}

std::string History::fromText(const std::string &text, int64_t lastStep, Points &series) {
  series.clear();
  size_t at = 0;
  while (at < text.size()) {
    size_t end = std::min(text.find(' ', at), text.size());
    std::string point = text.substr(at, end - at);
    at = end + 1;
    size_t colon = point.find(':');
    int64_t step = -1;
    auto [stepEnd, ec] = std::from_chars(point.data(), point.data() + std::min(colon, point.size()), step);
    char *lossEnd = nullptr;
    double loss = colon == std::string::npos ? NAN : std::strtod(point.c_str() + colon + 1, &lossEnd);
    if (colon == std::string::npos || ec != std::errc() || stepEnd != point.data() + colon || colon + 1 == point.size() ||
        *lossEnd || !std::isfinite(loss))
      return fmt::format("'{}' is not STEP:LOSS", shown(point));
    if (step < 1) return fmt::format("its step {} is not 1 or more", step);
    if (!series.empty() && double(step) <= series.back().first)
      return fmt::format("its step {} comes after step {}", step, int64_t(series.back().first));
    // Points past the checkpoint's step (its step edited back, as a test
    // of checksums does) are not of the run it resumes: left out.
    if (step <= lastStep) series.push_back({double(step), loss});
  }
  return "";
}

static void save(const SvgPlot &p, const std::string &path) {
  if (std::string err = p.save(path); !err.empty()) fail("cannot write {}: {}", path, err);
}

std::string plotLoss(const std::string &dir, const GrtModel &m, const History &h) {
  // A log scale, unless a loss is 0 or negative (a perfect fit, a
  // likelihood, a loss with an offset), which it cannot show.
  bool positive = true;
  for (const Points *pts : {&h.train, &h.val})
    for (auto &[x, y] : *pts) positive &= !std::isfinite(y) || y > 0;
  SvgPlot p(fmt::format("{}: loss during training", m.name), "step", positive ? "loss (log scale)" : "loss");
  p.logY(positive);
  p.line(h.train, "#1f77b4", "train");
  if (!h.val.empty()) p.line(h.val, "#ff7f0e", "validation");
  std::string path = dir + "/loss.svg";
  std::string err = p.save(path);
  return err.empty() ? "" : fmt::format("cannot write {}: {}", path, err);
}

namespace {

/// Runs `predict` on `points` (each `features` long), B at a time, and
/// returns the first element of the first output for each point.
std::vector<double> predictAt(Session &s, int input, const std::string &output, const std::vector<std::vector<double>> &points) {
  auto &in = s.slots[input];
  auto &out = s.slot(outputTensor(output));
  int64_t B = in.tensor->dims[0], F = in.numel / B, O = out.numel / B;
  std::vector<double> result;
  for (size_t first = 0; first < points.size(); first += B) {
    for (int64_t b = 0; b < B; ++b) {
      const auto &pt = points[std::min(points.size() - 1, first + b)];
      for (int64_t f = 0; f < F; ++f) Session::set(in, b * F + f, pt[f]);
    }
    s.run("predict");
    for (int64_t b = 0; b < B && first + b < points.size(); ++b) result.push_back(Session::get(out, b * O));
  }
  return result;
}

} // namespace

std::string plotFit(const std::string &dir, Session &s, const Dataset &d, int64_t step) {
  const Rows *rows = d.rows();
  const GrtEntry *e = s.entry("predict");
  if (!rows || !e) return "no picture of the fit: it needs table data and an output";
  std::vector<int> features = entryInputs(s, "predict");
  std::vector<std::string> outs = splitList(e->outputs);
  if (features.size() != 1) return "no picture of the fit: the prediction reads more than one input";
  int in = features[0];
  int64_t B = s.slots[in].tensor->dims[0], F = s.slots[in].numel / B;
  if (F != 1 && F != 2) return "no picture of the fit: it draws inputs of one or two features";
  // The target: the other input, if it has one value per row.
  int target = -1;
  size_t ti = 0, fi = 0;
  for (size_t i = 0; i < rows->inputs.size(); ++i) {
    if (rows->inputs[i] == in) fi = i;
    else if (s.slots[rows->inputs[i]].numel / B == 1) target = rows->inputs[i], ti = i;
  }
  const std::vector<double> &xs = rows->values[fi];
  // At most 600 points keep the file light.
  int64_t stride = std::max<int64_t>(1, rows->rows / 600);
  std::string name = s.model.name, out = outs[0];
  mkdir(dir.c_str(), 0755);

  if (F == 1) {
    double lo = *std::min_element(xs.begin(), xs.end()), hi = *std::max_element(xs.begin(), xs.end());
    std::vector<std::vector<double>> grid;
    for (int i = 0; i < 200; ++i) grid.push_back({lo + (hi - lo) * i / 199});
    std::vector<double> pred = predictAt(s, in, out, grid);
    SvgPlot p(fmt::format("{}: the fitted function after {} steps", name, step), s.slots[in].tensor->name, out);
    if (target >= 0) {
      Points data;
      for (int64_t r = 0; r < rows->rows; r += stride) data.push_back({xs[r], rows->values[ti][r]});
      p.scatter(data, "#999999", fmt::format("data ({})", s.slots[target].tensor->name));
    }
    Points curve;
    for (int i = 0; i < 200; ++i) curve.push_back({grid[i][0], pred[i]});
    p.line(curve, "#d62728", "model");
    save(p, dir + "/fit.svg");
    return "";
  }

  double lo0 = INFINITY, hi0 = -INFINITY, lo1 = INFINITY, hi1 = -INFINITY;
  for (int64_t r = 0; r < rows->rows; ++r) {
    lo0 = std::min(lo0, xs[2 * r]), hi0 = std::max(hi0, xs[2 * r]);
    lo1 = std::min(lo1, xs[2 * r + 1]), hi1 = std::max(hi1, xs[2 * r + 1]);
  }
  const int n = 60;
  std::vector<std::vector<double>> grid;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i) grid.push_back({lo0 + (hi0 - lo0) * (i + 0.5) / n, lo1 + (hi1 - lo1) * (j + 0.5) / n});
  std::vector<double> pred = predictAt(s, in, out, grid);
  std::string x = s.slots[in].tensor->name;
  SvgPlot p(fmt::format("{}: {} over the plane after {} steps", name, out, step), x + "[0]", x + "[1]");
  p.range(lo0, hi0, lo1, hi1);
  p.heatmap(n, n, pred, out);
  if (target >= 0) {
    Points data;
    std::vector<double> values;
    for (int64_t r = 0; r < rows->rows; r += stride) {
      data.push_back({xs[2 * r], xs[2 * r + 1]});
      values.push_back(rows->values[ti][r]);
    }
    p.valuedScatter(data, values);
    p.subtitle(fmt::format("points: the data, coloured by {} on the same scale", s.slots[target].tensor->name));
  }
  save(p, dir + "/fit.svg");
  return "";
}

} // namespace grt
