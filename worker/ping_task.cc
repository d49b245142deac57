#include "worker/ping_task.h"

#include <deque>

#include "common/logging.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Message PingMessage(const ClusterView& view, bool echo) {
  Message m = MakeMessage(wire::PING, view.my_rank);
  m.header.mutable_control()->set_echo(echo);
  return m;
}

}  // namespace

PingRound PingServers(RpcClient* client, const ClusterView& view, const PingOptions& options,
                      const std::shared_ptr<const std::vector<char>>& payload) {
  PingRound round;
  const char small[64] = {0};
  double bandwidth_seconds = 0;
  for (int s = 0; s < view.layout.num_servers(); ++s) {
    const int server = view.layout.ServerRank(s);
    bool answered = true;
    for (int i = 0; i < options.rtt_samples && answered; ++i) {
      Message m = PingMessage(view, /*echo=*/true);
      m.AddCopy(small, sizeof(small));
      const auto t0 = Clock::now();
      auto reply = client->Call(server, std::move(m), options.timeout).get();
      if (!reply.ok() || reply->frames.size() != 1 || reply->frames[0].size() != sizeof(small)) {
        METAPS_LOG(ERROR) << "ping " << view.Describe(server) << ": "
                          << (reply.ok() ? "echo has the wrong size" : reply.status().ToString());
        answered = false;
        break;
      }
      round.report.add_rtt_us(Seconds(Clock::now() - t0) * 1e6);
    }
    // Bandwidth: a window of large messages in flight, the server answers with
    // the byte count only, so this measures worker -> server throughput.
    double bytes = 0;
    const auto t0 = Clock::now();
    std::deque<std::future<StatusOr<Message>>> in_flight;
    int sent = 0;
    while (answered && (sent < options.bandwidth_messages || !in_flight.empty())) {
      while (sent < options.bandwidth_messages &&
             static_cast<int>(in_flight.size()) < options.window) {
        Message m = PingMessage(view, /*echo=*/false);
        m.AddShared(payload);
        in_flight.push_back(client->Call(server, std::move(m), options.timeout));
        ++sent;
      }
      auto reply = in_flight.front().get();
      in_flight.pop_front();
      if (!reply.ok() || reply->header.control().value() != static_cast<int64_t>(payload->size())) {
        METAPS_LOG(ERROR) << "bandwidth to " << view.Describe(server) << ": "
                          << (reply.ok() ? "server counted the wrong size"
                                         : reply.status().ToString());
        answered = false;
      } else {
        bytes += static_cast<double>(payload->size());
      }
    }
    for (auto& f : in_flight) f.wait();
    const double seconds = Seconds(Clock::now() - t0);
    bandwidth_seconds += seconds;
    control::PingReport::Pair* pair = round.report.add_pairs();
    pair->set_server_rank(server);
    pair->set_answered(answered);
    pair->set_bytes(bytes);
    pair->set_seconds(seconds);
    round.all_answered = round.all_answered && answered;
  }
  round.report.set_bandwidth_s(bandwidth_seconds);
  return round;
}

}  // namespace metaps
