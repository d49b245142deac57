#include "common/cluster.h"

#include <mpi.h>
#include <unistd.h>

namespace metaps {

StatusOr<ClusterLayout> ClusterLayout::Make(int world_size, int num_servers) {
  if (num_servers < 1) {
    return InvalidArgument("--servers must be at least 1, got " + std::to_string(num_servers));
  }
  if (world_size < num_servers + 2) {
    return InvalidArgument("a job with " + std::to_string(num_servers) +
                           " server(s) needs at least " + std::to_string(num_servers + 2) +
                           " ranks (1 scheduler, the servers, at least 1 worker); got " +
                           std::to_string(world_size));
  }
  ClusterLayout layout;
  layout.world_size_ = world_size;
  layout.num_servers_ = num_servers;
  return layout;
}

wire::Role ClusterLayout::RoleOf(int rank) const {
  if (rank == 0) return wire::SCHEDULER;
  if (rank <= num_servers_) return wire::SERVER;
  return wire::WORKER;
}

std::string ClusterLayout::Describe(int rank) const {
  switch (RoleOf(rank)) {
    case wire::SCHEDULER:
      return "scheduler";
    case wire::SERVER:
      return "server " + std::to_string(ServerIndex(rank));
    default:
      return "worker " + std::to_string(WorkerIndex(rank));
  }
}

const char* RoleName(wire::Role role) {
  switch (role) {
    case wire::SCHEDULER:
      return "scheduler";
    case wire::SERVER:
      return "server";
    case wire::WORKER:
      return "worker";
    default:
      return "unknown";
  }
}

std::string ClusterView::Describe(int rank) const {
  std::string s = layout.Describe(rank) + " (rank " + std::to_string(rank);
  if (rank >= 0 && rank < static_cast<int>(peers.size())) {
    s += ", host " + peer(rank).host() + ", pid " + std::to_string(peer(rank).pid());
  }
  return s + ")";
}

namespace {

class MpiBootstrap : public Bootstrap {
 public:
  MpiBootstrap() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  StatusOr<std::vector<std::string>> AllGather(const std::string& mine) override {
    int my_len = static_cast<int>(mine.size());
    std::vector<int> lens(static_cast<size_t>(size_));
    if (MPI_Allgather(&my_len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD) !=
        MPI_SUCCESS) {
      return Internal("MPI_Allgather of bootstrap sizes failed");
    }
    std::vector<int> offsets(static_cast<size_t>(size_));
    int total = 0;
    for (int i = 0; i < size_; ++i) {
      offsets[static_cast<size_t>(i)] = total;
      total += lens[static_cast<size_t>(i)];
    }
    std::string all(static_cast<size_t>(total), '\0');
    if (MPI_Allgatherv(mine.data(), my_len, MPI_BYTE, &all[0], lens.data(), offsets.data(),
                       MPI_BYTE, MPI_COMM_WORLD) != MPI_SUCCESS) {
      return Internal("MPI_Allgatherv of bootstrap records failed");
    }
    std::vector<std::string> out;
    for (int i = 0; i < size_; ++i) {
      out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(i)]),
                               static_cast<size_t>(lens[static_cast<size_t>(i)])));
    }
    return out;
  }

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

class InProcessBootstrap : public Bootstrap {
 public:
  InProcessBootstrap(InProcessRendezvous* group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return group_->size_; }
  StatusOr<std::vector<std::string>> AllGather(const std::string& mine) override {
    return group_->AllGather(rank_, mine);
  }

 private:
  InProcessRendezvous* group_;
  int rank_;
};

std::unique_ptr<Bootstrap> MakeMpiBootstrap() { return std::make_unique<MpiBootstrap>(); }

std::unique_ptr<Bootstrap> InProcessRendezvous::ForRank(int rank) {
  return std::make_unique<InProcessBootstrap>(this, rank);
}

StatusOr<std::vector<std::string>> InProcessRendezvous::AllGather(int rank,
                                                                  const std::string& mine) {
  std::unique_lock<std::mutex> lock(mu_);
  // Wait until the previous round has been fully read before reusing the slots.
  cv_.wait(lock, [&] { return departed_ == 0 || departed_ == size_; });
  if (departed_ == size_) departed_ = 0;
  const uint64_t my_generation = generation_;
  slots_[static_cast<size_t>(rank)] = mine;
  if (++arrived_ == size_) {
    result_ = slots_;
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != my_generation; });
  }
  std::vector<std::string> out = result_;
  if (++departed_ == size_) cv_.notify_all();
  return out;
}

StatusOr<ClusterView> ExchangePeerInfo(Bootstrap* bootstrap, const ClusterLayout& layout,
                                       const wire::PeerInfo& mine) {
  if (bootstrap->size() != layout.world_size()) {
    return InvalidArgument("bootstrap has " + std::to_string(bootstrap->size()) +
                           " ranks but the layout expects " + std::to_string(layout.world_size()));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> blobs, bootstrap->AllGather(mine.SerializeAsString()));
  ClusterView view;
  view.layout = layout;
  view.my_rank = bootstrap->rank();
  for (size_t r = 0; r < blobs.size(); ++r) {
    wire::PeerInfo info;
    if (!info.ParseFromString(blobs[r]) || info.rank() != static_cast<int>(r)) {
      return ProtocolError("bootstrap record of rank " + std::to_string(r) + " is malformed");
    }
    if (info.role() != layout.RoleOf(static_cast<int>(r))) {
      return InvalidArgument("rank " + std::to_string(r) + " started as " + RoleName(info.role()) +
                             " but the layout makes it " +
                             RoleName(layout.RoleOf(static_cast<int>(r))) +
                             " (do all ranks have the same --servers?)");
    }
    view.peers.push_back(std::move(info));
  }
  return view;
}

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace metaps
