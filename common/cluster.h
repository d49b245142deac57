// Who is who in a job, and how ranks find each other.
//
// Rank 0 is the scheduler, ranks 1..S the servers, the rest the workers.
// Bootstrap exchanges each rank's PeerInfo (service endpoint, CURVE public
// key, host, pid) with a single all-gather: MPI_Allgather under mpirun, or a
// shared in-memory rendezvous when every role is a thread of one process.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/proto/wire.pb.h"
#include "common/status.h"

namespace metaps {

class ClusterLayout {
 public:
  // Needs at least one server and one worker: world_size >= servers + 2.
  static StatusOr<ClusterLayout> Make(int world_size, int num_servers);

  int world_size() const { return world_size_; }
  int num_servers() const { return num_servers_; }
  int num_workers() const { return world_size_ - 1 - num_servers_; }
  wire::Role RoleOf(int rank) const;
  int ServerRank(int server_index) const { return 1 + server_index; }
  int WorkerRank(int worker_index) const { return 1 + num_servers_ + worker_index; }
  int ServerIndex(int rank) const { return rank - 1; }
  int WorkerIndex(int rank) const { return rank - 1 - num_servers_; }
  // "scheduler", "server 1", "worker 0" (indices within the role).
  std::string Describe(int rank) const;

 private:
  int world_size_ = 0;
  int num_servers_ = 0;
};

const char* RoleName(wire::Role role);

// Barrier-group bits used by the scheduler protocol.
constexpr uint32_t kGroupServers = 2;
constexpr uint32_t kGroupWorkers = 4;
constexpr uint32_t kGroupMembers = kGroupServers | kGroupWorkers;
// A contiguous range of workers (model selection's worker groups): the flag
// kGroupWorkerRange (bit 3), the first worker index in bits 4..17 and the count in bits 18..31.
// Never combined with the bits above.
constexpr uint32_t kGroupWorkerRange = 8;
constexpr int kMaxWorkerRange = (1 << 14) - 1;
// REQUIRES: 0 <= first, 1 <= count, first + count <= kMaxWorkerRange.
constexpr uint32_t WorkerRangeGroup(int first, int count) {
  return kGroupWorkerRange | (static_cast<uint32_t>(first) << 4) |
         (static_cast<uint32_t>(count) << 18);
}
constexpr int WorkerRangeFirst(uint32_t group) { return static_cast<int>((group >> 4) & 0x3fff); }
constexpr int WorkerRangeCount(uint32_t group) { return static_cast<int>(group >> 18); }

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank contributes `mine`; returns all contributions indexed by rank.
  virtual StatusOr<std::vector<std::string>> AllGather(const std::string& mine) = 0;
};

// MPI_COMM_WORLD. REQUIRES: MPI is initialized.
std::unique_ptr<Bootstrap> MakeMpiBootstrap();

// A rendezvous for `size` threads of one process; ForRank(r) gives rank r's view.
class InProcessRendezvous {
 public:
  explicit InProcessRendezvous(int size) : size_(size), slots_(size) {}
  std::unique_ptr<Bootstrap> ForRank(int rank);

 private:
  friend class InProcessBootstrap;
  StatusOr<std::vector<std::string>> AllGather(int rank, const std::string& mine);

  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> slots_;   // GUARDED_BY(mu_)
  int arrived_ = 0;                  // GUARDED_BY(mu_)
  int departed_ = 0;                 // GUARDED_BY(mu_)
  uint64_t generation_ = 0;          // GUARDED_BY(mu_)
  std::vector<std::string> result_;  // GUARDED_BY(mu_)
};

struct ClusterView {
  ClusterLayout layout;
  int my_rank = -1;
  std::vector<wire::PeerInfo> peers;  // indexed by rank
  const wire::PeerInfo& peer(int rank) const { return peers[static_cast<size_t>(rank)]; }
  std::string Describe(int rank) const;  // "server 1 (rank 2, host h, pid p)"
};

// Publishes `mine` and collects every rank's PeerInfo; checks that each rank
// reported the role its rank implies.
StatusOr<ClusterView> ExchangePeerInfo(Bootstrap* bootstrap, const ClusterLayout& layout,
                                       const wire::PeerInfo& mine);

std::string HostName();

}  // namespace metaps
