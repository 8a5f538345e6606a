//===- runtime/driver/Svg.cpp - plots as SVG files, no libraries ----------===//
#include "driver/Svg.h"

#include "driver/AtomicFile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>

namespace grt {

namespace {

// Plot geometry, in SVG units.
constexpr double W = 720, H = 460, L = 78, R = 150, T = 52, B = 58;

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

/// "Nice" tick positions (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> niceTicks(double lo, double hi, int target = 6) {
  double span = hi - lo;
  if (!(span > 0)) return {lo};
  double raw = span / target, mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

std::string tickLabel(double v) { return fmt::format("{:.3g}", v); }

/// The exponents of the decades a log axis from 10^lo to 10^hi labels:
/// every one up to 12 of them, else every 2nd, 5th, 10th, 20th, 50th or
/// 100th (a loss from 1e-308 to 1e308 gets 1e-300, 1e-200, ..., 1e+300;
/// it got the 64 lowest decades, all in the bottom tenth of the axis).
std::vector<double> decadeTicks(double lo, double hi) {
  double every = 1;
  for (double k : {2, 5, 10, 20, 50, 100})
    if ((hi - lo) / every > 12) every = k;
  std::vector<double> t;
  for (double e = std::ceil(lo / every) * every; e <= hi; e += every) t.push_back(e);
  return t;
}

/// 10^e as "{:.0e}" would print it (1e-05, 1e+00, 1e+300), for any e:
/// 10^-324 is no double.
std::string decadeLabel(int64_t e) { return fmt::format("1e{}{:02}", e < 0 ? '-' : '+', e < 0 ? -e : e); }

} // namespace

SvgPlot::SvgPlot(std::string title, std::string xLabel, std::string yLabel)
    : title(std::move(title)), xLabel(std::move(xLabel)), yLabel(std::move(yLabel)) {}

void SvgPlot::range(double a, double b, double c, double d) {
  fixed = true;
  fx0 = a, fx1 = b, fy0 = c, fy1 = d;
}

void SvgPlot::line(const Points &pts, const std::string &color, const std::string &label) {
  layers.push_back({Layer::Line, pts, color, label});
}

void SvgPlot::scatter(const Points &pts, const std::string &color, const std::string &label, double radius) {
  Layer l{Layer::Scatter, pts, color, label};
  l.radius = radius;
  layers.push_back(l);
}

void SvgPlot::heatmap(int nx, int ny, const std::vector<double> &values, const std::string &label) {
  Layer l{Layer::Heat, {}, "", ""};
  l.nx = nx, l.ny = ny, l.values = values;
  barLabel = label;
  vmin = *std::min_element(values.begin(), values.end());
  vmax = *std::max_element(values.begin(), values.end());
  if (vmax - vmin < 1e-12) vmax = vmin + 1;
  layers.push_back(l);
}

void SvgPlot::valuedScatter(const Points &pts, const std::vector<double> &values) {
  Layer l{Layer::Valued, pts, "", ""};
  l.values = values;
  layers.push_back(l);
}

std::string SvgPlot::colour(double v) {
  // Five stops of matplotlib's viridis, linearly interpolated.
  static const double stops[][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  v = std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0) * 4;
  int i = std::min(int(v), 3);
  double f = v - i;
  auto c = [&](int k) { return int(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])); };
  return fmt::format("#{:02x}{:02x}{:02x}", c(0), c(1), c(2));
}

/// Widens [lo, hi] when it is empty or too narrow to divide by: one value
/// (a constant feature column), or values so large (1e16) that ±0.5 is
/// lost to rounding.
static void widen(double &lo, double &hi) {
  double scale = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo > 1e-9 * scale && hi - lo > 1e-12) return;
  double w = std::max(0.5, scale * 1e-3);
  lo -= w, hi += w;
}

void SvgPlot::fit(double &a, double &b, double &c, double &d) const {
  if (fixed) {
    a = fx0, b = fx1, c = fy0, d = fy1;
    widen(a, b), widen(c, d);
    if (log) c = std::log10(c), d = std::log10(d);
    return;
  }
  a = c = INFINITY;
  b = d = -INFINITY;
  for (auto &l : layers)
    for (auto &[x, y] : l.pts) {
      if (!std::isfinite(x) || !std::isfinite(y) || (log && y <= 0)) continue;
      a = std::min(a, x), b = std::max(b, x), c = std::min(c, y), d = std::max(d, y);
    }
  if (!std::isfinite(a)) a = 0, b = 1, c = log ? 0.1 : 0, d = 1;
  widen(a, b);
  if (log) {
    // Whole decades, as exponents: 10^floor(log10(c)) is 0 for a loss
    // below 1e-323 (a denormal a long f64 run can reach), and every point
    // then drew at -nan.
    c = std::floor(std::log10(c));
    d = std::ceil(std::log10(d));
    if (d <= c) d = c + 1;
  } else {
    widen(c, d);
    double pad = (d - c) * 0.05;
    c -= pad, d += pad;
  }
}

double SvgPlot::px(double x) const { return L + (x - x0) / (x1 - x0) * (W - L - R); }
double SvgPlot::py(double y) const { return log ? pyExponent(std::log10(y)) : H - B - (y - y0) / (y1 - y0) * (H - T - B); }
double SvgPlot::pyExponent(double e) const { return H - B - (e - y0) / (y1 - y0) * (H - T - B); }

bool drawnHere(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(512, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  // Pictures from before the mark begin as render() began them then.
  return head.find(kSvgMark) != std::string::npos ||
         (head.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=") &&
          head.find("font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>") !=
              std::string::npos);
}

std::string SvgPlot::render() const {
  fit(x0, x1, y0, y1);
  std::string s = fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                              "{}\n"
                              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
                              "font-family=\"sans-serif\" font-size=\"12\">\n"
                              "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                              kSvgMark, W, H, W, H);
  s += fmt::format("<text x=\"{}\" y=\"22\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", L, escape(title));
  if (!sub.empty()) s += fmt::format("<text x=\"{}\" y=\"40\" fill=\"#555\">{}</text>\n", L, escape(sub));
  s += fmt::format("<defs><clipPath id=\"area\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs>\n", L, T,
                   W - L - R, H - T - B);

  // Heat maps first, under everything else.
  for (auto &l : layers) {
    if (l.kind != Layer::Heat) continue;
    double cw = (W - L - R) / l.nx, ch = (H - T - B) / l.ny;
    s += "<g shape-rendering=\"crispEdges\">\n";
    for (int j = 0; j < l.ny; ++j)
      for (int i = 0; i < l.nx; ++i)
        s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>\n", L + i * cw,
                         H - B - (j + 1) * ch, cw + 0.3, ch + 0.3, colour((l.values[j * l.nx + i] - vmin) / (vmax - vmin)));
    s += "</g>\n";
  }
  // Axes, grid and ticks.
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", L, T, W - L - R, H - T - B);
  for (double t : niceTicks(x0, x1)) {
    double x = px(t);
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>"
                     "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     x, T, H - B, H - B + 16, tickLabel(t));
  }
  // A log axis ticks decades, by exponent (10^-324 is 0 as a double).
  std::vector<double> yt = log ? decadeTicks(y0, y1) : niceTicks(y0, y1);
  for (double t : yt) {
    double y = log ? pyExponent(t) : py(t);
    s += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                     L, y, W - R, L - 6, y + 4, log ? decadeLabel(int64_t(t)) : tickLabel(t));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2, H - 16, escape(xLabel));
  s += fmt::format("<text transform=\"translate(18,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n", (T + H - B) / 2,
                   escape(yLabel));

  // Data layers, clipped to the plot area.
  s += "<g clip-path=\"url(#area)\">\n";
  for (auto &l : layers) {
    if (l.kind == Layer::Line) {
      std::string d;
      for (auto &[x, y] : l.pts)
        if (std::isfinite(x) && std::isfinite(y) && (!log || y > 0))
          d += fmt::format("{}{:.2f},{:.2f}", d.empty() ? "M" : " L", px(x), py(y));
      s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", d, l.color);
    } else if (l.kind == Layer::Scatter) {
      for (auto &[x, y] : l.pts)
        s += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\" fill=\"{}\" fill-opacity=\"0.6\"/>\n", px(x), py(y),
                         l.radius, l.color);
    } else if (l.kind == Layer::Valued) {
      for (size_t i = 0; i < l.pts.size(); ++i)
        s += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3.5\" fill=\"{}\" stroke=\"#222\" stroke-width=\"0.7\"/>\n",
                         px(l.pts[i].first), py(l.pts[i].second), colour((l.values[i] - vmin) / (vmax - vmin)));
    }
  }
  s += "</g>\n";

  // Legend for named layers; colour bar for heat maps.
  double ly = T + 8;
  for (auto &l : layers) {
    if (l.label.empty()) continue;
    double lx = W - R + 14;
    if (l.kind == Layer::Line)
      s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>", lx, ly, lx + 20, ly, l.color);
    else
      s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/>", lx + 10, ly, l.color);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", lx + 26, ly + 4, escape(l.label));
    ly += 20;
  }
  if (!barLabel.empty()) {
    double bx = W - R + 20, top = T + 10, h = H - T - B - 20;
    for (int i = 0; i < 50; ++i)
      s += fmt::format("<rect x=\"{}\" y=\"{:.2f}\" width=\"16\" height=\"{:.2f}\" fill=\"{}\"/>", bx, top + h - (i + 1) * h / 50,
                       h / 50 + 0.3, colour((i + 0.5) / 50));
    s += fmt::format("\n<text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\">{}</text>\n", bx + 22, top + 8,
                     tickLabel(vmax), bx + 22, top + h, tickLabel(vmin));
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", bx, top + h + 20, escape(barLabel));
  }
  return s + "</svg>\n";
}

std::string SvgPlot::save(const std::string &path) const { return writeAtomically(path, render()); }

} // namespace grt
