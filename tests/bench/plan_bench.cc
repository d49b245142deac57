// The client-side cost of a PS call without the network: PsClient::Plan (dedup,
// slicing by server, the hot/cold split) on bench-ps's workload, 65,536 keys
// per request, Zipf(1.1) over 10M ids or distinct keys (a training batch's).
// Prints Google Benchmark's table, keys per second as a counter.
//   build/bench/plan_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <vector>

#include "common/cluster.h"
#include "worker/bench_workload.h"
#include "worker/ps_client.h"

namespace metaps {
namespace {

// Eight requests' keys, as bench-ps cycles through.
std::vector<std::vector<uint64_t>> Requests(bool distinct) {
  BenchWorkload w;
  std::vector<std::vector<uint64_t>> keys(8, std::vector<uint64_t>(w.keys_per_request));
  for (int r = 0; r < 8; ++r) {
    if (distinct) {
      for (size_t i = 0; i < keys[r].size(); ++i) keys[r][i] = (uint64_t{1} << 40) * r + i * 7919;
    } else {
      BenchKeys(w, 0, r, keys[r].data());
    }
  }
  return keys;
}

void BM_Plan(benchmark::State& state) {
  const int servers = static_cast<int>(state.range(0));
  const bool distinct = state.range(1) != 0;
  ClusterView view;
  view.layout = ClusterLayout::Make(servers + 2, servers).value();
  view.my_rank = view.layout.WorkerRank(0);
  PsClient client(nullptr, view);  // Plan sends nothing
  const auto requests = Requests(distinct);
  size_t r = 0, unique = 0;
  for (auto _ : state) {
    const auto& keys = requests[r++ % requests.size()];
    KeyPlan plan = client.Plan(keys.data(), keys.size(), distinct);
    unique += plan.num_unique();
    benchmark::DoNotOptimize(plan);
  }
  const double keys = static_cast<double>(state.iterations()) * requests[0].size();
  state.counters["keys_per_s"] = benchmark::Counter(keys, benchmark::Counter::kIsRate);
  state.counters["unique_per_request"] =
      static_cast<double>(unique) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Plan)
    ->ArgNames({"servers", "distinct"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace metaps

int main(int argc, char** argv) {
  // As the metaps binary does (launch/main.cc): freed buffers stay in the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
