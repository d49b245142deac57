// Integration: 2 servers + 2 workers under mpirun push known gradients; the
// tables the servers export equal a single-process reference, bit for bit.
#include <gtest/gtest.h>

#include <map>

#include "common/env.h"
#include "ps/checkpoint.h"
#include "ps/embedding_table.h"
#include "tests/integration/subprocess.h"
#include "worker/bench_workload.h"

namespace metaps {
namespace {

using metaps::testing::Subprocess;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

TEST(MpiPsTest, DistributedPushesEqualSingleProcessReference) {
  if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
    GTEST_SKIP() << "run through ctest";
  }
  const std::string dir = ::testing::TempDir() + "/metaps_ps_" + std::to_string(getpid());
  constexpr int kWorkers = 2, kSteps = 6, kDim = 8, kKeys = 3000;
  Subprocess job({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "2", std::to_string(kWorkers),
                  "--", "bench-ps", "--steps", std::to_string(kSteps), "--keys",
                  std::to_string(kKeys), "--dim", std::to_string(kDim), "--optimizer", "sgd",
                  "--lr", "0.5", "--key-space", "20000", "--export-dir", dir});
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  ASSERT_FALSE(job.stdout_lines().empty());
  EXPECT_NE(job.stdout_lines().back().find("\"bench\":\"ps\""), std::string::npos);

  // Single-process reference: the same keys and gradients, applied in any
  // order (SGD on integer gradients with lr 0.5 is exact).
  TableSpec spec;
  spec.id = 0;
  spec.name = "bench";
  spec.dim = kDim;
  spec.optimizer.kind = OptimizerKind::kSgd;
  spec.optimizer.lr = 0.5f;
  auto reference = EmbeddingTable::Create(spec, /*job_seed=*/1).value();
  BenchWorkload w;
  w.key_space = 20000;
  w.keys_per_request = kKeys;
  std::vector<uint64_t> keys(kKeys);
  std::vector<float> grads(kKeys * kDim), scratch(kKeys * kDim);
  for (int worker = 0; worker < kWorkers; ++worker) {
    for (int step = 0; step < kSteps; ++step) {
      BenchKeys(w, worker, step, keys.data());
      for (int i = 0; i < kKeys; ++i) {
        for (int d = 0; d < kDim; ++d)
          grads[i * kDim + d] = BenchGradient(worker, step, keys[i], d);
      }
      ASSERT_TRUE(reference->Pull(keys.data(), kKeys, scratch.data()).ok());
      ASSERT_TRUE(reference->Push(keys.data(), kKeys, grads.data(), step + 1).ok());
    }
  }

  size_t exported_rows = 0;
  for (int s = 0; s < 2; ++s) {
    auto tables =
        ReadExportedEmbeddings(Env::Default(), dir + "/server-" + std::to_string(s) + ".emb");
    ASSERT_TRUE(tables.ok()) << tables.status();
    ASSERT_EQ(tables->size(), 1u);
    const ExportedTable& t = (*tables)[0];
    ASSERT_EQ(t.dim, kDim);
    exported_rows += t.keys.size();
    std::vector<float> want(t.keys.size() * kDim);
    ASSERT_TRUE(reference->Pull(t.keys.data(), t.keys.size(), want.data()).ok());
    EXPECT_EQ(t.values, want) << "server " << s;
  }
  EXPECT_EQ(exported_rows, reference->stats().rows);
  EXPECT_GT(exported_rows, 1000u);
}

}  // namespace
}  // namespace metaps
