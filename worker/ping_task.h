// `metaps ping` on a worker: measures round-trip latency and one-way
// bandwidth to every server over the real transport.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "common/cluster.h"
#include "common/proto/control.pb.h"
#include "common/rpc.h"

namespace metaps {

struct PingOptions {
  int rtt_samples = 100;             // sequential 64-byte echoes per server
  size_t bandwidth_bytes = 4 << 20;  // payload of one bandwidth message
  int bandwidth_messages = 16;       // per server
  int window = 4;                    // bandwidth messages in flight
  std::chrono::milliseconds timeout{10000};
};

struct PingRound {
  // Every RTT sample (all servers), the bandwidth phase's seconds (servers in
  // turn) and per server: rank, answered, bytes, seconds. Sent to the
  // scheduler as is.
  control::PingReport report;
  bool all_answered = true;
};

// Pings every server once per call. `payload` is reused across rounds and
// sent zero-copy. Never fails: an unanswered server is marked in the report.
PingRound PingServers(RpcClient* client, const ClusterView& view, const PingOptions& options,
                      const std::shared_ptr<const std::vector<char>>& payload);

}  // namespace metaps
