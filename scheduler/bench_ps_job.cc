#include "scheduler/bench_ps_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/control.h"
#include "scheduler/percentile.h"

namespace metaps {

Status BenchPsJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                            wire::Control*) {
  if (name == "ps/quiesce") return Status::Ok();
  if (name == "bench-ps/tables") {
    long long rows = 0, admitted = 0, pending = 0, evicted = 0;
    for (auto& e : entries) {
      ASSIGN_OR_RETURN(
          control::TableCounts c,
          DecodeTableCounts(e.request.header.control().payload(), view_.Describe(e.rank)));
      rows += c.rows();
      admitted += c.admitted();
      pending += c.pending_admission();
      evicted += c.evicted();
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
    if (m.frames.size() != 1) {
      return ProtocolError(view_.Describe(e.rank) + " sent a bench report in " +
                           std::to_string(m.frames.size()) + " frames, not 1");
    }
    ASSIGN_OR_RETURN(control::BenchPsResult r,
                     DecodeBenchPsResult(m.frames[0].to_string(), view_.Describe(e.rank)));
    pull_rows += r.pull_rows();
    push_rows += r.push_rows();
    pull_s = std::max(pull_s, r.pull_s());
    push_s = std::max(push_s, r.push_s());
    pull_ms.insert(pull_ms.end(), r.pull_ms().begin(), r.pull_ms().end());
    push_ms.insert(push_ms.end(), r.push_ms().begin(), r.push_ms().end());
  }
  const double row_bytes = static_cast<double>(report_.dim) * sizeof(float);
  const double pull_rps = pull_s > 0 ? pull_rows / pull_s : 0;
  const double push_rps = push_s > 0 ? push_rows / push_s : 0;
  char line[1024];
  std::snprintf(
      line, sizeof(line),
      "{\"bench\":\"ps\",\"servers\":%d,\"workers\":%d,\"dim\":%d,\"keys_per_request\":%zu,"
      "\"optimizer\":\"%s\",\"dist\":\"%s\",\"curve\":%s,\"data_plane\":\"%s\",\"shared_plan\":%s,"
      "\"requests\":%zu,"
      "\"pull_rows_per_s\":%.0f,\"push_rows_per_s\":%.0f,\"pull_gbps\":%.3f,\"push_gbps\":%.3f,"
      "\"pull_gbytes_per_s\":%.3f,\"push_gbytes_per_s\":%.3f,"
      "\"pull_p50_ms\":%.3f,\"pull_p99_ms\":%.3f,\"push_p50_ms\":%.3f,\"push_p99_ms\":%.3f",
      view_.layout.num_servers(), view_.layout.num_workers(), report_.dim, report_.keys_per_request,
      report_.optimizer.c_str(), report_.dist.c_str(), report_.curve ? "true" : "false",
      report_.data_plane.c_str(), report_.shared_plan ? "true" : "false", pull_ms.size(), pull_rps,
      push_rps, pull_rps * row_bytes * 8 / 1e9, push_rps * row_bytes * 8 / 1e9,
      pull_rps * row_bytes / 1e9, push_rps * row_bytes / 1e9, Percentile(pull_ms, 0.5),
      Percentile(pull_ms, 0.99), Percentile(push_ms, 0.5), Percentile(push_ms, 0.99));
  line_ = line;
  return Status::Ok();
}

}  // namespace metaps
