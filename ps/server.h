// The parameter-server role: serves data-plane requests on its RpcServer.
// Today it answers PING (echo or size-only); tables, PULL and PUSH come with
// the embedding shard (see ps/embedding_table.h).
//
// Every request is answered: an unsupported or malformed one gets an error
// reply naming the problem, never a crash.
#pragma once

#include "common/cluster.h"
#include "common/rpc.h"

namespace metaps {

class ParameterServer {
 public:
  ParameterServer(RpcServer* rpc, const ClusterView& view) : rpc_(rpc), view_(view) {}
  // Stops the RpcServer: its handler points at this object.
  ~ParameterServer() { rpc_->Stop(); }
  ParameterServer(const ParameterServer&) = delete;
  ParameterServer& operator=(const ParameterServer&) = delete;

  // Starts serving on the RpcServer's loop thread.
  void Start();
  // Called on the loop thread for every validated request.
  void Handle(const PeerAddress& from, Message request);

 private:
  RpcServer* rpc_;
  const ClusterView& view_;
};

}  // namespace metaps
