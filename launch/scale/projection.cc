#include "launch/scale/projection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "launch/scale/svg.h"

namespace metaps::scale {
namespace {

double LogError(double worker_s, double server_s, double cores, const ModelInputs& in,
                const std::vector<Measurement>& measured) {
  double sum = 0;
  for (const Measurement& m : measured) {
    if (!(m.throughput > 0)) continue;
    const double p =
        LocalThroughput(worker_s, server_s, cores, in, m.servers, m.workers, m.allreduce_s);
    const double e = std::log(p / m.throughput);
    sum += e * e;
  }
  return sum;
}

// Candidates 0 and lo * (hi/lo)^(i/(n-1)).
std::vector<double> LogGrid(double lo, double hi, int n) {
  std::vector<double> grid = {0};
  for (int i = 0; i < n; ++i) grid.push_back(lo * std::pow(hi / lo, i / double(n - 1)));
  return grid;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

}  // namespace

double LocalThroughput(double worker_s, double server_s, double cores, const ModelInputs& in,
                       int servers, int workers, double allreduce_s) {
  const double w = worker_s, s = server_s, W = workers, S = servers;
  const double t =
      std::max(w + W / S * s, W * (w + s) / std::max(cores, 0.01)) + std::max(0.0, allreduce_s);
  return t > 0 ? W * in.units_per_step / t : 0;
}

double ClusterThroughput(const FittedModel& m, const ModelInputs& in, int servers, int workers,
                         double link_gbps) {
  const double W = workers, S = servers, bw = link_gbps * 1e9;
  const double network =
      2 * in.latency_s + in.rows_per_step * in.row_bytes * std::max(1.0, W / S) * 8 / bw;
  const double allreduce =
      workers > 1 && in.dense_bytes > 0
          ? 2 * (W - 1) * in.latency_s + 2 * (W - 1) / W * in.dense_bytes * 8 / bw
          : 0;
  const double t = m.worker_s + W / S * m.server_s + network + allreduce;
  return t > 0 ? W * in.units_per_step / t : 0;
}

StatusOr<FittedModel> FitModel(const std::vector<Measurement>& measured, const ModelInputs& in) {
  std::vector<double> step;
  std::set<double> ratios;
  for (const Measurement& m : measured) {
    if (!(m.throughput > 0)) continue;
    step.push_back(m.workers * in.units_per_step / m.throughput);
    ratios.insert(double(m.workers) / m.servers);
  }
  if (step.empty()) return InvalidArgument("no measured throughput to fit the model on");
  std::sort(step.begin(), step.end());
  const double t0 = step[step.size() / 2];
  FittedModel best;
  best.identifiable = ratios.size() > 1;
  double best_err = INFINITY;
  double w_lo = t0 * 1e-4, w_hi = t0 * 10, s_lo = w_lo, s_hi = w_hi;
  // A coarse log grid, then two finer ones around the best cell.
  for (int pass = 0; pass < 3; ++pass) {
    const std::vector<double> ws = LogGrid(w_lo, w_hi, 121);
    const std::vector<double> ss = best.identifiable ? LogGrid(s_lo, s_hi, 121) : ws;
    std::vector<double> cores = {std::max(in.local_cores, 0.5)};
    if (in.fit_cores) {
      cores.clear();
      for (double c = 0.5; c <= in.local_cores + 1e-9; c += 0.05) cores.push_back(c);
    }
    auto consider = [&](double w, double sv) {
      for (double c : cores) {
        const double e = LogError(w, sv, c, in, measured);
        if (e < best_err) {
          best_err = e;
          best.worker_s = w;
          best.server_s = sv;
          best.cores = c;
        }
      }
    };
    for (double w : ws) {
      if (!best.identifiable) {
        consider(w, w);
        continue;
      }
      for (double s : ss) consider(w, s);
    }
    const double span = std::pow(w_hi / w_lo, 1.0 / 120) * 1.5;
    w_lo = std::max(best.worker_s, t0 * 1e-6) / span;
    w_hi = std::max(best.worker_s, t0 * 1e-6) * span;
    s_lo = std::max(best.server_s, t0 * 1e-6) / span;
    s_hi = std::max(best.server_s, t0 * 1e-6) * span;
  }
  double sq = 0;
  int n = 0;
  for (const Measurement& m : measured) {
    const double p = LocalThroughput(best.worker_s, best.server_s, best.cores, in, m.servers,
                                     m.workers, m.allreduce_s);
    const double e = m.throughput > 0 ? p / m.throughput - 1 : NAN;
    best.predicted.push_back(p);
    best.error.push_back(e);
    if (std::isfinite(e)) {
      best.max_error = std::max(best.max_error, std::fabs(e));
      sq += e * e;
      ++n;
    }
  }
  best.rms_error = n ? std::sqrt(sq / n) : 0;
  best.parameters = (best.identifiable ? 2 : 1) + (in.fit_cores ? 1 : 0);
  return best;
}

std::vector<double> HeldOutErrors(const std::vector<Measurement>& measured, const ModelInputs& in) {
  std::vector<double> errors(measured.size(), NAN);
  for (size_t i = 0; i < measured.size(); ++i) {
    std::vector<Measurement> others;
    for (size_t j = 0; j < measured.size(); ++j) {
      if (j != i && measured[j].throughput > 0) others.push_back(measured[j]);
    }
    StatusOr<FittedModel> fit = FitModel(others, in);
    if (!fit.ok() || static_cast<int>(others.size()) < fit->parameters ||
        !(measured[i].throughput > 0)) {
      continue;
    }
    const Measurement& m = measured[i];
    errors[i] = LocalThroughput(fit->worker_s, fit->server_s, fit->cores, in, m.servers, m.workers,
                                m.allreduce_s) /
                    m.throughput -
                1;
  }
  return errors;
}

std::vector<std::string> DescribeModel(const FittedModel& m, const ModelInputs& in,
                                       const std::string& unit) {
  std::vector<std::string> lines;
  lines.push_back("Fitted on the measured shapes: worker time per step w = " +
                  Fmt("%.3g ms", m.worker_s * 1e3) +
                  ", server time per worker step s = " + Fmt("%.3g ms", m.server_s * 1e3) + " (" +
                  (m.server_s > 0 ? FormatNumber(in.rows_per_step / m.server_s) : "unbounded") +
                  " rows/s per server).");
  if (!m.identifiable) {
    lines.push_back(
        "Every measured shape has the same W/S within the cores: only w + (W/S) s "
        "is determined; the fit assumes w = s.");
  }
  lines.push_back("Model error on the fitted points: max " + Fmt("%.1f%%", m.max_error * 100) +
                  ", RMS " + Fmt("%.1f%%", m.rms_error * 100) + ", with " +
                  std::to_string(m.parameters) + " fitted parameters for " +
                  std::to_string(m.predicted.size()) + " shapes" +
                  (static_cast<int>(m.predicted.size()) <= m.parameters
                       ? ": exact by construction, so it validates nothing; measure more shapes."
                       : "; the held-out errors in the table refit without each shape."));
  const std::string units = unit.rfind("rows", 0) == 0 ? "keys" : unit.substr(0, unit.find('/'));
  lines.push_back("Per worker step: " + FormatNumber(in.units_per_step) + " " + units + ", " +
                  FormatNumber(in.rows_per_step) + " rows of " + FormatNumber(in.row_bytes) +
                  " bytes pulled and pushed (no dedup), " +
                  (in.dense_bytes > 0 ? FormatNumber(in.dense_bytes) + " dense bytes all-reduced"
                                      : "no all-reduce") +
                  ".");
  lines.push_back("Network: " + Fmt("%.0f us", in.latency_s * 1e6) +
                  " per round trip, full-duplex links at the plotted bandwidth, a non-blocking "
                  "switch; each server's link carries W/S workers' rows.");
  lines.push_back(
      "Servers: keys hashed evenly over S servers (no hot-key skew), each server "
      "on its own host with the cores of a server measured here; workers likewise.");
  lines.push_back(
      "All-reduce: ring, 2(W-1) round trips and 2(W-1)/W of the dense bytes per "
      "link.");
  if (!in.shared_cores) {
    lines.push_back(
        "Measured on separate hosts (launch/cluster.sh): the fit assumes no core "
        "sharing between ranks.");
  } else {
    lines.push_back("Locally all ranks share C = " + Fmt("%.2f", m.cores) + " cores (" +
                    (in.fit_cores ? "fitted; the machine has " + Fmt("%.0f", in.local_cores) +
                                        ", shared with whatever else ran"
                                  : "the machine's") +
                    "); the projection gives every rank its own host, the main reason it scales "
                    "further than the measured points.");
  }
  lines.push_back(
      "Not modelled: stragglers, SSP/ASP overlap, CURVE cost beyond what w and s "
      "absorbed, switch oversubscription, failures.");
  return lines;
}

}  // namespace metaps::scale
