// The scheduler (rank 0): membership, gathers/barriers, failure detection and
// the job's life cycle. All state lives on the RpcServer loop thread; Run()
// only waits for the outcome.
//
// Gathers named "collect/..." are answered by the scheduler itself: each
// member's Control.payload (at most 4 KiB), in rank order, goes back to all of
// them as one control.Collected (servers use this to assemble a checkpoint
// manifest).
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
//
// Identity: only members (ranks 1..N-1) send control; a monitor client (an
// --authorized-keys key of role monitor) may only PING. A member is bound to
// the TCP connection it registered on (the authenticated one under
// CURVE); a message claiming its rank from another connection while that one
// is open is dropped and counted, so a spoofed heartbeat cannot keep a stopped
// rank alive. After the connection closes, the rank's next connection is bound.
// (Under --insecure a process that registers a rank before its member does
// takes the rank: only CURVE authenticates members.)
//
// Bounds: a gather name is at most kMaxGatherNameChars, and a member waits in
// at most kMaxGathersPerRank gathers at once (members call one at a time), so
// the pending gathers are bounded by the world size.
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

constexpr size_t kMaxGatherNameChars = 256;
constexpr int kMaxGathersPerRank = 8;

struct SchedulerOptions {
  std::chrono::milliseconds heartbeat_timeout{2000};
  std::chrono::milliseconds tick{50};
  std::chrono::milliseconds registration_timeout{120000};
  std::string cluster_file;              // written once all members registered
  std::function<bool()> stop_requested;  // polled every tick
  // Polled every tick: a member that failed where it could not report it
  // (a single-process cluster's rank before it registered); not OK aborts.
  std::function<Status()> member_failed;
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
    int fd = -1;           // the connection the rank is bound to (-1: none yet or inproc)
    int pending_gathers = 0;
    std::chrono::steady_clock::time_point last_seen;
    std::optional<std::chrono::steady_clock::time_point> disconnected_at;
  };
  struct PendingGather {
    uint32_t group = 0;
    std::map<int, GatherEntry> entries;
  };

  // Loop-thread handlers.
  void OnRequest(const PeerAddress& from, Message request);
  // Drops (and counts) a message the sender may not send, with a reply.
  void Refuse(const PeerAddress& from, const wire::Header& h, const Status& why);
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
