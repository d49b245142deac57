#include "launch/scale/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "launch/scale/report_figures.h"
#include "launch/scale/svg.h"

namespace metaps::scale {
namespace {

constexpr char kStyle[] = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; }
.meta { color: #555; font-size: 13px; } code { background: #f3f3f3; padding: 1px 4px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; }
.figs svg { border: 1px solid #ddd; }
.projection { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.assumptions { max-width: 560px; font-size: 13px; border: 2px dashed #b03030; padding: 8px 12px; }
.assumptions h4 { margin: 4px 0; color: #b03030; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
tr.failed td { color: #b00; } td.worse { background: #fbe0e0; } td.better { background: #e0f4e0; }
)";

std::string Fmt(const char* format, double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// Summary rows: one per point, with the older sweep's mean when overlaid.
void SummaryTable(std::ostringstream& out, const std::vector<PointSummary>& points,
                  const std::map<std::string, const PointSummary*>& old) {
  out << "<table><tr><th class=\"l\">series</th><th>shape</th><th>runs</th><th>failed</th>"
      << "<th>mean</th><th>min</th><th>max</th><th class=\"l\">unit</th><th>spread</th>"
      << "<th>step ms</th>";
  if (!old.empty()) out << "<th>old mean</th><th>new / old</th>";
  out << "</tr>\n";
  for (const PointSummary& p : points) {
    double step = 0;
    for (double ms : p.phase_ms) step += std::isfinite(ms) ? ms : 0;
    out << "<tr><td class=\"l\">" << XmlEscape(p.point.SeriesLabel()) << "</td><td>"
        << p.point.ShapeLabel() << "</td><td>" << p.runs.size() << "</td><td>" << p.failed
        << "</td><td>" << FormatNumber(p.mean) << "</td><td>" << FormatNumber(p.min) << "</td><td>"
        << FormatNumber(p.max) << "</td><td class=\"l\">"
        << (p.point.workload == "train" ? "samples/s" : "rows/s") << "</td><td>"
        << Fmt("%.1f%%", p.mean > 0 ? (p.max - p.min) / p.mean * 100 : NAN) << "</td><td>"
        << Fmt("%.2f", step) << "</td>";
    if (!old.empty()) {
      auto it = old.find(p.point.Key());
      if (it == old.end() || !std::isfinite(it->second->mean)) {
        out << "<td>-</td><td>-</td>";
      } else {
        const PointSummary& o = *it->second;
        // Outside both spreads: a change the repeats cannot explain.
        const char* cls = p.max < o.min   ? " class=\"worse\""
                          : p.min > o.max ? " class=\"better\""
                                          : "";
        out << "<td>" << FormatNumber(o.mean) << "</td><td" << cls << ">"
            << Fmt("%.3f", p.mean / o.mean) << "</td>";
      }
    }
    out << "</tr>\n";
  }
  out << "</table>\n";
}

void RunsTable(std::ostringstream& out, const std::vector<RunRecord>& runs) {
  out << "<table><tr><th>run</th><th>round</th><th class=\"l\">series</th><th>shape</th>"
      << "<th>throughput</th><th>unit</th><th>step ms</th><th>wall s</th>"
      << "<th class=\"l\">status</th><th class=\"l\">log</th></tr>\n";
  for (const RunRecord& r : runs) {
    out << "<tr" << (r.ok ? "" : " class=\"failed\"") << "><td>" << r.run << "</td><td>" << r.round
        << "</td><td class=\"l\">" << XmlEscape(r.point.SeriesLabel()) << "</td><td>"
        << r.point.ShapeLabel() << "</td><td>" << FormatNumber(r.throughput) << "</td><td>"
        << r.Unit() << "</td><td>" << Fmt("%.2f", r.StepMs()) << "</td><td>"
        << Fmt("%.1f", r.wall_s) << "</td><td class=\"l\">" << (r.ok ? "ok" : XmlEscape(r.error))
        << "</td><td class=\"l\">" << XmlEscape(r.log) << "</td></tr>\n";
  }
  out << "</table>\n";
}

void ProjectionSection(std::ostringstream& out, const SeriesModel& model,
                       const Projection& projection, const std::string& unit) {
  out << "<h3>Projection beyond this machine (a model, not a measurement)</h3>\n"
      << "<div class=\"projection\">" << ProjectionFigure(model, projection, unit)
      << "<div class=\"assumptions\"><h4>PROJECTION: assumptions</h4><ul>\n";
  for (const std::string& line : DescribeModel(model.fit, model.inputs, unit)) {
    out << "<li>" << XmlEscape(line) << "</li>\n";
  }
  out << "</ul></div></div>\n<h3>The model against the measured shapes it was fitted on</h3>\n"
      << "<div class=\"projection\">" << ValidationFigure(model, unit) << "<div>\n"
      << "<table class=\"validation\"><tr><th>shape</th><th>measured</th>"
      << "<th>min</th><th>max</th><th>model</th><th>error</th><th>held-out error</th></tr>\n";
  for (size_t i = 0; i < model.points.size(); ++i) {
    const PointSummary& p = *model.points[i];
    out << "<tr><td>" << p.point.ShapeLabel() << "</td><td>" << FormatNumber(p.mean) << "</td><td>"
        << FormatNumber(p.min) << "</td><td>" << FormatNumber(p.max) << "</td><td>"
        << FormatNumber(model.fit.predicted[i]) << "</td><td>"
        << Fmt("%+.1f%%", model.fit.error[i] * 100) << "</td><td>"
        << Fmt("%+.1f%%", model.held_out_error[i] * 100) << "</td></tr>\n";
  }
  out << "</table>\n<p class=\"meta\">Stated model error (max over the fitted shapes): "
      << "<b class=\"model-error\" data-max-error=\"" << Fmt("%.6f", model.fit.max_error) << "\">"
      << Fmt("&plusmn;%.1f%%", model.fit.max_error * 100) << "</b> (RMS "
      << Fmt("%.1f%%", model.fit.rms_error * 100) << ").</p></div></div>\n";
}

}  // namespace

StatusOr<SeriesModel> ModelSeries(const std::vector<const PointSummary*>& series,
                                  const Projection& projection, int local_cores, bool fit_cores) {
  SeriesModel m;
  for (const PointSummary* p : series) {
    if (!std::isfinite(p->mean) || p->mean <= 0) continue;
    m.points.push_back(p);
    Measurement x;
    x.servers = p->point.servers;
    x.workers = p->point.workers;
    x.throughput = p->mean;
    const double ar = p->phase_ms[4];
    x.allreduce_s = std::isfinite(ar) ? ar / 1e3 : 0;
    m.measured.push_back(x);
  }
  if (m.points.empty()) return InvalidArgument("no shape of the series has a throughput");
  const ScalePoint& first = m.points[0]->point;
  const bool train = first.workload == "train";
  m.inputs.units_per_step = first.batch > 0 ? first.batch : 1;
  m.inputs.rows_per_step = m.inputs.units_per_step * (train ? projection.rows_per_example() : 1);
  m.inputs.row_bytes = 4.0 * std::max(first.dim, 1) + 8;
  m.inputs.dense_bytes = train ? projection.dense_bytes() : 0;
  m.inputs.latency_s = projection.latency_us() * 1e-6;
  m.inputs.local_cores = local_cores > 0 ? local_cores : 1;
  m.inputs.fit_cores = fit_cores && m.points.size() >= 4;
  bool cluster = true;
  for (const PointSummary* p : m.points) cluster &= p->runs[0]->launcher == "cluster";
  if (cluster) {
    m.inputs.shared_cores = m.inputs.fit_cores = false;
    m.inputs.local_cores = 1e6;
  }
  ASSIGN_OR_RETURN(m.fit, FitModel(m.measured, m.inputs));
  m.held_out_error = HeldOutErrors(m.measured, m.inputs);
  return m;
}

std::string RenderReport(const std::vector<RunRecord>& runs, const ReportOptions& options) {
  const std::vector<PointSummary> points = Summarize(runs);
  const std::vector<PointSummary> old_points = Summarize(options.old_runs);
  std::map<std::string, const PointSummary*> old_by_key;
  for (const PointSummary& p : old_points) old_by_key[p.point.Key()] = &p;
  int cores = options.local_cores;
  std::string host;
  int failed = 0, rounds = 0;
  bool cluster = !runs.empty();
  for (const RunRecord& r : runs) {
    cluster &= r.launcher == "cluster";
    if (cores <= 0 && r.cores > 0) cores = r.cores;
    if (host.empty()) host = r.host;
    failed += r.ok ? 0 : 1;
    rounds = std::max(rounds, r.round + 1);
  }
  if (cores <= 0) cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>metaps scale: "
      << XmlEscape(options.title) << "</title>\n<style>" << kStyle << "</style></head><body>\n"
      << "<h1>metaps scale: " << XmlEscape(options.title) << "</h1>\n<p class=\"meta\">"
      << runs.size() << " runs (" << failed << " failed) of " << points.size() << " points in "
      << rounds << " interleaved rounds, "
      << (cluster ? "on the hosts of a hostfile (launch/cluster.sh), driven from " : "on ")
      << XmlEscape(host.empty() ? "?" : host) << " (" << cores
      << (cluster ? " cores)" : " cores shared by every rank of a local run)")
      << ". Throughput: bench-ps keys per "
      << "second through whole pull + push steps, train samples per second. Error bars: min "
      << "and max of the repeats.";
  if (!options.command.empty())
    out << "<br>Made by <code>" << XmlEscape(options.command) << "</code>.";
  if (!options.compare_path.empty()) {
    out << "<br>Overlaid (grey, dashed, open markers): <code>" << XmlEscape(options.compare_path)
        << "</code>, " << options.old_runs.size() << " runs.";
  }
  out << "</p>\n<h2>Summary</h2>\n";
  SummaryTable(out, points, old_by_key);

  // Series in the order of their first point.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const PointSummary*>> series, old_series;
  for (const PointSummary& p : points) {
    const std::string key = p.point.SeriesKey();
    if (!series.count(key)) order.push_back(key);
    series[key].push_back(&p);
  }
  for (const PointSummary& p : old_points) old_series[p.point.SeriesKey()].push_back(&p);
  for (const std::string& key : order) {
    const std::vector<const PointSummary*>& s = series[key];
    const std::vector<const PointSummary*>& o = old_series[key];
    const std::string unit = s[0]->point.workload == "train" ? "samples/s" : "rows/s";
    out << "<h2>" << XmlEscape(s[0]->point.SeriesLabel()) << "</h2>\n<div class=\"figs\">\n"
        << ThroughputFigure(s, o, /*over_workers=*/true, unit)
        << ThroughputFigure(s, o, /*over_workers=*/false, unit) << SpeedupFigure(s, false)
        << SpeedupFigure(s, true) << BreakdownFigure(s) << LatencyFigure(s, o)
        << SpreadFigure(s, o, unit) << "</div>\n";
    StatusOr<SeriesModel> model =
        ModelSeries(s, options.projection, cores, options.projection.local_cores() == 0);
    if (model.ok()) {
      ProjectionSection(out, *model, options.projection, unit);
    } else {
      out << "<p class=\"meta\">No projection: " << XmlEscape(model.status().message()) << "</p>\n";
    }
  }
  out << "<h2>Runs</h2>\n";
  RunsTable(out, runs);
  out << "</body></html>\n";
  return out.str();
}

}  // namespace metaps::scale
