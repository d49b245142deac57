// The manifest of one checkpoint: which tables and which shard files (with size
// and CRC32C) make up step N. It is written after every shard file is durable,
// and the LATEST pointer after it, so a reader never sees a half-written
// checkpoint:
//   <root>/step-<N>/shard-<i>-of-<S>.bin   written by server i (SaveShard)
//   <root>/step-<N>/MANIFEST               written last by the coordinator
//   <root>/LATEST                          "step-<N>", replaced atomically
//
// MANIFEST format, one record per line, space-separated, no quoting:
//   metaps-checkpoint 1
//   job <name>
//   step <N>
//   num_servers <S>
//   table <id> <name> <dim> <row_floats> <sgd|adagrad|adam|ftrl>     (per table)
//   file <server_index> <name> <size> <crc32c as 8 hex digits>       (per server)
//   end <crc32c of every preceding byte, 8 hex digits>
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "kernels/optimizer_rules.h"

namespace metaps {

struct ShardFileInfo {
  int server_index = 0;
  std::string name;  // relative to the step directory
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

struct ManifestTable {
  uint32_t id = 0;
  std::string name;
  int dim = 0;
  int row_floats = 0;
  OptimizerKind optimizer = OptimizerKind::kSgd;
};

struct Manifest {
  std::string job_name;  // no whitespace
  int64_t step = 0;
  int num_servers = 0;
  std::vector<ManifestTable> tables;
  std::vector<ShardFileInfo> files;  // one per server
};

// The largest table dim a manifest may declare (TableSpec's limit).
constexpr int kMaxManifestDim = 1 << 16;

// A name that stays inside the step directory: non-empty, at most 255 bytes, not
// ".", no whitespace, '/', '\\' or "..".
bool IsSafeShardFileName(const std::string& name);

// Checks a manifest as a whole (InvalidArgument naming the problem): job name,
// step >= 0, each shard index in [0, num_servers) exactly once under a safe and
// distinct file name, table ids distinct, dims in [1, kMaxManifestDim] and
// row_floats equal to what the dim and optimizer store. ParseManifest applies
// the same checks (DataLoss naming the file and line).
Status ValidateManifest(const Manifest& manifest);

// "<root>/step-<step>".
std::string CheckpointStepDir(const std::string& root, int64_t step);

std::string SerializeManifest(const Manifest& manifest);
// `source` names the file in error messages. Every malformed or inconsistent
// manifest is DataLoss naming `source` and, where there is one, the line.
StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& source);

// Writes <root>/step-<N>/MANIFEST, then points <root>/LATEST at step N, each by
// temp file, fsync, rename and directory sync, then syncs the root's parent.
// REQUIRES: every shard file was saved (SaveShard returned).
//
// What a save guarantees across a crash (power loss included):
//  - each file (shard, MANIFEST, LATEST) is written to "<name>.tmp", fsynced,
//    closed, renamed, and its directory fsynced: a name never refers to a
//    partial file;
//  - once WriteManifest returns OK, step N survives a crash and LATEST points
//    at it: the step directory's entry and LATEST are made durable by the
//    root's sync, the root's own entry by its parent's sync (directories above
//    the root's parent must already be durable: they existed before the job);
//  - a crash at any earlier point leaves LATEST at the previous checkpoint
//    (or absent), whose files a save never touches; the debris of the failed
//    save (temp files, a partial step directory) is overwritten by the next
//    save of that step.
// tests/ps/checkpoint_test.cc checks this against a model that drops every
// byte and directory entry not synced (tests/ps/fault_injection_env.h).
Status WriteManifest(Env* env, const std::string& root, const Manifest& manifest);

// The manifest LATEST points at; NotFound when there is no checkpoint yet.
StatusOr<Manifest> ReadManifest(Env* env, const std::string& root);
StatusOr<Manifest> ReadManifestAtStep(Env* env, const std::string& root, int64_t step);

}  // namespace metaps
