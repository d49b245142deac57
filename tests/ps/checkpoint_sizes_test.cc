// Sizes read from checkpoint and export files are checked against the file
// before anything is allocated (found by tests/fuzz/checkpoint_shard_fuzz):
// a crafted count is a DataLoss naming the file, never a huge allocation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/hash.h"
#include "ps/checkpoint.h"
#include "ps/checkpoint_manifest.h"
#include "ps/embedding_table.h"

namespace metaps {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

void PutName(std::string* out, const std::string& name) {
  Put<uint32_t>(out, static_cast<uint32_t>(name.size()));
  out->append(name);
}

class CheckpointSizesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (std::filesystem::path(::testing::TempDir()) /
             ("metaps_ckpt_sizes_test_" + std::to_string(::getpid())))
                .string();
    std::filesystem::remove_all(root_);
    ASSERT_TRUE(env_->CreateDir(root_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Writes `body` with its CRC32C appended as an export file; returns the path.
  std::string WriteExport(std::string body) {
    const uint32_t crc = Crc32c(body.data(), body.size());
    Put(&body, crc);
    const std::string path = JoinPath(root_, "crafted.emb");
    EXPECT_TRUE(WriteFileAtomically(env_, path, body).ok());
    return path;
  }

  Env* env_ = Env::Default();
  std::string root_;
};

TEST_F(CheckpointSizesTest, ExportWithHugeTableCountIsDataLoss) {
  std::string body = "MPSEMBD1";
  Put<uint32_t>(&body, 1);            // version
  Put<uint32_t>(&body, 0xffffffffu);  // num_tables
  const std::string path = WriteExport(body);
  const auto read = ReadExportedEmbeddings(env_, path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(read.status().message().find(path), std::string::npos) << read.status();
  EXPECT_NE(read.status().message().find("4294967295 tables"), std::string::npos) << read.status();
}

TEST_F(CheckpointSizesTest, ExportWithHugeDimIsDataLoss) {
  std::string body = "MPSEMBD1";
  Put<uint32_t>(&body, 1);  // version
  Put<uint32_t>(&body, 1);  // num_tables
  Put<uint32_t>(&body, 7);  // id
  PutName(&body, "emb");
  Put<int32_t>(&body, 1 << 30);  // dim: 4 GiB per row
  Put<uint64_t>(&body, 3);       // count
  Put<uint64_t>(&body, 42);      // one key, no values
  const std::string path = WriteExport(body);
  const auto read = ReadExportedEmbeddings(env_, path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(read.status().message().find(path), std::string::npos) << read.status();
  // A dim above 65536 is refused with the table's header, before its rows.
  EXPECT_NE(read.status().message().find("bad table header"), std::string::npos) << read.status();
}

TEST_F(CheckpointSizesTest, ShardWithHugeRowCountIsDataLoss) {
  TableSpec spec;
  spec.id = 1;
  spec.name = "emb";
  spec.dim = 4;
  spec.init = InitializerSpec::Uniform(0.1f);
  auto table = EmbeddingTable::Create(spec, 1);
  ASSERT_TRUE(table.ok());
  Manifest manifest;
  manifest.job_name = "crafted";
  manifest.step = 2;
  manifest.num_servers = 1;
  manifest.tables.push_back(DescribeTable(**table));

  std::string shard = "MPSSHRD1";
  Put<uint32_t>(&shard, 1);  // version
  Put<uint32_t>(&shard, 0);  // server_index
  Put<uint32_t>(&shard, 1);  // num_servers
  Put<uint32_t>(&shard, 1);  // num_tables
  Put<int64_t>(&shard, 2);   // step
  Put<uint32_t>(&shard, 1);  // table id
  PutName(&shard, "emb");
  Put<int32_t>(&shard, 4);  // dim
  Put<int32_t>(&shard, manifest.tables[0].row_floats);
  Put<int32_t>(&shard, 0);                   // optimizer
  Put<uint64_t>(&shard, uint64_t{1} << 60);  // rows
  shard += "MPSSEND1";
  const std::string dir = CheckpointStepDir(root_, 2);
  ASSERT_TRUE(env_->CreateDir(dir).ok());
  ASSERT_TRUE(WriteFileAtomically(env_, JoinPath(dir, "shard-0-of-1.bin"), shard).ok());
  manifest.files.push_back(
      ShardFileInfo{0, "shard-0-of-1.bin", shard.size(), Crc32c(shard.data(), shard.size())});

  const Status s = LoadShardsInto(env_, root_, manifest, 0, 1, {table->get()});
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("shard-0-of-1.bin"), std::string::npos) << s;
  EXPECT_NE(s.message().find("bytes are left"), std::string::npos) << s;
  EXPECT_EQ(table->get()->stats().rows, 0u);
}

}  // namespace
}  // namespace metaps
