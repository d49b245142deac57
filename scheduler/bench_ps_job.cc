#include "scheduler/bench_ps_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/control.h"
#include "common/json.h"
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
    OrderedJson line = line_;
    line["table_rows"] = rows;
    line["rows_admitted"] = admitted;
    line["keys_pending_admission"] = pending;
    line["rows_evicted"] = evicted;
    std::fputs((JsonText(line) + "\n").c_str(), stdout);
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
  line_ = {{"bench", "ps"},
           {"servers", view_.layout.num_servers()},
           {"workers", view_.layout.num_workers()},
           {"dim", report_.dim},
           {"keys_per_request", report_.keys_per_request},
           {"optimizer", report_.optimizer},
           {"dist", report_.dist},
           {"curve", report_.curve},
           {"data_plane", report_.data_plane},
           {"shared_plan", report_.shared_plan},
           {"requests", pull_ms.size()},
           {"pull_rows_per_s", JsonRounded(pull_rps, 0)},
           {"push_rows_per_s", JsonRounded(push_rps, 0)},
           {"pull_gbps", JsonRounded(pull_rps * row_bytes * 8 / 1e9, 3)},
           {"push_gbps", JsonRounded(push_rps * row_bytes * 8 / 1e9, 3)},
           {"pull_gbytes_per_s", JsonRounded(pull_rps * row_bytes / 1e9, 3)},
           {"push_gbytes_per_s", JsonRounded(push_rps * row_bytes / 1e9, 3)},
           {"pull_p50_ms", JsonRounded(Percentile(pull_ms, 0.5), 3)},
           {"pull_p99_ms", JsonRounded(Percentile(pull_ms, 0.99), 3)},
           {"push_p50_ms", JsonRounded(Percentile(push_ms, 0.5), 3)},
           {"push_p99_ms", JsonRounded(Percentile(push_ms, 0.99), 3)}};
  return Status::Ok();
}

}  // namespace metaps
