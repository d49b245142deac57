// An analytic model of a step's time, fitted on measured cluster shapes and
// used to project throughput to clusters larger than this machine.
//
// One worker's step (bench-ps: a pull and a push of `batch` keys; train: one
// batch) takes
//   measured here:  t = max(w + (W/S) s, W (w + s) / C) + a_measured(W)
//   on a cluster:   t = w + (W/S) s + 2 L + R B max(1, W/S) / bw + a(W)
//                   a(W) = 2 (W-1) L + 2 (W-1)/W D / bw    (ring all-reduce, 0 at W = 1)
// w: the worker's own time per step (reading, compute, the client's share of
//    pull and push), fitted; s: the servers' time to serve one worker's step
//    (spread over S servers, W workers queue at each), fitted;
// C: the cores the local runs effectively had (all ranks of a local run compete
//    for them; fitted in [0.5, the machine's cores] when 4 or more shapes were
//    measured, since other load on the machine takes its share);
// L: a network round trip; R rows of B bytes pulled and pushed per step (each
//    direction of a full-duplex link); D dense bytes all-reduced; bw: link bits/s.
// Throughput = W * units_per_step / t.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace metaps::scale {

struct ModelInputs {
  double units_per_step = 1;  // keys (bench-ps) or examples (train) per worker step
  double rows_per_step = 1;   // rows pulled (and pushed) per worker step
  double row_bytes = 264;     // wire bytes per row: 4 * dim + an 8-byte key
  double dense_bytes = 0;     // all-reduced per step; 0: no all-reduce
  double latency_s = 20e-6;   // one network round trip
  double local_cores = 2;     // cores the measured runs shared (the most C can be)
  bool fit_cores = false;     // fit C in [0.5, local_cores] instead of taking local_cores
  // False when the shapes ran on separate hosts (launch/cluster.sh): no core
  // sharing, C is taken as unbounded.
  bool shared_cores = true;
};

struct Measurement {
  int servers = 1, workers = 1;
  double throughput = 0;   // units per second, the mean of the repeats
  double allreduce_s = 0;  // measured all-reduce time per step
};

struct FittedModel {
  double worker_s = 0;  // w
  double server_s = 0;  // s
  double cores = 1;     // C
  // False when every measured shape has the same W/S: then only w + (W/S) s
  // is determined, and the fit takes w = s.
  bool identifiable = true;
  std::vector<double> predicted;  // per measurement, units/s
  std::vector<double> error;      // per measurement: predicted / measured - 1
  double max_error = 0;           // max |error|: the model's stated error
  double rms_error = 0;
  int parameters = 2;  // fitted: w, s (1 when not identifiable), C
};

// The model's throughput for a shape measured here (all ranks on `cores`
// cores), given the all-reduce time measured there.
double LocalThroughput(double worker_s, double server_s, double cores, const ModelInputs& in,
                       int servers, int workers, double allreduce_s);
// The projection for a cluster whose hosts have links of `link_gbps`.
double ClusterThroughput(const FittedModel& model, const ModelInputs& in, int servers, int workers,
                         double link_gbps);

// Least squares on log(predicted / measured) over w, s >= 0 (and C). Error: no
// measurement with a positive throughput.
StatusOr<FittedModel> FitModel(const std::vector<Measurement>& measured, const ModelInputs& in);

// Cross-validation: for each measurement, the error of the model fitted on
// all the others (NaN where the others are fewer than the parameters, or
// where they cannot be fitted). A check on the model that the fitted error,
// with as many parameters as points, cannot give.
std::vector<double> HeldOutErrors(const std::vector<Measurement>& measured, const ModelInputs& in);

// The fitted values and the assumptions, one line each, for printing beside
// the projected curves.
std::vector<std::string> DescribeModel(const FittedModel& model, const ModelInputs& in,
                                       const std::string& unit);

}  // namespace metaps::scale
