// Forward+backward throughput of each model family on the CPU backend, on a
// Criteo-shaped batch (13 dense features, 26 one-key slots, 1024 examples,
// 5,000 distinct keys per slot, dim 16). Model compute only: no pulls, no
// pushes, no all-reduce. Prints one line per case, then a JSON line last.
// Never fails on speed.
//
//   model_bench [seconds_per_case=1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/logging.h"
#include "kernels/cpu/cpu_backend.h"
#include "worker/embedding_batch.h"
#include "worker/model.h"

namespace metaps {
namespace {

constexpr int kDim = 16;
constexpr size_t kBatch = 1024;

BatchSchema CriteoSchema() {
  BatchSchema schema;
  // As the Criteo reader has them: I1..I13, then their missing indicators.
  for (int d = 0; d < 26; ++d) schema.dense_names.push_back("I" + std::to_string(d + 1));
  for (int s = 0; s < 26; ++s) schema.slots.push_back({"C" + std::to_string(s + 1), false});
  schema.slots[0].name = "user";  // mf and ncf read a user and an item slot
  schema.slots[1].name = "item";
  return schema;
}

Batch MakeBatch(const BatchSchema& schema) {
  std::mt19937_64 rng(7);
  Batch batch;
  batch.Reset(schema);
  for (size_t i = 0; i < kBatch; ++i) {
    for (size_t d = 0; d < schema.num_dense(); ++d) batch.AddDense(0.1f * (rng() % 10));
    for (size_t s = 0; s < schema.num_slots(); ++s) batch.AddKey(s, (s << 32) + rng() % 5000);
    batch.FinishExample(static_cast<float>(rng() % 2), static_cast<uint32_t>(rng() % 4));
  }
  return batch;
}

// The trainer's own builder (distinct keys, row index per key), then random rows.
EmbeddingBatch MakeEmbeddingBatch(const Batch& batch) {
  EmbeddingBatch emb;
  EmbeddingBatchBuilder().Build(batch, kDim, /*with_linear=*/true, &emb);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  for (TableRows& table : emb.tables) {
    for (float& x : table.rows) x = normal(rng);
  }
  return emb;
}

struct Case {
  std::string name;
  ModelOptions options;
};

std::vector<Case> Cases() {
  auto options = [](const std::string& family, std::vector<int> hidden) {
    ModelOptions o;
    o.family = family;
    o.embedding_dim = kDim;
    o.hidden = std::move(hidden);
    return o;
  };
  std::vector<Case> cases;
  Case fm{"fm", options("deepfm", {})};
  fm.options.use_mlp = false;
  cases.push_back(fm);
  cases.push_back({"deepfm_400x3", options("deepfm", {400, 400, 400})});
  cases.push_back({"mf", options("mf", {})});
  cases.push_back({"ncf_64_32", options("ncf", {64, 32})});
  Case ms{"multi_scenario_256_128_64", options("multi_scenario", {256, 128, 64})};
  ms.options.num_scenarios = 4;
  cases.push_back(ms);
  return cases;
}

}  // namespace
}  // namespace metaps

int main(int argc, char** argv) {
  using namespace metaps;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const BatchSchema schema = CriteoSchema();
  const Batch batch = MakeBatch(schema);
  EmbeddingBatch emb = MakeEmbeddingBatch(batch);
  std::unique_ptr<KernelBackend> backend = MakeCpuBackend();
  std::vector<float> predictions(batch.size());
  OrderedJson json = {{"bench", "model"}, {"batch", kBatch}, {"dim", kDim}};
  OrderedJson rates = OrderedJson::object();
  for (const Case& c : Cases()) {
    auto model = CreateModel(c.options, schema, backend.get());
    METAPS_CHECK(model.ok()) << model.status();
    std::vector<float> dense((*model)->num_dense()), grad(dense.size());
    (*model)->InitDense(1, dense.data());
    size_t batches = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      METAPS_CHECK((*model)
                       ->ForwardBackward(batch, emb, dense.data(), grad.data(), predictions.data())
                       .ok());
      ++batches;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    const double rate = batches * kBatch / elapsed;
    std::printf("%-28s %10.0f samples/s  (%zu dense params)\n", c.name.c_str(), rate, dense.size());
    rates[c.name] = static_cast<int64_t>(rate);
  }
  json["samples_per_s"] = rates;
  std::printf("%s\n", JsonText(json).c_str());
  return 0;
}
