#include "launch/scale/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace metaps::scale {
namespace {

constexpr int kLeft = 72, kRight = 16, kTop = 34, kBottom = 52;
constexpr char kFont[] = "font-family=\"sans-serif\"";

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// Maps data values to pixels along one axis.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double p0 = 0, p1 = 1;  // pixel positions of lo and hi
  double Map(double v) const {
    double a = lo, b = hi;
    if (log) {
      v = std::log10(std::max(v, 1e-300));
      a = std::log10(a);
      b = std::log10(b);
    }
    const double t = b > a ? (v - a) / (b - a) : 0.5;
    return p0 + t * (p1 - p0);
  }
};

// The data range over finite (and, on a log axis, positive) values.
void Extend(double v, bool log, double* lo, double* hi) {
  if (!std::isfinite(v) || (log && v <= 0)) return;
  *lo = std::min(*lo, v);
  *hi = std::max(*hi, v);
}

void FixRange(bool log, bool from_zero, double* lo, double* hi) {
  if (*lo > *hi) {  // no data
    *lo = log ? 1 : 0;
    *hi = log ? 10 : 1;
    return;
  }
  if (log) {
    if (*hi <= *lo * 1.0001) {
      *lo /= 2;
      *hi *= 2;
    }
    return;
  }
  if (from_zero) *lo = std::min(*lo, 0.0);
  if (*hi - *lo < 1e-12 * std::max(1.0, std::fabs(*hi))) {
    *hi += std::max(1.0, std::fabs(*hi) * 0.1);
    if (!from_zero) *lo -= std::max(1.0, std::fabs(*lo) * 0.1);
  }
}

void Frame(std::ostringstream& out, int width, int height, const std::string& title) {
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\" " << kFont << " font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" "
      << "font-weight=\"bold\">" << XmlEscape(title) << "</text>\n";
}

void AxisLabels(std::ostringstream& out, int width, int height, const std::string& x_label,
                const std::string& y_label) {
  out << "<text x=\"" << (kLeft + width - kRight) / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">" << XmlEscape(x_label) << "</text>\n"
      << "<text transform=\"translate(14," << (kTop + height - kBottom) / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << XmlEscape(y_label) << "</text>\n";
}

void YTicks(std::ostringstream& out, const Axis& y, const std::vector<double>& ticks, int width) {
  for (double t : ticks) {
    const double py = y.Map(t);
    out << "<line x1=\"" << kLeft << "\" x2=\"" << width - kRight << "\" y1=\"" << Num(py)
        << "\" y2=\"" << Num(py) << "\" stroke=\"#e4e4e4\"/>\n"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << Num(py + 4) << "\" text-anchor=\"end\">"
        << FormatNumber(t) << "</text>\n";
  }
}

// Legend entries laid out in rows under the plot, wrapping at the width.
struct LegendSlot {
  const Series* series;
  int x, y;
};
std::vector<LegendSlot> LegendLayout(const std::vector<const Series*>& listed, int width, int top,
                                     int* rows) {
  std::vector<LegendSlot> slots;
  int x = kLeft, y = top + 12;
  *rows = listed.empty() ? 0 : 1;
  for (const Series* s : listed) {
    const int w = static_cast<int>(34 + 6.3 * static_cast<double>(s->name.size()));
    if (x > kLeft && x + w > width - kRight) {
      x = kLeft;
      y += 15;
      ++*rows;
    }
    slots.push_back({s, x, y});
    x += w;
  }
  return slots;
}

void Legend(std::ostringstream& out, const std::vector<LegendSlot>& slots) {
  for (const LegendSlot& slot : slots) {
    const Series& s = *slot.series;
    const int x0 = slot.x, y = slot.y;
    out << "<line x1=\"" << x0 << "\" x2=\"" << x0 + 20 << "\" y1=\"" << y - 4 << "\" y2=\""
        << y - 4 << "\" stroke=\"" << s.color << "\" stroke-width=\"2\""
        << (s.dashed ? " stroke-dasharray=\"5,3\"" : "") << (s.line ? "" : " stroke-opacity=\"0\"")
        << "/>";
    if (s.markers) {
      out << "<circle cx=\"" << x0 + 10 << "\" cy=\"" << y - 4 << "\" r=\"3\" fill=\""
          << (s.hollow ? "white" : s.color) << "\" stroke=\"" << s.color << "\"/>";
    }
    out << "<text x=\"" << x0 + 24 << "\" y=\"" << y << "\">" << XmlEscape(s.name) << "</text>\n";
  }
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatNumber(double value) {
  if (!std::isfinite(value)) return "n/a";
  const double a = std::fabs(value);
  const char* suffix = "";
  double v = value;
  if (a >= 1e9) {
    v = value / 1e9;
    suffix = "G";
  } else if (a >= 1e6) {
    v = value / 1e6;
    suffix = "M";
  } else if (a >= 1e4) {
    v = value / 1e3;
    suffix = "k";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g%s", v, suffix);
  return buf;
}

std::vector<double> LinearTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || target < 1) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  // From the last step at or below lo to the first at or above hi.
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t < hi + step * (1 - 1e-9); t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi >= lo)) return ticks;
  if (lo >= 1 && hi <= 4096) {
    for (double t = 1; t <= hi * 1.0001; t *= 2) {
      if (t >= lo * 0.9999) ticks.push_back(t);
    }
    if (ticks.size() >= 2) return ticks;
    ticks.clear();
  }
  for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi * 10;
       decade *= 10) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * decade;
      if (t >= lo * 0.9999 && t <= hi * 1.0001) ticks.push_back(t);
    }
  }
  return ticks;
}

std::string RenderLinePlot(const LinePlot& plot) {
  const bool categorical = !plot.x_categories.empty();
  const bool log_x = plot.log_x && !categorical;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : plot.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      Extend(s.x[i], log_x, &x_lo, &x_hi);
      Extend(s.y[i], plot.log_y, &y_lo, &y_hi);
      if (i < s.ymin.size()) Extend(s.ymin[i], plot.log_y, &y_lo, &y_hi);
      if (i < s.ymax.size()) Extend(s.ymax[i], plot.log_y, &y_lo, &y_hi);
    }
  }
  if (categorical) {
    x_lo = -0.5;
    x_hi = static_cast<double>(plot.x_categories.size()) - 0.5;
  }
  FixRange(log_x, false, &x_lo, &x_hi);
  FixRange(plot.log_y, plot.y_from_zero, &y_lo, &y_hi);
  if (!plot.log_y) y_hi += (y_hi - y_lo) * 0.04;  // headroom: nothing drawn on the frame
  double y_lo_tick = y_lo, y_hi_tick = y_hi;
  if (plot.log_y) {
    // Out to the 1-2-5 values around the data, so that both ends are labelled.
    const std::vector<double> around = LogTicks(y_lo / 2.6, y_hi * 2.6);
    for (double t : around) {
      if (t <= y_lo) y_lo_tick = t;
    }
    for (auto t = around.rbegin(); t != around.rend(); ++t) {
      if (*t >= y_hi) y_hi_tick = *t;
    }
  }
  std::vector<double> y_ticks =
      plot.log_y ? LogTicks(y_lo_tick, y_hi_tick) : LinearTicks(y_lo, y_hi, 5);
  if (!plot.log_y && y_ticks.size() > 1) {
    y_lo = y_ticks.front();
    y_hi = y_ticks.back();
  }
  std::vector<double> x_ticks;
  if (categorical) {
    for (size_t i = 0; i < plot.x_categories.size(); ++i) x_ticks.push_back(static_cast<double>(i));
  } else if (log_x) {
    x_ticks = LogTicks(x_lo, x_hi);
  } else {
    x_ticks = LinearTicks(x_lo, x_hi, 6);
    // Pad so that markers at the ends stay inside the frame.
    const double pad = (x_hi - x_lo) * 0.05;
    x_lo -= pad;
    x_hi += pad;
  }
  if (log_x) {
    x_lo /= 1.15;
    x_hi *= 1.15;
  }
  if (plot.log_y) {
    y_lo = y_lo_tick / 1.1;
    y_hi = y_hi_tick * 1.1;
  }
  const int w = plot.width, h = plot.height;
  Axis x{x_lo, x_hi, log_x, static_cast<double>(kLeft), static_cast<double>(w - kRight)};
  Axis y{y_lo, y_hi, plot.log_y, static_cast<double>(h - kBottom), static_cast<double>(kTop)};

  std::vector<const Series*> listed;
  for (const Series& s : plot.series) {
    if (!s.name.empty()) listed.push_back(&s);
  }
  int legend_rows = 0;
  const std::vector<LegendSlot> legend = LegendLayout(listed, w, h, &legend_rows);

  std::ostringstream out;
  Frame(out, w, h + 15 * legend_rows + 4, plot.title);
  YTicks(out, y, y_ticks, w);
  for (size_t i = 0; i < x_ticks.size(); ++i) {
    const double px = x.Map(x_ticks[i]);
    const std::string label = categorical ? plot.x_categories[i] : FormatNumber(x_ticks[i]);
    out << "<line x1=\"" << Num(px) << "\" x2=\"" << Num(px) << "\" y1=\"" << h - kBottom
        << "\" y2=\"" << h - kBottom + 4 << "\" stroke=\"#333\"/>\n";
    if (categorical && plot.x_categories.size() > 6) {
      out << "<text transform=\"translate(" << Num(px + 3) << "," << h - kBottom + 12
          << ") rotate(30)\" font-size=\"9\">" << XmlEscape(label) << "</text>\n";
    } else {
      out << "<text x=\"" << Num(px) << "\" y=\"" << h - kBottom + 16
          << "\" text-anchor=\"middle\">" << XmlEscape(label) << "</text>\n";
    }
  }
  out << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << w - kLeft - kRight
      << "\" height=\"" << h - kTop - kBottom << "\" fill=\"none\" stroke=\"#333\"/>\n";
  // Slanted category labels take the x label's room.
  const bool slanted = categorical && plot.x_categories.size() > 6;
  AxisLabels(out, w, h, slanted ? "" : plot.x_label, plot.y_label);

  for (const Series& s : plot.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    auto visible = [&](size_t i) {
      return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && (!log_x || s.x[i] > 0) &&
             (!plot.log_y || s.y[i] > 0);
    };
    out << "<g class=\"series\" data-name=\"" << XmlEscape(s.name) << "\">\n";
    if (s.line && n > 1) {
      out << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.8\""
          << (s.dashed ? " stroke-dasharray=\"6,4\"" : "") << " points=\"";
      for (size_t i = 0; i < n; ++i) {
        if (visible(i)) out << Num(x.Map(s.x[i])) << "," << Num(y.Map(s.y[i])) << " ";
      }
      out << "\"/>\n";
    }
    for (size_t i = 0; i < n && i < s.ymin.size() && i < s.ymax.size(); ++i) {
      if (!visible(i) || !std::isfinite(s.ymin[i]) || !std::isfinite(s.ymax[i])) continue;
      const double px = x.Map(s.x[i]);
      const double a = y.Map(s.ymin[i]), b = y.Map(s.ymax[i]);
      out << "<path class=\"errorbar\" d=\"M" << Num(px) << "," << Num(a) << "V" << Num(b) << "M"
          << Num(px - 4) << "," << Num(a) << "h8M" << Num(px - 4) << "," << Num(b)
          << "h8\" stroke=\"" << s.color << "\" fill=\"none\"/>\n";
    }
    if (s.markers) {
      for (size_t i = 0; i < n; ++i) {
        if (!visible(i)) continue;
        out << "<circle cx=\"" << Num(x.Map(s.x[i])) << "\" cy=\"" << Num(y.Map(s.y[i]))
            << "\" r=\"" << s.marker_radius << "\" fill=\"" << (s.hollow ? "white" : s.color)
            << "\" stroke=\"" << s.color << "\"";
        if (i < s.point_attrs.size()) out << " " << s.point_attrs[i];
        out << "><title>" << XmlEscape(s.name) << ": " << FormatNumber(s.y[i])
            << "</title></circle>\n";
      }
    }
    out << "</g>\n";
  }
  Legend(out, legend);
  if (!plot.badge.empty()) {
    out << "<text x=\"" << kLeft + 6 << "\" y=\"" << kTop + 16
        << "\" font-size=\"14\" font-weight=\"bold\" fill=\"#b03030\" fill-opacity=\"0.8\">"
        << XmlEscape(plot.badge) << "</text>\n";
  }
  out << "</svg>\n";
  return out.str();
}

std::string RenderStackedBars(const StackedBars& bars) {
  double top = 0;
  for (const auto& row : bars.values) {
    double sum = 0;
    for (double v : row) sum += std::isfinite(v) && v > 0 ? v : 0;
    top = std::max(top, sum);
  }
  double lo = 0, hi = top;
  FixRange(false, true, &lo, &hi);
  const std::vector<double> ticks = LinearTicks(lo, hi * 1.04, 5);
  if (ticks.size() > 1) hi = ticks.back();
  const int w = bars.width, h = bars.height;
  Axis y{lo, hi, false, static_cast<double>(h - kBottom), static_cast<double>(kTop)};
  std::vector<Series> keys;
  for (size_t k = 0; k < bars.components.size(); ++k) {
    Series s;
    s.name = bars.components[k];
    s.color = k < bars.colors.size() ? bars.colors[k] : "#888";
    s.marker_radius = 4;
    keys.push_back(s);
  }
  std::vector<const Series*> listed;
  for (const Series& s : keys) listed.push_back(&s);
  int legend_rows = 0;
  const std::vector<LegendSlot> legend = LegendLayout(listed, w, h - 22, &legend_rows);
  std::ostringstream out;
  Frame(out, w, h + 15 * legend_rows - 18, bars.title);
  YTicks(out, y, ticks, w);
  const size_t n = bars.categories.size();
  const double slot = n ? static_cast<double>(w - kLeft - kRight) / static_cast<double>(n) : 1;
  const double bar_w = std::min(60.0, slot * 0.6);
  for (size_t c = 0; c < n && c < bars.values.size(); ++c) {
    const double cx = kLeft + slot * (static_cast<double>(c) + 0.5);
    double base = 0;
    out << "<g class=\"bar\" data-category=\"" << XmlEscape(bars.categories[c]) << "\">\n";
    for (size_t k = 0; k < bars.values[c].size() && k < bars.components.size(); ++k) {
      const double v = bars.values[c][k];
      if (!std::isfinite(v) || v <= 0) continue;
      const double y0 = y.Map(base), y1 = y.Map(base + v);
      out << "<rect x=\"" << Num(cx - bar_w / 2) << "\" y=\"" << Num(y1) << "\" width=\""
          << Num(bar_w) << "\" height=\"" << Num(y0 - y1) << "\" fill=\""
          << (k < bars.colors.size() ? bars.colors[k] : "#888") << "\"><title>"
          << XmlEscape(bars.components[k]) << ": " << FormatNumber(v) << "</title></rect>\n";
      base += v;
    }
    out << "</g>\n<text x=\"" << Num(cx) << "\" y=\"" << h - kBottom + 16
        << "\" text-anchor=\"middle\">" << XmlEscape(bars.categories[c]) << "</text>\n";
  }
  out << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << w - kLeft - kRight
      << "\" height=\"" << h - kTop - kBottom << "\" fill=\"none\" stroke=\"#333\"/>\n";
  AxisLabels(out, w, h, "", bars.y_label);
  Legend(out, legend);
  out << "</svg>\n";
  return out.str();
}

}  // namespace metaps::scale
