#include "ps/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "common/hash.h"
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
    root_ = (std::filesystem::path(::testing::TempDir()) /
             ("metaps_ckpt_test_" + std::to_string(::getpid())))
                .string();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static std::vector<TableSpec> SgdSpecs() { return {Spec(1, "emb", OptimizerKind::kSgd, 4)}; }
  // Two servers of one SGD table ("emb", dim 4), each trained on its share of
  // keys 0..999, saved at step 5 under root_; `manifest` gets their manifest.
  void SaveTwoSgdServers(Manifest* manifest) {
    Server s0(SgdSpecs()), s1(SgdSpecs());
    Train(&s0, 0, 2, 0, 1000, 1);
    Train(&s1, 1, 2, 0, 1000, 1);
    ASSERT_TRUE(SaveAll(env_, root_, {&s0, &s1}, 5).ok());
    auto m = ReadManifest(env_, root_);
    ASSERT_TRUE(m.ok()) << m.status();
    *manifest = *m;
  }

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

// The crash model itself: what was not synced is gone after a crash.
TEST_F(CheckpointTest, FaultInjectionEnvDropsWhatWasNotSynced) {
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  const std::string old_file = JoinPath(root_, "old");  // made before the env: durable
  ASSERT_TRUE(WriteFileAtomically(env_, old_file, "old contents").ok());
  FaultInjectionEnv env(env_, 0);
  auto write = [&](const std::string& name, const std::string& synced,
                   const std::string& unsynced) {
    auto file = env.NewWritableFile(JoinPath(root_, name));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(synced).ok());
    if (!synced.empty()) {
      ASSERT_TRUE((*file)->Sync().ok());
    }
    ASSERT_TRUE((*file)->Append(unsynced).ok());
    ASSERT_TRUE((*file)->Close().ok());
  };
  write("a", "durable ", "lost");
  write("b", "", "never synced");
  ASSERT_TRUE(env.SyncDir(root_).ok());    // a and b exist for good, a's first 8 bytes
  write("c", "synced data", " and more");  // its directory entry is never synced
  ASSERT_TRUE(env.RenameFile(JoinPath(root_, "a"), JoinPath(root_, "renamed")).ok());
  ASSERT_TRUE(env.DeleteFile(old_file).ok());
  ASSERT_TRUE(env.CreateDir(JoinPath(root_, "new/deeper")).ok());
  write("new/deeper/d", "synced", "");
  ASSERT_TRUE(env.SyncDir(JoinPath(root_, "new/deeper")).ok());  // but not root_ itself

  ASSERT_TRUE(env.SimulateCrash().ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env_->GetChildren(root_, &names).ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "old"}));
  std::string data;
  ASSERT_TRUE(env_->ReadFileToString(JoinPath(root_, "a"), &data).ok());
  EXPECT_EQ(data, "durable ");
  ASSERT_TRUE(env_->ReadFileToString(JoinPath(root_, "b"), &data).ok());
  EXPECT_EQ(data, "");
  ASSERT_TRUE(env_->ReadFileToString(old_file, &data).ok());
  EXPECT_EQ(data, "old contents");
}

// A crash (a power loss: every byte and directory entry not synced is lost,
// see fault_injection_env.h) at any operation of a save leaves the previous
// checkpoint loadable and never exposes a partial new one, and a save that
// returned survives the crash whole. Removing the fsync of a shard, of the
// MANIFEST or of LATEST, or a directory sync of the root, fails this test.
TEST_F(CheckpointTest, CrashAtEveryOperationLeavesAConsistentCheckpoint) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdam, 4),
                                        Spec(2, "ftrl", OptimizerKind::kFtrl, 2)};
  Server a(specs), b(specs);
  Train(&a, 0, 2, 0, 400, 1);
  Train(&b, 1, 2, 0, 400, 1);
  const std::vector<Rows> old_a = SnapshotAll(a), old_b = SnapshotAll(b);
  Server old_a_server(specs), old_b_server(specs);  // the state of the first checkpoint
  for (size_t t = 0; t < specs.size(); ++t) {
    for (const auto& [key, row] : old_a[t]) {
      ASSERT_TRUE(old_a_server.tables[t]->InsertRow(key, row.data()).ok());
    }
    for (const auto& [key, row] : old_b[t]) {
      ASSERT_TRUE(old_b_server.tables[t]->InsertRow(key, row.data()).ok());
    }
  }
  Train(&a, 0, 2, 0, 600, 2);  // the state of the second checkpoint
  Train(&b, 1, 2, 0, 600, 2);
  const std::vector<Rows> new_a = SnapshotAll(a), new_b = SnapshotAll(b);

  // Loads `root` after a crash: either checkpoint, complete; returns its step.
  auto load = [&](const std::string& root) -> int64_t {
    auto manifest = ReadManifest(env_, root);
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    if (!manifest.ok()) return -1;
    EXPECT_TRUE(manifest->step == 10 || manifest->step == 20) << manifest->step;
    Server r0(specs), r1(specs);
    Status s0 = LoadShardsInto(env_, root, *manifest, 0, 2, r0.Mutable());
    Status s1 = LoadShardsInto(env_, root, *manifest, 1, 2, r1.Mutable());
    EXPECT_TRUE(s0.ok()) << s0;
    EXPECT_TRUE(s1.ok()) << s1;
    const bool is_new = manifest->step == 20;
    EXPECT_TRUE(SnapshotAll(r0) == (is_new ? new_a : old_a)) << "server 0, step " << manifest->step;
    EXPECT_TRUE(SnapshotAll(r1) == (is_new ? new_b : old_b)) << "server 1, step " << manifest->step;
    return manifest->step;
  };

  FaultInjectionEnv counter(env_, 0);
  ASSERT_TRUE(SaveAll(&counter, JoinPath(root_, "count"), {&old_a_server, &old_b_server}, 10).ok());
  const int first_ops = counter.ops();
  ASSERT_TRUE(SaveAll(&counter, JoinPath(root_, "count"), {&a, &b}, 20).ok());
  const int total_ops = counter.ops() - first_ops;
  ASSERT_GT(total_ops, 20);

  int loaded_new = 0;
  for (int k = 1; k <= total_ops + 1; ++k) {
    SCOPED_TRACE("crash at op " + std::to_string(k) + " of " + std::to_string(total_ops));
    const std::string root = JoinPath(root_, "k" + std::to_string(k));
    // One env from the first save on: the root it creates must be durable too.
    FaultInjectionEnv faulty(env_, 0);
    ASSERT_TRUE(SaveAll(&faulty, root, {&old_a_server, &old_b_server}, 10).ok());
    faulty.FailAfter(k);
    const Status save = SaveAll(&faulty, root, {&a, &b}, 20);
    EXPECT_EQ(save.ok(), k > total_ops) << save;
    ASSERT_TRUE(faulty.SimulateCrash().ok());

    const int64_t step = load(root);
    if (save.ok()) {
      EXPECT_EQ(step, 20) << "a save that returned was lost in the crash";
    }
    loaded_new += step == 20;

    // A retry after the crash succeeds over the debris, and survives a crash.
    if (!save.ok()) {
      FaultInjectionEnv retry(env_, 0);
      ASSERT_TRUE(SaveAll(&retry, root, {&a, &b}, 20).ok());
      ASSERT_TRUE(retry.SimulateCrash().ok());
      EXPECT_EQ(load(root), 20);
    }
  }
  // The new checkpoint is visible only once LATEST's rename is durable: with no
  // fault, and with a crash at the final sync (of the root's parent).
  EXPECT_EQ(loaded_new, 2);
}

TEST_F(CheckpointTest, FlippedByteIsDataLossNamingTheFile) {
  const std::vector<TableSpec> specs = SgdSpecs();
  Manifest manifest;
  ASSERT_NO_FATAL_FAILURE(SaveTwoSgdServers(&manifest));
  const std::string path = JoinPath(CheckpointStepDir(root_, 5), manifest.files[1].name);
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
  const Status s = LoadShardsInto(env_, root_, manifest, 0, 1, r.Mutable());
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

// Writes `m` as the MANIFEST of its step (with a correct checksum: what an
// editor or a buggy tool could produce).
void RewriteManifest(const std::string& root, const Manifest& m) {
  ASSERT_TRUE(WriteFileAtomically(Env::Default(),
                                  JoinPath(CheckpointStepDir(root, m.step), "MANIFEST"),
                                  SerializeManifest(m))
                  .ok());
}

// Replaces shard `index` of the checkpoint LATEST points at with `data`, and
// its manifest entry's size and CRC32C with data's: only the reader's own
// checks of the contents stand between the file and the tables.
void RewriteShard(const std::string& root, int index, const std::string& data) {
  auto m = ReadManifest(Env::Default(), root);
  ASSERT_TRUE(m.ok()) << m.status();
  ShardFileInfo& f = m->files[index];
  ASSERT_TRUE(
      WriteFileAtomically(Env::Default(), JoinPath(CheckpointStepDir(root, m->step), f.name), data)
          .ok());
  f.size = data.size();
  f.crc32c = Crc32c(data.data(), data.size());
  RewriteManifest(root, *m);
}

// The issue-13 reproduction: a manifest listing shard 0 twice (and shard 1 not
// at all) used to load shard 0's rows twice and lose shard 1's, with rc 0.
TEST_F(CheckpointTest, ManifestListingAShardTwiceIsDataLossNamingItAndTheIndex) {
  const std::vector<TableSpec> specs = SgdSpecs();
  Manifest good;
  ASSERT_NO_FATAL_FAILURE(SaveTwoSgdServers(&good));
  const std::string path = JoinPath(CheckpointStepDir(root_, 5), "MANIFEST");

  Manifest twice = good;
  twice.files[1] = twice.files[0];
  RewriteManifest(root_, twice);
  auto bad = ReadManifest(env_, root_);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  // Lines 1-5 are the header and the table; the files are lines 6 and 7.
  EXPECT_NE(
      bad.status().message().find(path + ":7: shard index 0 is listed twice (also " + path + ":6)"),
      std::string::npos)
      << bad.status();
  // Built in memory, the same manifest is refused by the loader itself.
  Server r(specs);
  Status load = LoadShardsInto(env_, root_, twice, 0, 2, r.Mutable());
  EXPECT_EQ(load.code(), StatusCode::kInvalidArgument) << load;
  EXPECT_NE(load.message().find("shard index 0 is listed twice"), std::string::npos) << load;
  EXPECT_EQ(r.tables[0]->stats().rows, 0u);

  // Each index once, but both naming shard 0's file.
  Manifest same_file = good;
  same_file.files[1].name = same_file.files[0].name;
  RewriteManifest(root_, same_file);
  bad = ReadManifest(env_, root_);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(
      bad.status().message().find(":7: shard file 'shard-00000-of-00002.bin' is listed twice"),
      std::string::npos)
      << bad.status();

  // An index out of range.
  Manifest out_of_range = good;
  out_of_range.files[1].server_index = 2;
  RewriteManifest(root_, out_of_range);
  bad = ReadManifest(env_, root_);
  EXPECT_NE(bad.status().message().find(":7: shard index 2 not in [0, 2)"), std::string::npos)
      << bad.status();

  RewriteManifest(root_, good);
  ASSERT_TRUE(ReadManifest(env_, root_).ok());
}

TEST_F(CheckpointTest, ShardFileNamesStayInTheStepDirectory) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 4)};
  Server s(specs);
  Train(&s, 0, 1, 0, 100, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s}, 3).ok());
  auto good = ReadManifest(env_, root_);
  ASSERT_TRUE(good.ok());
  for (const std::string name : {"../step-3/shard-00000-of-00001.bin", "../../etc/passwd",
                                 "sub/shard.bin", "/abs.bin", "..", ".", "a..b", "back\\slash"}) {
    SCOPED_TRACE(name);
    Manifest m = *good;
    m.files[0].name = name;
    EXPECT_EQ(WriteManifest(env_, root_, m).code(), StatusCode::kInvalidArgument);
    RewriteManifest(root_, m);
    auto bad = ReadManifest(env_, root_);
    EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(bad.status().message().find("MANIFEST:6: bad shard file name '" + name + "'"),
              std::string::npos)
        << bad.status();
    Server r(specs);
    EXPECT_EQ(LoadShardsInto(env_, root_, m, 0, 1, r.Mutable()).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST_F(CheckpointTest, TruncatedShardIsDataLossBeforeAnyRowIsRead) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdagrad, 4)};
  Server s(specs);
  Train(&s, 0, 1, 0, 500, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s}, 2).ok());
  auto m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  const std::string path = JoinPath(CheckpointStepDir(root_, 2), m->files[0].name);
  std::string data;
  ASSERT_TRUE(env_->ReadFileToString(path, &data).ok());

  // Cut short behind the manifest's back: its size says so.
  ASSERT_TRUE(WriteFileAtomically(env_, path, data.substr(0, data.size() - 100)).ok());
  Server r(specs);
  Status st = LoadShardsInto(env_, root_, *m, 0, 1, r.Mutable());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find(path + "': size mismatch: expected " + std::to_string(data.size()) +
                              " bytes, actual " + std::to_string(data.size() - 100)),
            std::string::npos)
      << st;

  // Cut short with a manifest to match: the row count is more than the bytes
  // left can hold, refused before a row is read.
  RewriteShard(root_, 0, data.substr(0, data.size() - 100));
  m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  Server r2(specs);
  st = LoadShardsInto(env_, root_, *m, 0, 1, r2.Mutable());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("table 'emb' claims 500 rows of 40 bytes, but only"),
            std::string::npos)
      << st;
  EXPECT_EQ(r2.tables[0]->stats().rows, 0u);
}

// Shard layout: "MPSSHRD1", 4 u32, i64 step (32 bytes); then the table: u32 id,
// u32 name length, name, i32 dim, i32 row_floats, i32 optimizer, u64 rows.
size_t RowCountOffset(const std::string& table_name) { return 32 + 8 + table_name.size() + 12; }

TEST_F(CheckpointTest, ShardClaimingTwoToTheFortyRowsIsRefusedWithoutAllocating) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 4)};
  Server s(specs);
  Train(&s, 0, 1, 0, 50, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s}, 2).ok());
  auto m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  std::string data;
  ASSERT_TRUE(
      env_->ReadFileToString(JoinPath(CheckpointStepDir(root_, 2), m->files[0].name), &data).ok());
  uint64_t rows = 0;
  std::memcpy(&rows, data.data() + RowCountOffset("emb"), 8);
  ASSERT_EQ(rows, 50u);
  rows = uint64_t{1} << 40;
  std::memcpy(data.data() + RowCountOffset("emb"), &rows, 8);
  RewriteShard(root_, 0, data);
  m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  Server r(specs);
  const Status st = LoadShardsInto(env_, root_, *m, 0, 1, r.Mutable());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("table 'emb' claims 1099511627776 rows of 24 bytes, but only " +
                              std::to_string(50 * 24 + 8) + " bytes are left"),
            std::string::npos)
      << st;
  EXPECT_EQ(r.tables[0]->stats().rows, 0u);
}

TEST_F(CheckpointTest, ShardHoldingAnotherShardsKeyIsDataLoss) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 4)};
  Server s0(specs), s1(specs);
  Train(&s0, 0, 1, 0, 200, 1);  // every key, as if one server: half are server 1's
  Train(&s1, 1, 2, 0, 200, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s0, &s1}, 4).ok());
  auto m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  Server r(specs);
  const Status st = LoadShardsInto(env_, root_, *m, 0, 2, r.Mutable());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("shard-00000-of-00002.bin"), std::string::npos) << st;
  EXPECT_NE(st.message().find("belongs to shard 1, not 0"), std::string::npos) << st;
}

// With the saved server count each server reads its own shard alone; with
// another count, all of them.
TEST_F(CheckpointTest, EachServerReadsOnlyItsOwnShardWhenTheCountIsUnchanged) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 4)};
  Server s0(specs), s1(specs);
  Train(&s0, 0, 2, 0, 1000, 1);
  Train(&s1, 1, 2, 0, 1000, 1);
  ASSERT_TRUE(SaveAll(env_, root_, {&s0, &s1}, 5).ok());
  auto m = ReadManifest(env_, root_);
  ASSERT_TRUE(m.ok());
  int files_read = 0;
  Server r0(specs);
  ASSERT_TRUE(LoadShardsInto(env_, root_, *m, 0, 2, r0.Mutable(), &files_read).ok());
  EXPECT_EQ(files_read, 1);
  EXPECT_TRUE(SnapshotAll(r0) == SnapshotAll(s0));
  Server r1(specs);
  ASSERT_TRUE(LoadShardsInto(env_, root_, *m, 1, 2, r1.Mutable(), &files_read).ok());
  EXPECT_EQ(files_read, 1);
  EXPECT_TRUE(SnapshotAll(r1) == SnapshotAll(s1));
  Server three(specs);
  ASSERT_TRUE(LoadShardsInto(env_, root_, *m, 0, 3, three.Mutable(), &files_read).ok());
  EXPECT_EQ(files_read, 2);

  // Shard 1 gone: server 0 of 2 never opens it; server 1, and any server of
  // another count, fail naming it.
  const std::string shard1 = JoinPath(CheckpointStepDir(root_, 5), m->files[1].name);
  ASSERT_TRUE(env_->DeleteFile(shard1).ok());
  Server again(specs);
  EXPECT_TRUE(LoadShardsInto(env_, root_, *m, 0, 2, again.Mutable()).ok());
  for (auto [index, count] : {std::pair{1, 2}, std::pair{0, 3}}) {
    Server fail(specs);
    const Status st = LoadShardsInto(env_, root_, *m, index, count, fail.Mutable());
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(shard1), std::string::npos) << st;
  }
}

TEST_F(CheckpointTest, ExportIsInKeyOrderAndEqualTablesExportEqualBytes) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kAdagrad, 4)};
  Server forward(specs), backward(specs);
  Train(&forward, 0, 1, 0, 300, 2);
  // The same rows, made in the opposite order.
  const Rows rows = Snapshot(*forward.tables[0]);
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    ASSERT_TRUE(backward.tables[0]->InsertRow(it->first, it->second.data()).ok());
  }
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  std::string bytes[2];
  Server* servers[2] = {&forward, &backward};
  for (int i = 0; i < 2; ++i) {
    const std::string path = JoinPath(root_, std::to_string(i) + ".emb");
    ASSERT_TRUE(ExportEmbeddings(env_, path, servers[i]->View()).ok());
    ASSERT_TRUE(env_->ReadFileToString(path, &bytes[i]).ok());
    auto exported = ReadExportedEmbeddings(env_, path);
    ASSERT_TRUE(exported.ok());
    EXPECT_TRUE(std::is_sorted((*exported)[0].keys.begin(), (*exported)[0].keys.end()));
  }
  EXPECT_TRUE(bytes[0] == bytes[1]);
  EXPECT_GT(bytes[0].size(), 300u * 24);
}

// A table exported under another id and name reads back as that table, with
// the same rows; the names must be one per table, distinct and non-empty.
TEST_F(CheckpointTest, ExportAsRecordsTheGivenIdAndName) {
  const std::vector<TableSpec> specs = {Spec(1000, "trial-emb", OptimizerKind::kAdagrad, 4),
                                        Spec(1001, "trial-lin", OptimizerKind::kSgd, 1)};
  Server s(specs);
  Train(&s, 0, 1, 0, 50, 2);
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  const std::string plain = JoinPath(root_, "plain.emb"), as = JoinPath(root_, "as.emb");
  ASSERT_TRUE(ExportEmbeddings(env_, plain, s.View()).ok());
  ASSERT_TRUE(
      ExportEmbeddingsAs(env_, as, s.View(), {{1000, 0, "embedding"}, {1001, 1, "linear"}}).ok());
  auto p = ReadExportedEmbeddings(env_, plain);
  auto a = ReadExportedEmbeddings(env_, as);
  ASSERT_TRUE(p.ok() && a.ok());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].id, 0u);
  EXPECT_EQ((*a)[0].name, "embedding");
  EXPECT_EQ((*a)[1].id, 1u);
  EXPECT_EQ((*a)[1].name, "linear");
  for (size_t t = 0; t < 2; ++t) {
    EXPECT_EQ((*a)[t].dim, (*p)[t].dim);
    EXPECT_EQ((*a)[t].keys, (*p)[t].keys);
    EXPECT_EQ((*a)[t].values, (*p)[t].values);
  }
  EXPECT_EQ(ExportEmbeddingsAs(env_, as, s.View(), {{1000, 0, "embedding"}}).code(),
            StatusCode::kInvalidArgument);
  Status twice = ExportEmbeddingsAs(env_, as, s.View(), {{1000, 0, "a"}, {1001, 0, "b"}});
  EXPECT_NE(twice.message().find("as_id 0 given twice"), std::string::npos) << twice;
  Status unnamed = ExportEmbeddingsAs(env_, as, s.View(), {{1000, 0, ""}, {1001, 1, "b"}});
  EXPECT_NE(unnamed.message().find("empty as_name"), std::string::npos) << unnamed;
}

TEST_F(CheckpointTest, ExportClaimingMoreThanItHoldsIsRefusedWithoutAllocating) {
  const std::vector<TableSpec> specs = {Spec(1, "emb", OptimizerKind::kSgd, 2)};
  Server s(specs);
  Train(&s, 0, 1, 0, 10, 1);
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  const std::string path = JoinPath(root_, "x.emb");
  ASSERT_TRUE(ExportEmbeddings(env_, path, s.View()).ok());
  std::string good;
  ASSERT_TRUE(env_->ReadFileToString(path, &good).ok());
  // Export layout: "MPSEMBD1" u32 version u32 num_tables (16 bytes), then
  // u32 id, u32 name length, "emb", i32 dim (at 27), u64 count (at 31).
  auto patched = [&](size_t offset, const void* value, size_t n) {
    std::string data = good.substr(0, good.size() - 4);
    std::memcpy(data.data() + offset, value, n);
    const uint32_t crc = Crc32c(data.data(), data.size());
    data.append(reinterpret_cast<const char*>(&crc), 4);
    return data;
  };
  const uint32_t many_tables = 0xffffffffu;
  const int32_t huge_dim = 1 << 30;
  const uint64_t many_rows = uint64_t{1} << 40;
  const struct {
    size_t offset;
    const void* value;
    size_t n;
    std::string message;
  } cases[] = {
      {12, &many_tables, 4, "header claims 4294967295 tables, but only"},
      {27, &huge_dim, 4, "bad table header"},
      {31, &many_rows, 8, "table 'emb' claims 1099511627776 rows of 16 bytes, but only"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    ASSERT_TRUE(WriteFileAtomically(env_, path, patched(c.offset, c.value, c.n)).ok());
    auto read = ReadExportedEmbeddings(env_, path);
    EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(read.status().message().find(c.message), std::string::npos) << read.status();
  }
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
