// The scheduler (rank 0): membership, gathers/barriers, failure detection and
// the job's life cycle. All state lives on the RpcServer loop thread; Run()
// only waits for the outcome.
//
// Gathers named "collect/..." are answered by the scheduler itself: each
// member's Control.text, in rank order, one per line, goes back to all of them
// (servers use this to assemble a checkpoint manifest).
//
// Life cycle: every member REGISTERs (a gather of all members), the job runs
// its gathers (the JobDriver decides what each gather's reply says), and the
// "shutdown" gather of all members ends the job in order: members enter it only
// after their last request was answered, so nothing is in flight when they
// leave.
//
// Failure detection: a member is declared dead when (a) its TCP connection to
// us closes and its process is gone (checked at once on our own host), or
// has not reconnected within the heartbeat timeout elsewhere, or (b) it sent no
// heartbeat for the timeout. Either way detection takes at most two timeouts;
// the job is then aborted and Run() returns Unavailable naming the rank.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/cluster.h"
#include "common/rpc.h"
#include "scheduler/clock_tracker.h"

namespace metaps {

// One member's contribution to a gather.
struct GatherEntry {
  int rank = -1;
  PeerAddress from;
  Message request;
};

// What a job adds to the scheduler's generic life cycle.
class JobDriver {
 public:
  virtual ~JobDriver() = default;
  // Every rank of a gather named `name` has arrived. Fill `reply` (shared by
  // all of them); an error aborts the job.
  virtual Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                          wire::Control* reply) = 0;
  // Someone asked the job to stop (SIGINT/SIGTERM on the scheduler).
  virtual void OnStopRequested() {}
};

struct SchedulerOptions {
  std::chrono::milliseconds heartbeat_timeout{2000};
  std::chrono::milliseconds tick{50};
  std::chrono::milliseconds registration_timeout{120000};
  std::string cluster_file;              // written once all members registered
  std::function<bool()> stop_requested;  // polled every tick
  // Consistency of worker clocks: 0 = BSP, s > 0 = SSP with bound s, < 0 = ASP.
  int64_t staleness = -1;
};

class Scheduler {
 public:
  Scheduler(RpcServer* server, const ClusterView& view, JobDriver* driver,
            SchedulerOptions options);

  // The workers' clocks; read after Run() returned.
  const ClockTracker& clocks() const { return clocks_; }

  // Starts the server, serves until the job ends in order (OK) or fails (the
  // first error), then stops the server so that no handler outlives this call.
  Status Run();

 private:
  struct Member {
    bool registered = false;
    bool leaving = false;  // released from the shutdown gather
    int fd = -1;
    std::chrono::steady_clock::time_point last_seen;
    std::optional<std::chrono::steady_clock::time_point> disconnected_at;
  };
  struct PendingGather {
    uint32_t group = 0;
    std::map<int, GatherEntry> entries;
  };

  // Loop-thread handlers.
  void OnRequest(const PeerAddress& from, Message request);
  void OnTick();
  void OnDisconnect(int fd);
  void OnClock(const PeerAddress& from, const wire::Header& h);
  void OnGatherRequest(const PeerAddress& from, Message request, const std::string& name,
                       uint32_t group);
  void CompleteGather(const std::string& name, PendingGather& gather);
  void Abort(const Status& why);
  void Finish(const Status& outcome);
  bool ProcessGone(int rank) const;
  int ExpectedCount(uint32_t group) const;
  void WriteClusterFile() const;

  RpcServer* server_;
  const ClusterView& view_;
  JobDriver* driver_;
  SchedulerOptions options_;
  std::string my_host_;
  std::chrono::steady_clock::time_point started_;
  std::vector<Member> members_;
  std::map<std::string, PendingGather> gathers_;
  ClockTracker clocks_;
  std::map<int, std::pair<PeerAddress, wire::Header>> clock_waiters_;  // by worker index
  bool all_registered_ = false;
  bool stop_forwarded_ = false;
  Status abort_status_;  // set once the job is aborted

  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // GUARDED_BY(mu_)
  Status outcome_;         // GUARDED_BY(mu_)
};

}  // namespace metaps
