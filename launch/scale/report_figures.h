// The report's figures for one series (the shapes of one workload setting).
// Each returns an <svg> element, or "" when the series has nothing to show
// there (e.g. a single server count for throughput against servers).
// `old` is the overlaid sweep's same series (may be empty).
#pragma once

#include <string>
#include <vector>

#include "common/proto/scale.pb.h"
#include "launch/scale/report.h"
#include "launch/scale/runs.h"

namespace metaps::scale {

using SeriesPoints = std::vector<const PointSummary*>;

// Throughput against workers (one line per server count) or against servers
// (one line per worker count), with min/max bars and the ideal linear line
// from each line's smallest shape.
std::string ThroughputFigure(const SeriesPoints& s, const SeriesPoints& old, bool over_workers,
                             const std::string& unit);
// Speedup (or efficiency = speedup / worker ratio) against workers, relative
// to each server count's fewest workers.
std::string SpeedupFigure(const SeriesPoints& s, bool efficiency);
// Milliseconds per worker step by phase, one stacked bar per shape.
std::string BreakdownFigure(const SeriesPoints& s);
// bench-ps pull and push p50 / p99 per shape.
std::string LatencyFigure(const SeriesPoints& s, const SeriesPoints& old);
// Every run's throughput (one marker per run, data-run="N"), per shape.
std::string SpreadFigure(const SeriesPoints& s, const SeriesPoints& old, const std::string& unit);
// Projected throughput for S = W = n at each link bandwidth, log-log.
std::string ProjectionFigure(const SeriesModel& model, const Projection& projection,
                             const std::string& unit);
// Measured means against the fitted model's values at the measured shapes.
std::string ValidationFigure(const SeriesModel& model, const std::string& unit);

}  // namespace metaps::scale
