// `metaps ping` on the scheduler: merges the workers' per-round measurements
// into one JSON line per round on stdout and decides whether to go on.
//
// Each worker joins gather "ping/<round>" with two frames of doubles:
//   frame 0: every round-trip sample in microseconds;
//   frame 1: [bandwidth phase wall seconds, then per server:
//             server rank, answered (0/1), bytes sent, seconds].
#pragma once

#include <atomic>
#include <string>

#include "common/cluster.h"
#include "scheduler/scheduler.h"

namespace metaps {

struct PingJobOptions {
  int repeat = 1;  // rounds; 0 = until stopped
  bool curve = true;
};

class PingJob : public JobDriver {
 public:
  PingJob(const ClusterView& view, PingJobOptions options) : view_(view), options_(options) {}

  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override;
  void OnStopRequested() override { stop_ = true; }

  // True once every pair of every round answered.
  bool all_answered() const { return rounds_ > 0 && failed_pairs_ == 0; }
  int rounds() const { return rounds_; }

 private:
  const ClusterView& view_;
  PingJobOptions options_;
  std::atomic<bool> stop_{false};
  int rounds_ = 0;
  long failed_pairs_ = 0;
};

}  // namespace metaps
