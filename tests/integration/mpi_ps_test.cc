// Integration: 2 servers + 2 workers under mpirun push known gradients; the
// tables the servers export equal a single-process reference, bit for bit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/env.h"
#include "ps/checkpoint.h"
#include "ps/embedding_table.h"
#include "tests/integration/subprocess.h"
#include "worker/bench_workload.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::Subprocess;

constexpr int kWorkers = 2, kSteps = 3, kDim = 8, kKeys = 3000;

std::vector<std::string> BenchPs(int servers, std::vector<std::string> extra) {
  std::vector<std::string> argv = {Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
                                   std::to_string(servers),
                                   std::to_string(kWorkers),
                                   "--",
                                   "bench-ps",
                                   "--steps",
                                   std::to_string(kSteps),
                                   "--keys",
                                   std::to_string(kKeys),
                                   "--dim",
                                   std::to_string(kDim),
                                   "--optimizer",
                                   "sgd",
                                   "--lr",
                                   "0.5",
                                   "--key-space",
                                   "20000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// The single-process reference: every worker's keys and gradients of each
// step, `rounds` times over (a restored run repeats the same steps). SGD on
// integer gradients with lr 0.5 is exact, so the order does not matter.
std::unique_ptr<EmbeddingTable> Reference(int rounds) {
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
  for (int round = 0; round < rounds; ++round) {
    for (int worker = 0; worker < kWorkers; ++worker) {
      for (int step = 0; step < kSteps; ++step) {
        BenchKeys(w, worker, step, keys.data());
        for (int i = 0; i < kKeys; ++i) {
          for (int d = 0; d < kDim; ++d)
            grads[i * kDim + d] = BenchGradient(worker, step, keys[i], d);
        }
        EXPECT_TRUE(reference->Pull(keys.data(), kKeys, scratch.data()).ok());
        EXPECT_TRUE(reference->Push(keys.data(), kKeys, grads.data(), step + 1).ok());
      }
    }
  }
  return reference;
}

// Every exported row equals the reference's, and no row is missing.
void ExpectExportEquals(const std::string& dir, int servers, EmbeddingTable* reference) {
  size_t exported_rows = 0;
  for (int s = 0; s < servers; ++s) {
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

class MpiPsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
      GTEST_SKIP() << "run through ctest";
    }
    dir_ = ::testing::TempDir() + "/metaps_ps_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  // Kept when the test failed, for a look at its files.
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(MpiPsTest, DistributedPushesEqualSingleProcessReference) {
  Subprocess job(BenchPs(2, {"--export-dir", dir_ + "/export"}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  ASSERT_FALSE(job.stdout_lines().empty());
  EXPECT_NE(job.stdout_lines().back().find("\"bench\":\"ps\""), std::string::npos);
  ExpectExportEquals(dir_ + "/export", 2, Reference(1).get());
}

TEST_F(MpiPsTest, CheckpointFromTwoServersResumesOnThree) {
  Subprocess first(BenchPs(2, {"--checkpoint-dir", dir_ + "/ckpt"}));
  ASSERT_EQ(first.Wait(), 0) << first.stderr_text();
  Subprocess second(BenchPs(3, {"--restore", dir_ + "/ckpt", "--export-dir", dir_ + "/export"}));
  ASSERT_EQ(second.Wait(), 0) << second.stderr_text();
  EXPECT_NE(second.stderr_text().find("restored step 3 (saved by 2 servers)"), std::string::npos);
  // Another server count: every server reads every shard and keeps its keys.
  EXPECT_NE(second.stderr_text().find("read 2 of 2 shard files"), std::string::npos)
      << second.stderr_text();
  ExpectExportEquals(dir_ + "/export", 3, Reference(2).get());
}

TEST_F(MpiPsTest, SameServerCountReadsOnlyTheServersOwnShard) {
  Subprocess first(BenchPs(2, {"--checkpoint-dir", dir_ + "/ckpt"}));
  ASSERT_EQ(first.Wait(), 0) << first.stderr_text();
  Subprocess second(BenchPs(2, {"--restore", dir_ + "/ckpt", "--export-dir", dir_ + "/export"}));
  ASSERT_EQ(second.Wait(), 0) << second.stderr_text();
  const std::string log = second.stderr_text();
  size_t count = 0;
  for (size_t at = log.find("read 1 of 2 shard files"); at != std::string::npos;
       at = log.find("read 1 of 2 shard files", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << log;
  ExpectExportEquals(dir_ + "/export", 2, Reference(2).get());
}

// The issue-13 reproduction: a manifest (checksum fixed) listing shard 0 twice
// and shard 1 not at all used to restore silently with shard 1's rows lost.
TEST_F(MpiPsTest, ManifestListingAShardTwiceIsRefused) {
  Subprocess first(BenchPs(2, {"--checkpoint-dir", dir_ + "/ckpt"}));
  ASSERT_EQ(first.Wait(), 0) << first.stderr_text();
  auto manifest = ReadManifest(Env::Default(), dir_ + "/ckpt");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  manifest->files[1] = manifest->files[0];
  const std::string path = dir_ + "/ckpt/step-3/MANIFEST";
  ASSERT_TRUE(WriteFileAtomically(Env::Default(), path, SerializeManifest(*manifest)).ok());
  for (int servers : {2, 3}) {
    Subprocess second(BenchPs(servers, {"--restore", dir_ + "/ckpt"}));
    EXPECT_NE(second.Wait(), 0) << servers << " servers";
    EXPECT_NE(second.stderr_text().find(path + ":7: shard index 0 is listed twice"),
              std::string::npos)
        << second.stderr_text();
  }
}

TEST_F(MpiPsTest, CorruptCheckpointIsRefusedWithTheFileNamed) {
  Subprocess first(BenchPs(2, {"--checkpoint-dir", dir_ + "/ckpt"}));
  ASSERT_EQ(first.Wait(), 0) << first.stderr_text();
  const std::string shard = dir_ + "/ckpt/step-3/shard-00001-of-00002.bin";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(200);
    const char byte = static_cast<char>(f.get());
    f.seekp(200);
    f.put(static_cast<char>(byte ^ 0x5a));  // always a different byte
  }
  Subprocess second(BenchPs(2, {"--restore", dir_ + "/ckpt"}));
  EXPECT_NE(second.Wait(), 0);
  EXPECT_NE(second.stderr_text().find("shard-00001-of-00002.bin"), std::string::npos)
      << second.stderr_text();
  EXPECT_NE(second.stderr_text().find("crc32c mismatch"), std::string::npos);
}

}  // namespace
}  // namespace metaps
