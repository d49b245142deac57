// Writes the seed corpora of the checkpoint fuzz targets: argv[1] gets a shard
// file and an export body (checkpoint_shard_fuzz), argv[2] a manifest with and
// without its end line (checkpoint_manifest_fuzz).
#include <cstdio>
#include <string>
#include <vector>

#include "common/env.h"
#include "tests/fuzz/checkpoint_fuzz_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void WriteFile(const std::string& path, const std::string& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SHARD_CORPUS_DIR MANIFEST_CORPUS_DIR\n", argv[0]);
    return 2;
  }
  metaps::Env* env = metaps::Env::Default();
  auto tables = metaps::fuzz::CheckpointTables();
  const uint64_t keys[] = {3, 17, 1u << 20};
  std::vector<float> out(3 * 4);
  (void)tables[0]->Pull(keys, 3, out.data());
  (void)tables[1]->Pull(keys, 2, out.data());
  std::vector<const metaps::EmbeddingTable*> view;
  for (auto& t : tables) view.push_back(t.get());
  const std::string root = metaps::fuzz::ScratchDir() + "/seed";
  metaps::ShardFileInfo info;
  if (!metaps::SaveShard(env, root, 0, 1, view, metaps::fuzz::kCheckpointStep, &info).ok())
    return 1;
  std::string shard;
  (void)env->ReadFileToString(
      metaps::JoinPath(metaps::CheckpointStepDir(root, metaps::fuzz::kCheckpointStep), info.name),
      &shard);
  WriteFile(std::string(argv[1]) + "/shard", shard);
  const std::string export_path = root + "/export.bin";
  if (!metaps::ExportEmbeddings(env, export_path, view).ok()) return 1;
  std::string exported;
  (void)env->ReadFileToString(export_path, &exported);
  WriteFile(std::string(argv[1]) + "/export_body", exported.substr(0, exported.size() - 4));

  metaps::Manifest m;
  m.job_name = "movielens_mf";
  m.step = 1200;
  m.num_servers = 2;
  for (auto& t : tables) m.tables.push_back(metaps::DescribeTable(*t));
  m.files.push_back(metaps::ShardFileInfo{0, "shard-0-of-2.bin", info.size, info.crc32c});
  m.files.push_back(metaps::ShardFileInfo{1, "shard-1-of-2.bin", 96, 0xdeadbeef});
  const std::string text = metaps::SerializeManifest(m);
  WriteFile(std::string(argv[2]) + "/manifest", text);
  WriteFile(std::string(argv[2]) + "/manifest_body", text.substr(0, text.rfind("end ")));
  return 0;
}
