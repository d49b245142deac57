// A scaling sweep (common/proto/scale.proto): loading with errors that name
// the file, line and field; its points (the union of its grids' cross
// products); the interleaved order of repeats; and each run's command line.
#pragma once

#include <string>
#include <vector>

#include "common/proto/scale.pb.h"
#include "common/status.h"

namespace metaps::scale {

// One cluster shape and workload of a sweep.
struct ScalePoint {
  std::string workload;  // "bench-ps" or "train"
  int servers = 1, workers = 1;
  int dim = 0, batch = 0;   // train: 0 until filled from the job config
  std::string consistency;  // train only; empty: the job's
  bool curve = true;

  // The point's identity across sweeps: "bench-ps|2|1|64|4096||curve".
  std::string Key() const;
  // Everything but the shape: the series a plot draws as lines over S and W.
  std::string SeriesKey() const;
  // "bench-ps dim 64, batch 4096, CURVE".
  std::string SeriesLabel() const;
  // "2S+1W".
  std::string ShapeLabel() const;
};

// Parses sweep text (named `source` in errors), fills defaults, validates.
StatusOr<Sweep> ParseSweep(const std::string& text, const std::string& source);
// The projection block's defaults, for a field left out (0 or empty).
void FillProjectionDefaults(Projection* projection);
// Reads the file, then as ParseSweep.
StatusOr<Sweep> LoadSweep(const std::string& path);

// Every grid's cross product, in file order (servers outermost, then
// workers, dim, batch, consistency, curve). Duplicate points are kept once.
std::vector<ScalePoint> ExpandPoints(const Sweep& sweep);

// The order of the points in round `round` of the repeats: the file order
// rotated by `round`, so that each point runs early in some rounds and late
// in others and slow phases of the machine spread over all points.
std::vector<int> RoundOrder(int points, int round);

// Where a run's programs and files are.
struct LaunchPaths {
  std::string bin;                       // the metaps binary (its own path)
  std::string source_dir;                // the checkout holding launch/local.sh, launch/cluster.sh
  std::string hostfile;                  // resolved; empty: this machine
  std::string train_config, train_data;  // resolved
};

// The command line of one run: the launcher's words with {servers},
// {workers}, {hostfile}, {bin} replaced, then the subcommand and its flags.
std::vector<std::string> RunArgv(const Sweep& sweep, const ScalePoint& point,
                                 const LaunchPaths& paths);

}  // namespace metaps::scale
