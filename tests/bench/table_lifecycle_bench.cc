// Server memory across a model-selection trial's table lifetime: a serving
// ParameterServer (in-process, over ZeroMQ inproc, with the metaps binary's
// malloc settings) creates a table at run time, a PsClient fills it with
// ROWS rows by training pulls, and the table is dropped; the process's
// resident memory is printed before, full and after, per round.
//
//   build/bench/table_lifecycle_bench [ROWS] [DIM] [ROUNDS]   (default 1000000 64 3)
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/logging.h"
#include "ps/server.h"
#include "worker/ps_client.h"

namespace metaps {
namespace {

double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096.0 / (1 << 20);
}

int Main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const int dim = argc > 2 ? std::atoi(argv[2]) : 64;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  // As launch/main.cc: freed message buffers stay in the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  TransportOptions t;
  t.curve = false;
  t.scheme = "inproc";
  auto transport = Transport::Create(t).value();
  ClusterView view;
  view.layout = ClusterLayout::Make(3, 1).value();
  view.peers.resize(3);
  RpcServer::Options o;
  o.name = "lifecycle-ps";
  o.world_size = 3;
  auto rpc = RpcServer::Create(transport.get(), {}, o).value();
  view.peers[static_cast<size_t>(view.layout.ServerRank(0))].set_endpoint(rpc->endpoint());
  ClusterView server_view = view;
  server_view.my_rank = view.layout.ServerRank(0);
  ParameterServer server(rpc.get(), server_view);
  server.Start();
  ClusterView worker_view = view;
  worker_view.my_rank = view.layout.WorkerRank(0);
  auto client_rpc = RpcClient::Create(transport.get(), {}, worker_view.my_rank, 3, "w").value();
  client_rpc->AddPeer(view.layout.ServerRank(0), rpc->endpoint(), "");
  PsClient client(client_rpc.get(), worker_view);

  constexpr size_t kChunk = 65536;
  std::vector<uint64_t> keys(kChunk);
  std::vector<float> out(kChunk * static_cast<size_t>(dim));
  for (int round = 1; round <= rounds; ++round) {
    const double before = ResidentMiB();
    TableSpec spec;
    spec.id = 100 + static_cast<uint32_t>(round);
    spec.name = "trial";
    spec.dim = dim;
    spec.init = InitializerSpec::Uniform(0.01f);
    spec.optimizer.kind = OptimizerKind::kAdagrad;
    METAPS_CHECK(server.CreateTable(spec, 7).ok());
    client.AddTable(spec.id, dim);
    for (size_t done = 0; done < rows; done += kChunk) {
      const size_t n = std::min(kChunk, rows - done);
      for (size_t i = 0; i < n; ++i) keys[i] = Mix64(done + i + 1);
      METAPS_CHECK(client.Pull(spec.id, keys.data(), n, out.data(), true).Wait().ok());
    }
    const double full = ResidentMiB();
    const size_t bytes = server.TableBytes();
    METAPS_CHECK(server.DropTable(spec.id).ok());
    client.RemoveTable(spec.id);
    const double after = ResidentMiB();
    std::printf(
        "{\"bench\":\"table_lifecycle\",\"round\":%d,\"rows\":%zu,\"dim\":%d,"
        "\"table_mib\":%.1f,\"rss_before_mib\":%.1f,\"rss_full_mib\":%.1f,"
        "\"rss_after_mib\":%.1f,\"after_over_before\":%.4f}\n",
        round, rows, dim, static_cast<double>(bytes) / (1 << 20), before, full, after,
        after / before);
    std::fflush(stdout);
  }
  client_rpc->Close();
  server.Stop();
  return 0;
}

}  // namespace
}  // namespace metaps

int main(int argc, char** argv) { return metaps::Main(argc, argv); }
