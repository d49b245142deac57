// A parameter-server cluster in one process for PsClient tests: S real
// ParameterServers on RpcServers over ZeroMQ inproc sockets (no CURVE), no
// scheduler, and worker clients (the test's threads).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/rpc.h"
#include "ps/server.h"
#include "worker/ps_client.h"

namespace metaps {

inline constexpr uint64_t kSeed = 7;

inline TableSpec Spec(uint32_t id, int dim, OptimizerKind kind, float lr) {
  TableSpec t;
  t.id = id;
  t.name = "t" + std::to_string(id);
  t.dim = dim;
  t.init = InitializerSpec::Uniform(0.5f);
  t.optimizer.kind = kind;
  t.optimizer.lr = lr;
  return t;
}

struct PsClusterOptions {
  int bsp_workers = 0;  // EnableBspAggregation
  int workers = 1;      // worker ranks in the layout
  bool set_window = false;
  ClockWindow window;  // SetClockWindow, when set_window
};

// A client of the cluster at any rank (a worker's, or another role's to test
// the servers' role checks).
struct PsClusterClient {
  ClusterView view;
  std::unique_ptr<RpcClient> rpc;
  std::unique_ptr<PsClient> client;
  ~PsClusterClient() {
    if (rpc) rpc->Close();
  }
};

// S servers and worker 0's client, every rank's sockets in-process.
class PsCluster {
  static PsClusterOptions WithBspWorkers(int bsp_workers) {
    PsClusterOptions o;
    o.bsp_workers = bsp_workers;
    return o;
  }

 public:
  PsCluster(int servers, const std::vector<TableSpec>& tables, int bsp_workers = 0)
      : PsCluster(servers, tables, WithBspWorkers(bsp_workers)) {}
  PsCluster(int servers, const std::vector<TableSpec>& tables, const PsClusterOptions& options)
      : world_(servers + 1 + options.workers) {
    TransportOptions t;
    t.curve = false;
    t.scheme = "inproc";
    transport_ = Transport::Create(t).value();
    static std::atomic<int> counter{0};
    const int id = counter++;
    view_.layout = ClusterLayout::Make(world_, servers).value();
    view_.peers.resize(static_cast<size_t>(world_));
    worker_view_ = view_;
    for (int s = 0; s < servers; ++s) {
      RpcServer::Options o;
      o.name = "ps" + std::to_string(id) + "-" + std::to_string(s);
      o.world_size = world_;
      rpc_.push_back(RpcServer::Create(transport_.get(), {}, o).value());
      const int rank = view_.layout.ServerRank(s);
      worker_view_.peers[static_cast<size_t>(rank)].set_endpoint(rpc_.back()->endpoint());
    }
    for (int s = 0; s < servers; ++s) {
      server_views_.push_back(std::make_unique<ClusterView>(worker_view_));
      server_views_.back()->my_rank = view_.layout.ServerRank(s);
      servers_.push_back(std::make_unique<ParameterServer>(rpc_[static_cast<size_t>(s)].get(),
                                                           *server_views_.back()));
      for (const auto& spec : tables) EXPECT_TRUE(servers_.back()->AddTable(spec, kSeed).ok());
      if (options.bsp_workers > 0) servers_.back()->EnableBspAggregation(options.bsp_workers);
      if (options.set_window) servers_.back()->SetClockWindow(options.window);
      servers_.back()->Start();
    }
    worker_view_.my_rank = view_.layout.WorkerRank(0);
    rpc_client_ =
        RpcClient::Create(transport_.get(), {}, worker_view_.my_rank, world_, "w").value();
    for (int s = 0; s < servers; ++s) {
      const int rank = view_.layout.ServerRank(s);
      rpc_client_->AddPeer(rank, worker_view_.peer(rank).endpoint(), "");
    }
    client_ = std::make_unique<PsClient>(rpc_client_.get(), worker_view_);
    for (const auto& spec : tables) client_->AddTable(spec.id, spec.dim);
  }
  ~PsCluster() {
    extra_.clear();
    rpc_client_->Close();
    servers_.clear();
  }
  PsClient& client() { return *client_; }
  ParameterServer& server(int s) { return *servers_[static_cast<size_t>(s)]; }
  RpcClient& rpc() { return *rpc_client_; }
  const ClusterView& worker_view() const { return worker_view_; }

  // Another client, at `rank` (any role), connected to every server; owned
  // by the cluster.
  PsClient& ClientAt(int rank) {
    auto c = std::make_unique<PsClusterClient>();
    c->view = worker_view_;
    c->view.my_rank = rank;
    c->rpc =
        RpcClient::Create(transport_.get(), {}, rank, world_, "c" + std::to_string(rank)).value();
    for (int s = 0; s < view_.layout.num_servers(); ++s) {
      const int server = view_.layout.ServerRank(s);
      c->rpc->AddPeer(server, worker_view_.peer(server).endpoint(), "");
    }
    c->client = std::make_unique<PsClient>(c->rpc.get(), c->view);
    extra_.push_back(std::move(c));
    return *extra_.back()->client;
  }

 private:
  int world_;
  std::unique_ptr<Transport> transport_;
  ClusterView view_, worker_view_;
  std::vector<std::unique_ptr<ClusterView>> server_views_;
  std::vector<std::unique_ptr<RpcServer>> rpc_;
  std::vector<std::unique_ptr<ParameterServer>> servers_;
  std::unique_ptr<RpcClient> rpc_client_;
  std::unique_ptr<PsClient> client_;
  std::vector<std::unique_ptr<PsClusterClient>> extra_;
};

}  // namespace metaps
