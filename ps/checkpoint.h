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
//              count x { u64 key, f32 value[dim] }   (keys strictly increasing)
//   u32 crc32c of every preceding byte
// Both readers check every count against the bytes left before allocating for
// it, so a header claiming 2^40 rows is DataLoss, not an allocation.
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

// Restores this server's rows of a checkpoint into `tables`, so any server
// count can restore any checkpoint:
//  - with my_num_servers == manifest.num_servers, shard my_server_index holds
//    exactly the keys this server owns, and that file alone is read;
//  - with another count, every shard is read and the rows that KeyToServer
//    assigns to my_server_index of my_num_servers are kept.
// The manifest is validated as a whole first (ValidateManifest). Each file read
// is checked before its rows are used: size and CRC32C as the manifest says,
// header and tables as the manifest says (each once), row counts that fit in
// the bytes left (checked before reading rows), and every key owned by its
// shard under the saved count; any mismatch is DataLoss naming the file, what
// was expected and what was found. Each table is matched by id and must agree
// with the checkpoint on dim, row_floats and optimizer; checkpoint tables with
// no counterpart in `tables` are skipped. On error `tables` may hold some rows:
// restore into fresh tables. `files_read`, when not null, gets how many shard
// files were read.
Status LoadShardsInto(Env* env, const std::string& root, const Manifest& manifest,
                      int my_server_index, int my_num_servers,
                      const std::vector<EmbeddingTable*>& tables, int* files_read = nullptr);

// Writes the values (no optimizer state) of `tables` to `path` atomically, rows
// in increasing key order: equal tables give equal files, byte for byte,
// whatever order their rows were created in. REQUIRES: no Push/Pull on
// `tables` meanwhile (a change is reported as Internal).
Status ExportEmbeddings(Env* env, const std::string& path,
                        const std::vector<const EmbeddingTable*>& tables);

// A table to export (`id`) and what the export records it as: a model
// selection trial's table at its namespace's id exports as the plain job's.
struct ExportAs {
  uint32_t id = 0;
  uint32_t as_id = 0;
  std::string as_name;
};
// ExportEmbeddings with tables[i] recorded as as[i].as_id and as[i].as_name.
// InvalidArgument unless `as` has one entry per table, the as_ids are
// distinct and each as_name is non-empty.
Status ExportEmbeddingsAs(Env* env, const std::string& path,
                          const std::vector<const EmbeddingTable*>& tables,
                          const std::vector<ExportAs>& as);

struct ExportedTable {
  uint32_t id = 0;
  std::string name;
  int dim = 0;
  std::vector<uint64_t> keys;
  std::vector<float> values;  // keys.size() * dim
};
StatusOr<std::vector<ExportedTable>> ReadExportedEmbeddings(Env* env, const std::string& path);
// Writes `tables` in the export format (`metaps adapt`'s adapted rows).
// InvalidArgument unless each table's keys are strictly increasing.
Status WriteExportedEmbeddings(Env* env, const std::string& path,
                               const std::vector<ExportedTable>& tables);

}  // namespace metaps
