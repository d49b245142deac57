#include "scheduler/ping_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

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
    if (m.frames.size() != 2 || m.frames[0].size() % sizeof(double) != 0 ||
        m.frames[1].size() % sizeof(double) != 0 || m.FrameCount<double>(1) < 1 ||
        (m.FrameCount<double>(1) - 1) % kPingPairFields != 0) {
      return ProtocolError("rank " + std::to_string(e.rank) + " sent a malformed ping report");
    }
    const double* samples = m.FrameAs<double>(0);
    rtts.insert(rtts.end(), samples, samples + m.FrameCount<double>(0));
    const double* report = m.FrameAs<double>(1);
    slowest_phase = std::max(slowest_phase, report[0]);
    for (size_t i = 1; i + kPingPairFields <= m.FrameCount<double>(1); i += kPingPairFields) {
      ++pairs;
      if (report[i + 1] != 0) {
        ++answered;
        bytes += report[i + 2];
      } else {
        METAPS_LOG(ERROR) << view_.Describe(e.rank) << " got no answer from "
                          << view_.Describe(static_cast<int>(report[i]));
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
