// Fuzzes the shard reader (LoadShardsInto) and the export reader
// (ReadExportedEmbeddings). The input is written as shard 0 of 1 of a
// checkpoint whose manifest lists its true size and CRC32C (so the reader
// parses it instead of rejecting the checksum), and loaded into the two tables
// of checkpoint_fuzz_util.h; then, with its CRC32C appended, read as an export
// file. Seeds: checkpoint_seeds.cc.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/hash.h"
#include "tests/fuzz/checkpoint_fuzz_util.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  metaps::Env* env = metaps::Env::Default();
  const std::string root = metaps::fuzz::ScratchDir() + "/ckpt";
  const std::string dir = metaps::CheckpointStepDir(root, metaps::fuzz::kCheckpointStep);
  if (!env->CreateDir(dir).ok()) std::abort();
  const std::string_view shard(reinterpret_cast<const char*>(data), size);
  const std::string name = "shard-0-of-1.bin";
  metaps::fuzz::WriteScratch(
      "ckpt/step-" + std::to_string(metaps::fuzz::kCheckpointStep) + "/" + name, shard);

  auto tables = metaps::fuzz::CheckpointTables();
  metaps::Manifest manifest;
  manifest.job_name = "fuzz";
  manifest.step = metaps::fuzz::kCheckpointStep;
  manifest.num_servers = 1;
  std::vector<metaps::EmbeddingTable*> targets;
  for (auto& t : tables) {
    manifest.tables.push_back(metaps::DescribeTable(*t));
    targets.push_back(t.get());
  }
  manifest.files.push_back(
      metaps::ShardFileInfo{0, name, size, metaps::Crc32c(shard.data(), shard.size())});
  (void)metaps::LoadShardsInto(env, root, manifest, 0, 1, targets);

  std::string exported(shard);
  const uint32_t crc = metaps::Crc32c(exported.data(), exported.size());
  exported.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  const std::string export_path = metaps::fuzz::WriteScratch("export.bin", exported);
  (void)metaps::ReadExportedEmbeddings(env, export_path);
  return 0;
}
