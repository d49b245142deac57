// Starts a job's ranks: one per process under mpirun, or all of them as
// threads of this process when started without mpirun. Either way each rank
// goes through the same steps: key pair, service socket, bootstrap exchange,
// authorization of the members' keys, then its role's main function.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/cluster.h"
#include "common/flags.h"
#include "common/rpc.h"
#include "common/scheduler_client.h"
#include "worker/allreduce.h"

namespace metaps {

struct ClusterOptions {
  int64_t servers = 1;  // a job config's cluster.servers wins unless --servers is given
  int64_t workers = 1;  // single-process mode only; mpirun's -np decides otherwise
  bool insecure = false;
  std::string keys_dir;             // --curve-keys: this key pair instead of fresh ones
  std::string authorized_keys;      // --authorized-keys: extra client keys to accept
  std::string transport = "auto";   // tcp | inproc | auto (tcp under mpirun, inproc otherwise)
  std::string host = "auto";        // interface to bind service sockets on
  std::string data_plane = "aead";  // --data-plane: aead | curve (TransportOptions::data_plane)
  int64_t data_plane_threads = -1;  // --data-plane-threads: -1 auto
  int64_t heartbeat_ms = 200;
  int64_t heartbeat_timeout_ms = 2000;
  std::string cluster_file;  // scheduler writes ranks, pids, endpoints, keys here
  std::string log_level = "info";
  int64_t max_message_mb = TransportOptions::kDefaultMaxMessageBytes >> 20;  // --max-message-mb

  void Register(FlagSet* flags);
};

// What one rank has to work with. Borrowed pointers live for the rank's run.
struct RankContext {
  ClusterView view;
  const ClusterOptions* options = nullptr;
  Transport* transport = nullptr;
  RpcServer* rpc_server = nullptr;  // bound, not started
  RpcClient* rpc_client = nullptr;  // connected to the scheduler (members) and servers (workers)
  bool curve = false;
  AllReduce* allreduce = nullptr;  // workers: dense all-reduce among the workers (of the group)
  HeartbeatOptions heartbeat() const;
};

using RoleMain = std::function<Status(RankContext&)>;
struct JobRoles {
  RoleMain scheduler, server, worker;
  // > 0: the servers' frame limit when it is below --max-message-mb (the
  // job's ServerFrameLimit, derived from its tables' dims).
  int64_t server_max_frame_bytes = 0;
  // > 0: the workers are divided into groups of this many (worker indices
  // [g*n, (g+1)*n)), and each worker's RankContext::allreduce sums over its
  // own group only (model selection's trials). 0: one group of every worker.
  // REQUIRES: divides the number of workers.
  int worker_group_size = 0;
};

// Runs the job; returns the process exit code. Under mpirun a failing rank
// calls MPI_Abort so that no rank is left waiting.
int RunJob(const ClusterOptions& options, const JobRoles& roles);

// For members: starts heartbeats, registers, runs `body`, then joins the
// shutdown gather so the job ends in order. Returns the first error.
Status RunMember(RankContext& ctx, const std::function<Status(SchedulerClient&)>& body);

// Set by SIGINT/SIGTERM on the scheduler's process.
bool StopRequested();
// In a single-process cluster: the first rank whose role failed before it
// could tell the scheduler (e.g. a worker that cannot open its data before it
// registers), as "worker 0 (rank 2, ...) failed: why"; OK otherwise. The
// scheduler polls it, so the job ends with that cause at once instead of
// waiting for the registration timeout.
Status InProcessRankFailure();

}  // namespace metaps
