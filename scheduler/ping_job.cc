#include "scheduler/ping_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/control.h"
#include "common/logging.h"
#include "scheduler/percentile.h"

namespace metaps {

Status PingJob::OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                         wire::Control* reply) {
  if (name.rfind("ping/", 0) != 0) return InvalidArgument("ping job got unknown gather " + name);
  std::vector<double> rtts;
  double bytes = 0, slowest_phase = 0;
  long pairs = 0, answered = 0;
  for (auto& e : entries) {
    const Message& m = e.request;
    const std::string from = view_.Describe(e.rank);
    if (m.frames.size() != 1) {
      return ProtocolError(from + " sent a ping report in " + std::to_string(m.frames.size()) +
                           " frames, not 1");
    }
    ASSIGN_OR_RETURN(control::PingReport report, DecodePingReport(m.frames[0].to_string(), from));
    rtts.insert(rtts.end(), report.rtt_us().begin(), report.rtt_us().end());
    slowest_phase = std::max(slowest_phase, report.bandwidth_s());
    std::set<int> servers;
    for (const auto& pair : report.pairs()) {
      const int server = pair.server_rank();
      if (server < 0 || server >= view_.layout.world_size() ||
          view_.layout.RoleOf(server) != wire::SERVER || !servers.insert(server).second) {
        return ProtocolError(from + ": PingReport.pairs.server_rank " + std::to_string(server) +
                             " is not a server of this job, or is listed twice");
      }
      ++pairs;
      if (pair.answered()) {
        ++answered;
        bytes += pair.bytes();
      } else {
        METAPS_LOG(ERROR) << from << " got no answer from " << view_.Describe(server);
      }
    }
  }
  const long expected = static_cast<long>(view_.layout.num_workers()) * view_.layout.num_servers();
  if (pairs != expected) {
    return ProtocolError("ping reports cover " + std::to_string(pairs) + " pairs, expected " +
                         std::to_string(expected));
  }
  ++rounds_;
  failed_pairs_ += pairs - answered;
  const double gbps = slowest_phase > 0 ? bytes * 8 / slowest_phase / 1e9 : 0;
  char line[512];
  std::snprintf(line, sizeof(line),
                "{\"event\":\"ping\",\"round\":%d,\"ranks\":%d,\"servers\":%d,\"workers\":%d,"
                "\"curve\":%s,\"pairs\":%ld,\"pairs_ok\":%ld,\"rtt_us_p50\":%.1f,"
                "\"rtt_us_p99\":%.1f,\"gbps\":%.3f}\n",
                rounds_, view_.layout.world_size(), view_.layout.num_servers(),
                view_.layout.num_workers(), options_.curve ? "true" : "false", pairs, answered,
                Percentile(rtts, 0.5), Percentile(rtts, 0.99), gbps);
  std::fputs(line, stdout);
  std::fflush(stdout);
  const bool more =
      answered == pairs && !stop_ && (options_.repeat == 0 || rounds_ < options_.repeat);
  reply->set_value(more ? 1 : 0);
  return Status::Ok();
}

}  // namespace metaps
