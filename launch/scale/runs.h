// The runs of a sweep: one record per run (one line of runs.jsonl), read from
// a run's output, written and read back as JSON lines, and summed up per
// point (mean, min and max over the repeats).
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "common/status.h"
#include "launch/scale/sweep.h"

namespace metaps::scale {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The phases of a step, in the order the stacked bars draw them.
constexpr int kPhases = 5;
extern const char* const kPhaseNames[kPhases];  // read, pull, compute, push, allreduce

struct RunRecord {
  ScalePoint point;
  std::string sweep;  // the sweep's name
  std::string host;   // where the driver ran
  int cores = 0;      // its online CPUs
  // How the run was started: "local" (launch/local.sh: every rank on this
  // machine), "cluster" (launch/cluster.sh and a hostfile), "inprocess" or
  // "custom" (the sweep's own launcher words).
  std::string launcher = "local";
  int run = 0;    // index in the sweep, in the order run
  int round = 0;  // the repeat round
  bool ok = false;
  std::string error;  // why not ok: exit status, missing result line
  double wall_s = 0;  // the launcher's whole run, start-up included
  // bench-ps: keys per second through whole pull + push steps
  // (1 / (1/pull + 1/push) of its rows/s); train: samples per second.
  double throughput = kNaN;
  // Milliseconds per step of one worker: read, pull, compute, push, allreduce
  // (bench-ps: mean pull and push of a request; the others 0).
  double phase_ms[kPhases] = {kNaN, kNaN, kNaN, kNaN, kNaN};
  // bench-ps only: per-request latency percentiles.
  double pull_p50_ms = kNaN, pull_p99_ms = kNaN, push_p50_ms = kNaN, push_p99_ms = kNaN;
  std::string result;  // the run's own JSON result line, as printed
  std::string log;     // its output file, relative to the sweep's directory

  // "rows/s" or "samples/s".
  std::string Unit() const;
  double StepMs() const;  // the sum of the phases
};

// Reads the result line from a run's stdout: the last line that is a JSON
// object with "bench":"ps" (bench-ps) or "event":"done" (train), and fills
// throughput, phases and latencies. Error: no such line.
Status ParseRunOutput(const std::string& stdout_text, RunRecord* record);

std::string ToJsonLine(const RunRecord& record);
// `where` names the line in errors ("runs.jsonl:3").
StatusOr<RunRecord> ParseJsonLine(const std::string& line, const std::string& where);
// Every line of a runs.jsonl file (blank lines skipped).
StatusOr<std::vector<RunRecord>> ReadRunsFile(const std::string& path);

// One point's successful repeats.
struct PointSummary {
  ScalePoint point;
  std::vector<const RunRecord*> runs;  // ok runs, in run order
  int failed = 0;
  double mean = kNaN, min = kNaN, max = kNaN;                 // throughput
  double phase_ms[kPhases] = {kNaN, kNaN, kNaN, kNaN, kNaN};  // means
  double pull_p50_ms = kNaN, pull_p99_ms = kNaN, push_p50_ms = kNaN, push_p99_ms = kNaN;
};

// Points in the order their first run appears. `runs` must outlive the result.
std::vector<PointSummary> Summarize(const std::vector<RunRecord>& runs);

}  // namespace metaps::scale
