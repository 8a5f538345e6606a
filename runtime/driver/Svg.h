//===- runtime/driver/Svg.h - plots as SVG files, no libraries ------------===//
//
// Enough plotting for a learner to see training: line and scatter plots
// with nice axis ticks (optionally a log-scale y axis for losses), and heat
// maps of a function over the plane. The output is a self-contained SVG
// file any browser opens.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace grt {

using Points = std::vector<std::pair<double, double>>;

/// The comment on every picture's second line: train --plot replaces a
/// file that has it (or is an older picture of ours, drawnHere) and no
/// other, as --save replaces only checkpoints. (No "--" inside: XML ends a
/// comment there.)
inline constexpr const char *kSvgMark =
    "<!-- a picture of a training run of a gradc executable (train with plot): the next run replaces it -->";
/// Whether the file at `path` is a picture SvgPlot wrote.
bool drawnHere(const std::string &path);

class SvgPlot {
public:
  SvgPlot(std::string title, std::string xLabel, std::string yLabel);

  void logY(bool on) { log = on; }
  /// Fixes the data range shown (otherwise it fits what is drawn).
  void range(double x0, double x1, double y0, double y1);
  void line(const Points &pts, const std::string &color, const std::string &label);
  void scatter(const Points &pts, const std::string &color, const std::string &label, double radius = 2.5);
  /// Colours the plot area by `values[j * nx + i]` at cell (i, j) of an
  /// nx × ny grid over the x and y range, with a colour bar.
  void heatmap(int nx, int ny, const std::vector<double> &values, const std::string &barLabel);
  /// Points coloured by value on the heat map's colour scale.
  void valuedScatter(const Points &pts, const std::vector<double> &values);
  void subtitle(std::string s) { sub = std::move(s); }

  std::string render() const;
  /// Writes the picture atomically (a temporary file, then rename); returns
  /// "" or why it could not, and leaves no temporary file behind.
  std::string save(const std::string &path) const;

  /// The viridis-like colour of v in [0, 1].
  static std::string colour(double v);

private:
  struct Layer {
    enum Kind { Line, Scatter, Heat, Valued } kind;
    Points pts;
    std::string color, label;
    double radius = 2.5;
    int nx = 0, ny = 0;
    std::vector<double> values;
  };
  double px(double x) const;
  double py(double y) const;
  /// A log axis's pixel row of 10^e.
  double pyExponent(double e) const;
  void fit(double &x0, double &x1, double &y0, double &y1) const;

  std::string title, xLabel, yLabel, sub, barLabel;
  bool log = false, fixed = false;
  double fx0 = 0, fx1 = 1, fy0 = 0, fy1 = 1;
  double vmin = 0, vmax = 1;
  std::vector<Layer> layers;
  // Resolved at render time; on a log axis, y0 and y1 are the exponents
  // of the decades at its bottom and top.
  mutable double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
};

} // namespace grt
