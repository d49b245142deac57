#include "scheduler/ping_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/control.h"
#include "common/json.h"
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
  const OrderedJson line = {{"event", "ping"},
                            {"round", rounds_},
                            {"ranks", view_.layout.world_size()},
                            {"servers", view_.layout.num_servers()},
                            {"workers", view_.layout.num_workers()},
                            {"curve", options_.curve},
                            {"pairs", pairs},
                            {"pairs_ok", answered},
                            {"rtt_us_p50", JsonRounded(Percentile(rtts, 0.5), 1)},
                            {"rtt_us_p99", JsonRounded(Percentile(rtts, 0.99), 1)},
                            {"gbps", JsonRounded(gbps, 3)}};
  std::fputs((JsonText(line) + "\n").c_str(), stdout);
  std::fflush(stdout);
  const bool more =
      answered == pairs && !stop_ && (options_.repeat == 0 || rounds_ < options_.repeat);
  reply->set_value(more ? 1 : 0);
  return Status::Ok();
}

}  // namespace metaps
