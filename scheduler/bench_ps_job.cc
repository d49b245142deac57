#include "scheduler/bench_ps_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scheduler/percentile.h"

namespace metaps {

Status BenchPsJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                            wire::Control*) {
  if (name == "ps/quiesce") return Status::Ok();
  if (name == "bench-ps/tables") {
    long long rows = 0, admitted = 0, pending = 0, evicted = 0;
    for (auto& e : entries) {
      long long r, a, p, v;
      if (std::sscanf(e.request.header.control().text().c_str(), "%lld %lld %lld %lld", &r, &a, &p,
                      &v) != 4) {
        return ProtocolError("rank " + std::to_string(e.rank) + " sent malformed table counts");
      }
      rows += r;
      admitted += a;
      pending += p;
      evicted += v;
    }
    char counts[256];
    std::snprintf(counts, sizeof(counts),
                  ",\"table_rows\":%lld,\"rows_admitted\":%lld,\"keys_pending_admission\":%lld,"
                  "\"rows_evicted\":%lld}\n",
                  rows, admitted, pending, evicted);
    std::fputs((line_ + counts).c_str(), stdout);
    std::fflush(stdout);
    reported_ = true;
    return Status::Ok();
  }
  if (name != "bench-ps/result") return InvalidArgument("bench-ps got unknown gather " + name);
  // Cluster throughput: rows moved by all workers over the slowest worker's
  // time inside the calls (workers run concurrently).
  double pull_rows = 0, push_rows = 0, pull_s = 0, push_s = 0;
  std::vector<double> pull_ms, push_ms;
  for (auto& e : entries) {
    const Message& m = e.request;
    if (m.frames.size() != 3 || m.frames[0].size() != 4 * sizeof(double) ||
        m.frames[1].size() % sizeof(double) || m.frames[2].size() % sizeof(double)) {
      return ProtocolError("rank " + std::to_string(e.rank) + " sent a malformed bench report");
    }
    const double* f = m.FrameAs<double>(0);
    pull_rows += f[0];
    push_rows += f[1];
    pull_s = std::max(pull_s, f[2]);
    push_s = std::max(push_s, f[3]);
    pull_ms.insert(pull_ms.end(), m.FrameAs<double>(1),
                   m.FrameAs<double>(1) + m.FrameCount<double>(1));
    push_ms.insert(push_ms.end(), m.FrameAs<double>(2),
                   m.FrameAs<double>(2) + m.FrameCount<double>(2));
  }
  const double row_bytes = static_cast<double>(report_.dim) * sizeof(float);
  const double pull_rps = pull_s > 0 ? pull_rows / pull_s : 0;
  const double push_rps = push_s > 0 ? push_rows / push_s : 0;
  char line[1024];
  std::snprintf(
      line, sizeof(line),
      "{\"bench\":\"ps\",\"servers\":%d,\"workers\":%d,\"dim\":%d,\"keys_per_request\":%zu,"
      "\"optimizer\":\"%s\",\"dist\":\"%s\",\"curve\":%s,\"shared_plan\":%s,"
      "\"requests\":%zu,"
      "\"pull_rows_per_s\":%.0f,\"push_rows_per_s\":%.0f,\"pull_gbps\":%.3f,\"push_gbps\":%.3f,"
      "\"pull_gbytes_per_s\":%.3f,\"push_gbytes_per_s\":%.3f,"
      "\"pull_p50_ms\":%.3f,\"pull_p99_ms\":%.3f,\"push_p50_ms\":%.3f,\"push_p99_ms\":%.3f",
      view_.layout.num_servers(), view_.layout.num_workers(), report_.dim, report_.keys_per_request,
      report_.optimizer.c_str(), report_.dist.c_str(), report_.curve ? "true" : "false",
      report_.shared_plan ? "true" : "false", pull_ms.size(), pull_rps, push_rps,
      pull_rps * row_bytes * 8 / 1e9, push_rps * row_bytes * 8 / 1e9, pull_rps * row_bytes / 1e9,
      push_rps * row_bytes / 1e9, Percentile(pull_ms, 0.5), Percentile(pull_ms, 0.99),
      Percentile(push_ms, 0.5), Percentile(push_ms, 0.99));
  line_ = line;
  return Status::Ok();
}

}  // namespace metaps
