#include "ps/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "common/partition.h"
#include "tests/ps/fault_injection_env.h"

namespace metaps {
namespace {

constexpr uint64_t kSeed = 99;
using Rows = std::map<uint64_t, std::vector<float>>;

TableSpec Spec(uint32_t id, const std::string& name, OptimizerKind kind, int dim) {
  TableSpec spec;
  spec.id = id;
  spec.name = name;
  spec.dim = dim;
  spec.init = InitializerSpec::Uniform(0.1f);
  spec.optimizer.kind = kind;
  spec.optimizer.lr = 0.1f;
  return spec;
}

std::vector<TableSpec> AllSpecs() {
  return {Spec(1, "sgd", OptimizerKind::kSgd, 4), Spec(2, "adagrad", OptimizerKind::kAdagrad, 8),
          Spec(3, "adam", OptimizerKind::kAdam, 3), Spec(4, "ftrl", OptimizerKind::kFtrl, 5)};
}

// One server's tables.
struct Server {
  std::vector<std::unique_ptr<EmbeddingTable>> tables;

  explicit Server(const std::vector<TableSpec>& specs) {
    for (const TableSpec& s : specs) tables.push_back(EmbeddingTable::Create(s, kSeed).value());
  }
  std::vector<const EmbeddingTable*> View() const {
    std::vector<const EmbeddingTable*> v;
    for (const auto& t : tables) v.push_back(t.get());
    return v;
  }
  std::vector<EmbeddingTable*> Mutable() {
    std::vector<EmbeddingTable*> v;
    for (const auto& t : tables) v.push_back(t.get());
    return v;
  }
};

Rows Snapshot(const EmbeddingTable& t) {
  Rows rows;
  t.ForEachRow(
      [&](uint64_t key, const float* row) { rows[key].assign(row, row + t.row_floats()); });
  return rows;
}

std::vector<Rows> SnapshotAll(const Server& s) {
  std::vector<Rows> out;
  for (const auto& t : s.tables) out.push_back(Snapshot(*t));
  return out;
}

// Pushes `rounds` gradients to keys [first, first + n) that `server` owns.
void Train(Server* server, int index, int num_servers, uint64_t first, size_t n, int rounds) {
  for (auto& table : server->tables) {
    std::vector<uint64_t> keys;
    for (uint64_t k = first; k < first + n; ++k) {
      if (KeyToServer(k, num_servers) == index) keys.push_back(k);
    }
    std::vector<float> grads(keys.size() * table->dim());
    for (int r = 1; r <= rounds; ++r) {
      for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.01f * ((i * 31 + r) % 17) - 0.08f;
      ASSERT_TRUE(table->Push(keys.data(), keys.size(), grads.data(), r).ok());
    }
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (std::filesystem::temp_directory_path() /
             ("metaps_ckpt_test_" + std::to_string(::getpid())))
                .string();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Saves every server's shard and the manifest through `env`.
  Status SaveAll(Env* env, const std::string& root, const std::vector<Server*>& servers,
                 int64_t step) {
    Manifest m;
    m.job_name = "test-job";
    m.step = step;
    m.num_servers = static_cast<int>(servers.size());
    for (const auto& t : servers[0]->tables) m.tables.push_back(DescribeTable(*t));
    for (size_t i = 0; i < servers.size(); ++i) {
      ShardFileInfo info;
      RETURN_IF_ERROR(SaveShard(env, root, static_cast<int>(i), m.num_servers, servers[i]->View(),
                                step, &info));
      m.files.push_back(info);
    }
    return WriteManifest(env, root, m);
  }

  Env* env_ = Env::Default();
  std::string root_;
};

TEST_F(CheckpointTest, RoundTripIsBitExactForEveryOptimizer) {
  Server server(AllSpecs());
  Train(&server, 0, 1, 0, 3000, 3);
  ASSERT_TRUE(SaveAll(env_, root_, {&server}, 30).ok());

  auto manifest = ReadManifest(env_, root_);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->job_name, "test-job");
  EXPECT_EQ(manifest->step, 30);
  EXPECT_EQ(manifest->num_servers, 1);
  ASSERT_EQ(manifest->tables.size(), 4u);
  EXPECT_EQ(manifest->tables[2].name, "adam");
  EXPECT_EQ(manifest->tables[2].row_floats, 3 + 2 * 3 + 1);
  EXPECT_EQ(manifest->tables[3].optimizer, OptimizerKind::kFtrl);
  ASSERT_EQ(manifest->files.size(), 1u);
  EXPECT_EQ(manifest->files[0].name, "shard-00000-of-00001.bin");

  Server restored(AllSpecs());
  ASSERT_TRUE(LoadShardsInto(env_, root_, *manifest, 0, 1, restored.Mutable()).ok());
  const std::vector<Rows> before = SnapshotAll(server);
  const std::vector<Rows> after = SnapshotAll(restored);
  ASSERT_EQ(before.size(), after.size());
  for (size_t t = 0; t < before.size(); ++t) {
    ASSERT_EQ(before[t].size(), 3000u);
    ASSERT_EQ(after[t].size(), before[t].size());
    for (const auto& [key, row] : before[t]) {
      ASSERT_EQ(std::memcmp(row.data(), after[t].at(key).data(), row.size() * 4), 0) << key;
    }
  }
}

TEST_F(CheckpointTest, TwoServersRestoreOntoThree) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdagrad, 8)};
  Server s0(specs), s1(specs);
  Train(&s0, 0, 2, 0, 10000, 2);
  Train(&s1, 1, 2, 0, 10000, 2);
  ASSERT_TRUE(SaveAll(env_, root_, {&s0, &s1}, 7).ok());
  auto manifest = ReadManifest(env_, root_);
  ASSERT_TRUE(manifest.ok()) << manifest.status();

  std::vector<std::unique_ptr<Server>> three;
  for (int i = 0; i < 3; ++i) {
    three.push_back(std::make_unique<Server>(specs));
    ASSERT_TRUE(LoadShardsInto(env_, root_, *manifest, i, 3, three[i]->Mutable()).ok());
  }
  size_t rows = 0;
  for (auto& s : three) rows += s->tables[0]->stats().rows;
  EXPECT_EQ(rows, 10000u);
  Server* old_servers[2] = {&s0, &s1};
  for (uint64_t key = 0; key < 10000; ++key) {
    float before[8], after[8];
    ASSERT_TRUE(old_servers[KeyToServer(key, 2)]->tables[0]->Pull(&key, 1, before).ok());
    ASSERT_TRUE(three[KeyToServer(key, 3)]->tables[0]->Pull(&key, 1, after).ok());
    ASSERT_EQ(std::memcmp(before, after, sizeof(before)), 0) << "key " << key;
  }
  // No server received a row it does not own: pulls created nothing new.
  rows = 0;
  for (auto& s : three) rows += s->tables[0]->stats().rows;
  EXPECT_EQ(rows, 10000u);
}

// A crash at any operation of a save leaves the previous checkpoint loadable and
// never exposes a partial new one.
TEST_F(CheckpointTest, CrashAtEveryOperationLeavesAConsistentCheckpoint) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdam, 4),
                                        Spec(2, "ftrl", OptimizerKind::kFtrl, 2)};
  Server a(specs), b(specs);
  Train(&a, 0, 2, 0, 400, 1);
  Train(&b, 1, 2, 0, 400, 1);
  const std::vector<Rows> old_a = SnapshotAll(a), old_b = SnapshotAll(b);
  Train(&a, 0, 2, 0, 600, 2);  // the state of the second checkpoint
  Train(&b, 1, 2, 0, 600, 2);
  const std::vector<Rows> new_a = SnapshotAll(a), new_b = SnapshotAll(b);

  // fsync is counted but skipped: the crash model does not lose unsynced data.
  FaultInjectionEnv no_sync(env_, 0, /*perform_syncs=*/false);
  FaultInjectionEnv counter(env_, 0, /*perform_syncs=*/false);
  ASSERT_TRUE(SaveAll(&counter, JoinPath(root_, "count"), {&a, &b}, 20).ok());
  const int total_ops = counter.ops();
  ASSERT_GT(total_ops, 20);

  int loaded_new = 0;
  for (int k = 1; k <= total_ops + 1; ++k) {
    SCOPED_TRACE("crash at op " + std::to_string(k));
    const std::string root = JoinPath(root_, "k" + std::to_string(k));
    Server old_a_server(specs), old_b_server(specs);
    for (size_t t = 0; t < specs.size(); ++t) {
      for (const auto& [key, row] : old_a[t]) {
        ASSERT_TRUE(old_a_server.tables[t]->InsertRow(key, row.data()).ok());
      }
      for (const auto& [key, row] : old_b[t]) {
        ASSERT_TRUE(old_b_server.tables[t]->InsertRow(key, row.data()).ok());
      }
    }
    ASSERT_TRUE(SaveAll(&no_sync, root, {&old_a_server, &old_b_server}, 10).ok());
    FaultInjectionEnv faulty(env_, k, /*perform_syncs=*/false);
    const Status save = SaveAll(&faulty, root, {&a, &b}, 20);
    EXPECT_EQ(save.ok(), k > total_ops) << save;

    auto manifest = ReadManifest(env_, root);
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    ASSERT_TRUE(manifest->step == 10 || manifest->step == 20);
    Server r0(specs), r1(specs);
    ASSERT_TRUE(LoadShardsInto(env_, root, *manifest, 0, 2, r0.Mutable()).ok());
    ASSERT_TRUE(LoadShardsInto(env_, root, *manifest, 1, 2, r1.Mutable()).ok());
    const bool is_new = manifest->step == 20;
    loaded_new += is_new;
    EXPECT_EQ(SnapshotAll(r0), is_new ? new_a : old_a);
    EXPECT_EQ(SnapshotAll(r1), is_new ? new_b : old_b);

    // A retry after the crash succeeds over the debris.
    if (!save.ok()) {
      ASSERT_TRUE(SaveAll(&no_sync, root, {&a, &b}, 20).ok());
      auto retried = ReadManifest(env_, root);
      ASSERT_TRUE(retried.ok());
      EXPECT_EQ(retried->step, 20);
    }
  }
  // The new checkpoint is visible only once the LATEST rename succeeded: with no
  // fault, and with a crash at the final directory sync.
  EXPECT_EQ(loaded_new, 2);
}

TEST_F(CheckpointTest, FlippedByteIsDataLossNamingTheFile) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 4)};
  Server s0(specs), s1(specs);
  Train(&s0, 0, 2, 0, 1000, 1);
  Train(&s1, 1, 2, 0, 1000, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s0, &s1}, 5).ok());
  auto manifest = ReadManifest(env_, root_);
  ASSERT_TRUE(manifest.ok());
  const std::string path = JoinPath(CheckpointStepDir(root_, 5), manifest->files[1].name);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(200);
    f.write(&c, 1);
  }
  Server r(specs);
  const Status s = LoadShardsInto(env_, root_, *manifest, 0, 1, r.Mutable());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
  EXPECT_NE(s.message().find("crc32c mismatch: expected 0x"), std::string::npos) << s;
  EXPECT_NE(s.message().find("actual 0x"), std::string::npos) << s;

  // A damaged manifest is refused too.
  const std::string manifest_path = JoinPath(CheckpointStepDir(root_, 5), "MANIFEST");
  std::string text;
  ASSERT_TRUE(env_->ReadFileToString(manifest_path, &text).ok());
  text[text.find("num_servers 2")] = 'N';
  ASSERT_TRUE(WriteFileAtomically(env_, manifest_path, text).ok());
  const auto bad = ReadManifest(env_, root_);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("MANIFEST"), std::string::npos) << bad.status();
}

TEST_F(CheckpointTest, MismatchedTableAndMissingCheckpointAreErrors) {
  EXPECT_EQ(ReadManifest(env_, root_).status().code(), StatusCode::kNotFound);
  Server s(std::vector<TableSpec>{Spec(1, "emb", OptimizerKind::kSgd, 4)});
  Train(&s, 0, 1, 0, 10, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s}, 1).ok());
  auto manifest = ReadManifest(env_, root_);
  ASSERT_TRUE(manifest.ok());
  Server wrong_dim(std::vector<TableSpec>{Spec(1, "emb", OptimizerKind::kSgd, 5)});
  const Status st = LoadShardsInto(env_, root_, *manifest, 0, 1, wrong_dim.Mutable());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("dim 4"), std::string::npos) << st;
  Server unknown(std::vector<TableSpec>{Spec(9, "other", OptimizerKind::kSgd, 4)});
  EXPECT_EQ(LoadShardsInto(env_, root_, *manifest, 0, 1, unknown.Mutable()).code(),
            StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ExportHoldsValuesOnly) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdam, 6),
                                        Spec(2, "small", OptimizerKind::kSgd, 2)};
  Server s(specs);
  Train(&s, 0, 1, 100, 500, 2);
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  const std::string path = JoinPath(root_, "serving.emb");
  ASSERT_TRUE(ExportEmbeddings(env_, path, s.View()).ok());
  auto exported = ReadExportedEmbeddings(env_, path);
  ASSERT_TRUE(exported.ok()) << exported.status();
  ASSERT_EQ(exported->size(), 2u);
  for (size_t t = 0; t < 2; ++t) {
    const ExportedTable& e = (*exported)[t];
    EXPECT_EQ(e.id, specs[t].id);
    EXPECT_EQ(e.name, specs[t].name);
    ASSERT_EQ(e.dim, specs[t].dim);
    ASSERT_EQ(e.keys.size(), 500u);
    ASSERT_EQ(e.values.size(), 500u * e.dim);
    std::vector<float> pulled(e.values.size());
    ASSERT_TRUE(s.tables[t]->Pull(e.keys.data(), e.keys.size(), pulled.data()).ok());
    EXPECT_EQ(pulled, e.values);
  }
}

}  // namespace
}  // namespace metaps
