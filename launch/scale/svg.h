// Small SVG charts for the scaling report: line plots (optionally log axes,
// categorical x, min/max error bars, per-point attributes) and stacked bars.
// Output is a self-contained <svg> element: no script, no external resource.
#pragma once

#include <string>
#include <vector>

namespace metaps::scale {

struct Series {
  std::string name;   // in the legend; empty: not listed
  std::string color;  // CSS colour
  std::vector<double> x, y;
  // Error bars (both empty, or one per point): drawn from ymin to ymax.
  std::vector<double> ymin, ymax;
  // Extra attributes per point marker (empty, or one per point), e.g.
  // data-run="3": how a reader (or a test) finds a run's marker.
  std::vector<std::string> point_attrs;
  bool line = true;
  bool markers = true;
  bool dashed = false;
  bool hollow = false;  // open markers (an overlaid older sweep)
  double marker_radius = 3.5;
};

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_x = false, log_y = false;
  bool y_from_zero = true;  // linear y: the axis starts at 0
  // Categorical x: point i's x is i, ticks labelled with these.
  std::vector<std::string> x_categories;
  std::string badge;  // a label in the corner, e.g. "PROJECTION"
  int width = 440, height = 320;
};

struct StackedBars {
  std::string title, y_label;
  std::vector<std::string> categories;      // one bar each
  std::vector<std::string> components;      // stacked bottom to top
  std::vector<std::string> colors;          // one per component
  std::vector<std::vector<double>> values;  // [category][component], >= 0
  int width = 440, height = 320;
};

std::string RenderLinePlot(const LinePlot& plot);
std::string RenderStackedBars(const StackedBars& bars);

// Escapes &, <, >, " for text and attribute values.
std::string XmlEscape(const std::string& text);
// 1234567 -> "1.23M", 0.0123 -> "0.0123": three significant digits, SI suffix.
std::string FormatNumber(double value);

// Tick values for an axis over [lo, hi]: about `target` "nice" steps (1, 2, 5
// x 10^k) for a linear axis; for a log axis 1, 2, 5 x 10^k (or powers of 2
// when the range is within [1, 4096]) inside the range.
std::vector<double> LinearTicks(double lo, double hi, int target);
std::vector<double> LogTicks(double lo, double hi);

}  // namespace metaps::scale
