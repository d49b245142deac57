// EmbeddingTable Pull and Push (Adagrad) throughput in rows/s, on a table of
// 2^20 rows, 65,536 uniformly random keys per call, dim 8 / 64 / 256.
// Prints Google Benchmark's table, then one JSON line with rows/s per case.
//
//   build-a/bench/table_bench [--benchmark_filter=dim:64]
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/logging.h"
#include "ps/embedding_table.h"

namespace metaps {
namespace {

constexpr size_t kRows = size_t{1} << 20;
constexpr size_t kKeysPerCall = 65536;
constexpr int kBatches = 8;

// One populated table per dim, shared by every case and thread of that dim.
struct Fixture {
  std::unique_ptr<EmbeddingTable> table;
  std::vector<std::vector<uint64_t>> batches;  // random keys of existing rows
};

Fixture& GetFixture(int dim) {
  static std::map<int, std::unique_ptr<Fixture>>* fixtures =
      new std::map<int, std::unique_ptr<Fixture>>();
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*fixtures)[dim];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  TableSpec spec;
  spec.id = 1;
  spec.name = "bench";
  spec.dim = dim;
  spec.init = InitializerSpec::Uniform(0.01f);
  spec.optimizer.kind = OptimizerKind::kAdagrad;
  auto table = EmbeddingTable::Create(spec, 7);
  METAPS_CHECK(table.ok()) << table.status();
  slot->table = std::move(table).value();
  METAPS_CHECK(slot->table->Reserve(kRows).ok());
  // Keys are spread over the 64-bit space like hashed feature ids.
  std::vector<uint64_t> all(kRows);
  for (size_t i = 0; i < kRows; ++i) all[i] = (i + 1) * 0x9e3779b97f4a7c15ULL;
  std::vector<float> out(kKeysPerCall * dim);
  for (size_t i = 0; i < kRows; i += kKeysPerCall) {
    METAPS_CHECK(slot->table->Pull(all.data() + i, kKeysPerCall, out.data()).ok());
  }
  std::mt19937_64 rng(3);
  slot->batches.resize(kBatches);
  for (auto& batch : slot->batches) {
    batch.resize(kKeysPerCall);
    for (uint64_t& k : batch) k = all[rng() % kRows];
  }
  return *slot;
}

void BM_Pull(benchmark::State& state) {
  const int dim = static_cast<int>(state.range(0));
  Fixture& f = GetFixture(dim);
  std::vector<float> out(kKeysPerCall * dim);
  size_t i = state.thread_index();
  for (auto _ : state) {
    const auto& keys = f.batches[i++ % kBatches];
    METAPS_CHECK(f.table->Pull(keys.data(), keys.size(), out.data()).ok());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kKeysPerCall);
}

void BM_PushAdagrad(benchmark::State& state) {
  const int dim = static_cast<int>(state.range(0));
  Fixture& f = GetFixture(dim);
  std::vector<float> grads(kKeysPerCall * dim);
  for (size_t j = 0; j < grads.size(); ++j) grads[j] = 1e-3f * static_cast<float>(j % 7);
  size_t i = state.thread_index();
  int64_t step = 0;
  for (auto _ : state) {
    const auto& keys = f.batches[i++ % kBatches];
    METAPS_CHECK(f.table->Push(keys.data(), keys.size(), grads.data(), ++step).ok());
  }
  state.SetItemsProcessed(state.iterations() * kKeysPerCall);
}

BENCHMARK(BM_Pull)->ArgName("dim")->Arg(8)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_Pull)->ArgName("dim")->Arg(64)->Threads(2)->UseRealTime();
BENCHMARK(BM_PushAdagrad)->ArgName("dim")->Arg(8)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_PushAdagrad)->ArgName("dim")->Arg(64)->Threads(2)->UseRealTime();

// Prints the usual table and remembers rows/s for the closing JSON line.
class JsonLineReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates_[run.benchmark_name()] = it->second.value;
    }
  }
  void PrintJson() const {
    OrderedJson rates = OrderedJson::object();
    for (const auto& [name, rate] : rates_) rates[name] = JsonRounded(rate, 0);
    // What backs the tables: huge pages (AnonHugePages) and the page faults
    // taken (ru_minflt), with or without METAPS_NO_HUGEPAGE=1.
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    long huge_kib = 0;
    std::ifstream smaps("/proc/self/smaps_rollup");
    for (std::string key; smaps >> key;) {
      if (key == "AnonHugePages:") smaps >> huge_kib;
    }
    const char* no = std::getenv("METAPS_NO_HUGEPAGE");
    const OrderedJson line = {{"bench", "table_bench"},
                              {"rows", kRows},
                              {"keys_per_call", kKeysPerCall},
                              {"huge_pages_requested", !(no && std::string(no) == "1")},
                              {"anon_huge_pages_mib", huge_kib / 1024},
                              {"minor_page_faults", static_cast<int64_t>(usage.ru_minflt)},
                              {"rows_per_s", rates}};
    std::printf("%s\n", JsonText(line).c_str());
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace metaps

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  metaps::JsonLineReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintJson();
  benchmark::Shutdown();
  return 0;
}
