// Per-shard checkpoints of embedding tables, reshardable on restore, and the
// values-only export for serving. Layout and manifest: ps/checkpoint_manifest.h.
//
// Shard file (little-endian), CRC32C of the whole file kept in the manifest:
//   "MPSSHRD1" u32 version=1 u32 server_index u32 num_servers u32 num_tables i64 step
//   per table: u32 id, u32 name_len, name, i32 dim, i32 row_floats, i32 optimizer,
//              u64 row_count, row_count x { u64 key, f32 row[row_floats] }
//   "MPSSEND1"
// Export file (little-endian):
//   "MPSEMBD1" u32 version=1 u32 num_tables
//   per table: u32 id, u32 name_len, name, i32 dim, u64 count,
//              count x { u64 key, f32 value[dim] }
//   u32 crc32c of every preceding byte
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "ps/checkpoint_manifest.h"
#include "ps/embedding_table.h"

namespace metaps {

// The manifest entry describing `table`.
ManifestTable DescribeTable(const EmbeddingTable& table);

// Writes this server's rows of `tables` to <root>/step-<step>/shard-<i>-of-<S>.bin
// via a temp file, fsync, rename and directory sync, and describes the file in
// *out for the manifest. REQUIRES: no Push/Pull on `tables` meanwhile (the rows
// must not change during the save; a change is reported as Internal).
Status SaveShard(Env* env, const std::string& root, int server_index, int num_servers,
                 const std::vector<const EmbeddingTable*>& tables, int64_t step,
                 ShardFileInfo* out);

// Verifies the size and CRC32C of every shard file of `manifest` (DataLoss naming
// the file, expected and actual values on mismatch) and inserts into `tables` the
// rows that KeyToServer assigns to my_server_index of my_num_servers, so any
// server count can restore any checkpoint. Each table is matched by id and must
// agree with the checkpoint on dim, row_floats and optimizer; checkpoint tables
// with no counterpart in `tables` are skipped.
Status LoadShardsInto(Env* env, const std::string& root, const Manifest& manifest,
                      int my_server_index, int my_num_servers,
                      const std::vector<EmbeddingTable*>& tables);

// Writes the values (no optimizer state) of `tables` to `path` atomically.
Status ExportEmbeddings(Env* env, const std::string& path,
                        const std::vector<const EmbeddingTable*>& tables);

struct ExportedTable {
  uint32_t id = 0;
  std::string name;
  int dim = 0;
  std::vector<uint64_t> keys;
  std::vector<float> values;  // keys.size() * dim
};
StatusOr<std::vector<ExportedTable>> ReadExportedEmbeddings(Env* env, const std::string& path);

}  // namespace metaps
