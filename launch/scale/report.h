// The scaling report: one self-contained HTML page (inline SVG, inline CSS, no
// script, nothing fetched) with, per series of a sweep, throughput against
// workers and servers with the ideal line, speedup and efficiency, the step
// time by phase, latency percentiles, the spread of the repeats, and the
// projection to larger clusters with its assumptions and its error on the
// measured shapes. An older sweep can be overlaid (grey, dashed, hollow).
#pragma once

#include <string>
#include <vector>

#include "common/proto/scale.pb.h"
#include "common/status.h"
#include "launch/scale/projection.h"
#include "launch/scale/runs.h"

namespace metaps::scale {

struct ReportOptions {
  std::string title;                // the sweep's name
  std::string command;              // the command line that made the runs, shown at the top
  Projection projection;            // the model's inputs (defaults filled by ParseSweep)
  int local_cores = 0;              // cores the runs shared; 0: the runs' own "cores" field
  std::string compare_path;         // empty: no overlay
  std::vector<RunRecord> old_runs;  // the overlaid sweep's runs
};

// The projection of one series (one workload, dim, batch, consistency, CURVE
// setting over its shapes): the model's inputs, the measured shapes it was
// fitted on, and the fit. `fit_cores`: fit the cores the runs effectively had
// (up to `local_cores`) when the series has 4 or more shapes.
struct SeriesModel {
  ModelInputs inputs;
  std::vector<const PointSummary*> points;  // the shapes with a mean throughput
  std::vector<Measurement> measured;        // one per point
  FittedModel fit;
  std::vector<double> held_out_error;  // HeldOutErrors, one per point
};
StatusOr<SeriesModel> ModelSeries(const std::vector<const PointSummary*>& series,
                                  const Projection& projection, int local_cores, bool fit_cores);

std::string RenderReport(const std::vector<RunRecord>& runs, const ReportOptions& options);

}  // namespace metaps::scale
