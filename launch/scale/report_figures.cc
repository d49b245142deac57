#include "launch/scale/report_figures.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "launch/scale/svg.h"

namespace metaps::scale {
namespace {

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                               "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
const char* const kPhaseColors[kPhases] = {"#8c8c8c", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"};
constexpr char kOldColor[] = "#9a9a9a";

// "1 server", "2 servers".
std::string Count(int n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string Color(size_t i) { return kColors[i % (sizeof(kColors) / sizeof(kColors[0]))]; }

// The points grouped by one coordinate (servers when `over_workers`), each
// group sorted by the other.
std::map<int, SeriesPoints> Lines(const SeriesPoints& s, bool over_workers) {
  std::map<int, SeriesPoints> lines;
  for (const PointSummary* p : s) {
    if (!std::isfinite(p->mean)) continue;
    lines[over_workers ? p->point.servers : p->point.workers].push_back(p);
  }
  for (auto& [key, line] : lines) {
    std::sort(line.begin(), line.end(), [&](const PointSummary* a, const PointSummary* b) {
      return over_workers ? a->point.workers < b->point.workers
                          : a->point.servers < b->point.servers;
    });
  }
  return lines;
}

double Along(const PointSummary* p, bool over_workers) {
  return over_workers ? p->point.workers : p->point.servers;
}

std::set<int> Distinct(const SeriesPoints& s, bool workers) {
  std::set<int> values;
  for (const PointSummary* p : s) values.insert(workers ? p->point.workers : p->point.servers);
  return values;
}

std::vector<std::string> ShapeLabels(const SeriesPoints& s) {
  std::vector<std::string> labels;
  for (const PointSummary* p : s) labels.push_back(p->point.ShapeLabel());
  return labels;
}

}  // namespace

std::string ThroughputFigure(const SeriesPoints& s, const SeriesPoints& old, bool over_workers,
                             const std::string& unit) {
  if (Distinct(s, over_workers).size() < 2) return "";
  const char* along = over_workers ? "workers" : "servers";
  const char* per = over_workers ? "server" : "worker";
  LinePlot plot;
  plot.title = std::string("Throughput against ") + along;
  plot.x_label = std::string(along) + " (log)";
  plot.log_x = true;
  plot.y_label = unit;
  size_t i = 0;
  for (const auto& [key, line] : Lines(s, over_workers)) {
    Series m, ideal;
    m.name = Count(key, per);
    m.color = ideal.color = Color(i);
    ideal.name = i == 0 ? "ideal (linear)" : "";
    ideal.dashed = true;
    ideal.markers = false;
    for (const PointSummary* p : line) {
      m.x.push_back(Along(p, over_workers));
      m.y.push_back(p->mean);
      m.ymin.push_back(p->min);
      m.ymax.push_back(p->max);
      ideal.x.push_back(Along(p, over_workers));
      ideal.y.push_back(line[0]->mean * Along(p, over_workers) / Along(line[0], over_workers));
    }
    if (line.size() > 1) plot.series.push_back(ideal);
    plot.series.push_back(m);
    ++i;
  }
  bool first_old = true;
  for (const auto& [key, line] : Lines(old, over_workers)) {
    Series o;
    o.name = first_old ? "older sweep" : "";
    first_old = false;
    o.color = kOldColor;
    o.dashed = o.hollow = true;
    for (const PointSummary* p : line) {
      o.x.push_back(Along(p, over_workers));
      o.y.push_back(p->mean);
      o.ymin.push_back(p->min);
      o.ymax.push_back(p->max);
    }
    plot.series.push_back(o);
  }
  return RenderLinePlot(plot);
}

std::string SpeedupFigure(const SeriesPoints& s, bool efficiency) {
  if (Distinct(s, true).size() < 2) return "";
  LinePlot plot;
  plot.title = efficiency ? "Efficiency (speedup / worker ratio)" : "Speedup against workers";
  plot.x_label = "workers (log)";
  plot.log_x = true;
  plot.y_label = efficiency ? "efficiency" : "speedup over fewest workers";
  size_t i = 0;
  Series ideal;
  ideal.name = "ideal";
  ideal.color = "#444";
  ideal.dashed = true;
  ideal.markers = false;
  std::set<double> ideal_x;
  for (const auto& [servers, line] : Lines(s, true)) {
    Series m;
    m.name = Count(servers, "server");
    m.color = Color(i++);
    const double base = line[0]->mean, w0 = line[0]->point.workers;
    for (const PointSummary* p : line) {
      const double ratio = p->point.workers / w0;
      m.x.push_back(p->point.workers);
      m.y.push_back(efficiency ? p->mean / base / ratio : p->mean / base);
      ideal_x.insert(p->point.workers);
    }
    plot.series.push_back(m);
  }
  const double w0 = *ideal_x.begin();
  for (double x : ideal_x) {
    ideal.x.push_back(x);
    ideal.y.push_back(efficiency ? 1.0 : x / w0);
  }
  plot.series.insert(plot.series.begin(), ideal);
  return RenderLinePlot(plot);
}

std::string BreakdownFigure(const SeriesPoints& s) {
  StackedBars bars;
  bars.title = "Step time by phase (one worker, mean of repeats)";
  bars.y_label = "ms per step";
  bool any[kPhases] = {};
  for (const PointSummary* p : s) {
    for (int k = 0; k < kPhases; ++k) any[k] |= std::isfinite(p->phase_ms[k]) && p->phase_ms[k] > 0;
  }
  std::vector<int> shown;
  for (int k = 0; k < kPhases; ++k) {
    if (!any[k]) continue;
    shown.push_back(k);
    bars.components.push_back(kPhaseNames[k]);
    bars.colors.push_back(kPhaseColors[k]);
  }
  if (shown.empty()) return "";
  for (const PointSummary* p : s) {
    bars.categories.push_back(p->point.ShapeLabel());
    std::vector<double> row;
    for (int k : shown) row.push_back(p->phase_ms[k]);
    bars.values.push_back(row);
  }
  return RenderStackedBars(bars);
}

std::string LatencyFigure(const SeriesPoints& s, const SeriesPoints& old) {
  if (s.empty() || s[0]->point.workload != "bench-ps") return "";
  LinePlot plot;
  plot.title = "Request latency percentiles";
  plot.y_label = "ms";
  plot.x_label = "shape";
  plot.x_categories = ShapeLabels(s);
  const char* names[4] = {"pull p50", "pull p99", "push p50", "push p99"};
  const char* colors[4] = {"#1f77b4", "#1f77b4", "#ff7f0e", "#ff7f0e"};
  std::map<std::string, const PointSummary*> old_by_key;
  for (const PointSummary* p : old) old_by_key[p->point.Key()] = p;
  for (int k = 0; k < 4; ++k) {
    Series m, o;
    m.name = names[k];
    m.color = colors[k];
    m.dashed = k % 2 == 1;
    o.color = kOldColor;
    o.hollow = true;
    o.line = false;
    for (size_t i = 0; i < s.size(); ++i) {
      const PointSummary& p = *s[i];
      const double v[4] = {p.pull_p50_ms, p.pull_p99_ms, p.push_p50_ms, p.push_p99_ms};
      m.x.push_back(static_cast<double>(i));
      m.y.push_back(v[k]);
      auto it = old_by_key.find(p.point.Key());
      if (it != old_by_key.end()) {
        const PointSummary& q = *it->second;
        const double w[4] = {q.pull_p50_ms, q.pull_p99_ms, q.push_p50_ms, q.push_p99_ms};
        o.x.push_back(static_cast<double>(i));
        o.y.push_back(w[k]);
      }
    }
    if (k == 0 && !o.x.empty()) o.name = "older sweep";
    plot.series.push_back(m);
    if (!o.x.empty()) plot.series.push_back(o);
  }
  return RenderLinePlot(plot);
}

std::string SpreadFigure(const SeriesPoints& s, const SeriesPoints& old, const std::string& unit) {
  LinePlot plot;
  plot.title = "Spread of the repeats (one marker per run)";
  plot.y_label = unit;
  plot.x_label = "shape (left to right within a shape: round 0, 1, ...)";
  plot.x_categories = ShapeLabels(s);
  Series runs, mean, o;
  runs.name = "run";
  runs.color = "#1f77b4";
  runs.line = false;
  runs.marker_radius = 3;
  mean.name = "mean, min-max";
  mean.color = "#d62728";
  mean.line = false;
  mean.marker_radius = 2;
  o.name = "older sweep's runs";
  o.color = kOldColor;
  o.line = false;
  o.hollow = true;
  o.marker_radius = 3;
  std::map<std::string, const PointSummary*> old_by_key;
  for (const PointSummary* p : old) old_by_key[p->point.Key()] = p;
  for (size_t i = 0; i < s.size(); ++i) {
    const PointSummary& p = *s[i];
    const double n = static_cast<double>(p.runs.size());
    for (size_t r = 0; r < p.runs.size(); ++r) {
      // Spread the repeats across a third of the slot, in run order.
      const double offset = n > 1 ? (static_cast<double>(r) / (n - 1) - 0.5) * 0.3 : 0;
      runs.x.push_back(static_cast<double>(i) + offset);
      runs.y.push_back(p.runs[r]->throughput);
      runs.point_attrs.push_back("class=\"run\" data-run=\"" + std::to_string(p.runs[r]->run) +
                                 "\"");
    }
    mean.x.push_back(static_cast<double>(i) + 0.25);
    mean.y.push_back(p.mean);
    mean.ymin.push_back(p.min);
    mean.ymax.push_back(p.max);
    auto it = old_by_key.find(p.point.Key());
    if (it != old_by_key.end()) {
      for (const RunRecord* r : it->second->runs) {
        o.x.push_back(static_cast<double>(i) - 0.3);
        o.y.push_back(r->throughput);
      }
    }
  }
  plot.series.push_back(runs);
  plot.series.push_back(mean);
  if (!o.x.empty()) plot.series.push_back(o);
  return RenderLinePlot(plot);
}

std::string ProjectionFigure(const SeriesModel& model, const Projection& projection,
                             const std::string& unit) {
  LinePlot plot;
  plot.title = "Projected throughput, S = W = n (model)";
  plot.x_label = "servers = workers = n (log)";
  plot.y_label = unit + " (log)";
  plot.log_x = plot.log_y = true;
  plot.badge = "PROJECTION";
  Series ideal;
  ideal.name = "ideal: n x (1S+1W, no network)";
  ideal.color = "#444";
  ideal.dashed = true;
  ideal.markers = false;
  const double single = model.inputs.units_per_step / (model.fit.worker_s + model.fit.server_s);
  for (int n : projection.nodes()) {
    ideal.x.push_back(n);
    ideal.y.push_back(n * single);
  }
  for (int i = 0; i < projection.link_gbps_size(); ++i) {
    Series s;
    s.name = FormatNumber(projection.link_gbps(i)) + " Gbit/s links";
    s.color = Color(static_cast<size_t>(i));
    s.dashed = true;
    s.hollow = true;
    for (int n : projection.nodes()) {
      s.x.push_back(n);
      s.y.push_back(ClusterThroughput(model.fit, model.inputs, n, n, projection.link_gbps(i)));
    }
    plot.series.push_back(s);
  }
  plot.series.push_back(ideal);
  return RenderLinePlot(plot);
}

std::string ValidationFigure(const SeriesModel& model, const std::string& unit) {
  LinePlot plot;
  plot.title = "Model against the measured shapes";
  plot.y_label = unit;
  plot.x_label = "shape";
  Series measured, fitted;
  measured.name = "measured (mean, min-max)";
  measured.color = "#1f77b4";
  measured.line = false;
  fitted.name = "model";
  fitted.color = "#b03030";
  fitted.line = false;
  fitted.hollow = true;
  fitted.marker_radius = 5;
  for (size_t i = 0; i < model.points.size(); ++i) {
    const PointSummary& p = *model.points[i];
    plot.x_categories.push_back(p.point.ShapeLabel());
    measured.x.push_back(static_cast<double>(i));
    measured.y.push_back(p.mean);
    measured.ymin.push_back(p.min);
    measured.ymax.push_back(p.max);
    fitted.x.push_back(static_cast<double>(i) + 0.15);
    fitted.y.push_back(model.fit.predicted[i]);
  }
  plot.series.push_back(measured);
  plot.series.push_back(fitted);
  return RenderLinePlot(plot);
}

}  // namespace metaps::scale
