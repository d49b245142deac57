// The member side of the scheduler protocol, used by servers and workers:
// registration, gathers (a barrier that can carry a payload and returns the
// scheduler's decision), and heartbeats.
//
// A background thread sends HEARTBEAT every interval. If the scheduler reports
// that the job was aborted, or stops answering for longer than the timeout,
// the first such error is recorded and every blocking call returns it, so a
// member never hangs on a dead job. The thread never throws.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/cluster.h"
#include "common/rpc.h"

namespace metaps {

struct HeartbeatOptions {
  std::chrono::milliseconds interval{200};
  std::chrono::milliseconds timeout{2000};  // declare the scheduler lost after this
};

// Job states carried in HEARTBEAT replies (Control.value).
constexpr int64_t kJobRunning = 0;
constexpr int64_t kJobAborted = 1;
constexpr int64_t kJobStopRequested = 2;  // someone asked the job to stop in order

class SchedulerClient {
 public:
  // `client` must already have rank 0 as a peer; borrowed for our lifetime.
  SchedulerClient(RpcClient* client, const ClusterView& view, HeartbeatOptions options);
  ~SchedulerClient();

  // Announces this rank; returns once every member has registered.
  Status Register();
  // Waits until every rank of `group` has called Gather(name); returns the
  // scheduler's reply (Control.value / text set by the job). `frames` travel
  // as raw frames of the request.
  StatusOr<Message> Gather(const std::string& name, uint32_t group, const std::string& text = "",
                           std::vector<zmq::message_t> frames = {});
  // The same, sending a typed control message (common/control.h) as payload.
  StatusOr<Message> GatherPayload(const std::string& name, uint32_t group, std::string payload,
                                  std::vector<zmq::message_t> frames = {});
  Status Barrier(const std::string& name, uint32_t group) { return Gather(name, group).status(); }
  // Model selection's worker groups: while a Scope lives, a gather of
  // kGroupWorkers is a gather of `group` (a WorkerRangeGroup) named
  // `prefix` + name, so a trial's trainer runs unchanged inside its group;
  // a gather that includes the servers is refused (InvalidArgument).
  // Clock (SSP/ASP) is refused too: trials run BSP. Not thread-safe with
  // concurrent gathers on the same client (members call one at a time).
  class Scope {
   public:
    Scope(SchedulerClient* client, std::string prefix, uint32_t group);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    SchedulerClient* client_;
    std::string saved_prefix_;  // the enclosing scope's, restored at the end
    uint32_t saved_group_ = 0;
  };
  // Workers: reports that step `clock` is finished (its pushes acknowledged)
  // and returns once the job's consistency model lets this worker start the
  // next step. Returns the slowest worker's clock at that moment.
  StatusOr<int64_t> Clock(int64_t clock);
  // Tells the scheduler that this rank failed with `why`, so that the job is
  // aborted with this cause rather than with the consequences others see (a
  // dead peer). Waits for the acknowledgement, at most the heartbeat timeout.
  void ReportFailure(const Status& why);

  void StartHeartbeats();
  void StopHeartbeats();
  // OK while the job is healthy; otherwise why it is not.
  Status job_status() const;
  // True once the scheduler said the job should stop in order (SIGINT/SIGTERM
  // on the scheduler). Seen within a heartbeat interval.
  bool stop_requested() const { return stop_requested_.load(); }

 private:
  StatusOr<Message> CallAndWait(Message request);
  // A BARRIER request for gather `name` of `group`.
  Message GatherRequest(const std::string& name, uint32_t group) const;
  // InvalidArgument for a gather of `group` that a Scope does not allow.
  Status CheckScope(uint32_t group) const;
  void HeartbeatLoop();
  void Fail(const Status& status);

  RpcClient* client_;
  const ClusterView& view_;
  HeartbeatOptions options_;
  std::thread heartbeat_thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stop_requested_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Status job_status_;  // GUARDED_BY(mu_)
  // The active Scope, if any: its prefix and worker group (0: none).
  std::string scope_prefix_;
  uint32_t scope_group_ = 0;
};

}  // namespace metaps
