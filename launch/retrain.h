// `metaps retrain`: one run of a scheduled retraining pipeline. The pieces a
// test can check without a cluster live here: the pipeline file, the state
// file, the gate, the partition scan and the atomic publish.
//
// The state directory of a pipeline:
//   LOCK                  flock(2)ed by the run in progress (holds its pid)
//   state.json            what is consumed, the candidate in progress, counters;
//                         replaced atomically (WriteFileAtomically)
//   history.jsonl         one line per run, appended and fsynced
//   runs/run-<N>/<partition>/   each train job's output_dir (checkpoints,
//                         metrics.jsonl) with its stdout.txt and log.txt
//   versions/v<N>/        a published model: model/ (the export: server-<i>.emb,
//                         dense.bin), checkpoints/ (what the next run warm-starts
//                         from), version.json
//   CURRENT               a symlink to versions/v<N>, replaced by rename(2)
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/proto/pipeline.pb.h"
#include "common/status.h"
#include "launch/cluster_job.h"

namespace metaps {

// Exit codes of `metaps retrain` (documented in the README).
enum RetrainExit : int {
  kRetrainPublished = 0,  // published, or nothing new to train on
  kRetrainFailed = 1,     // a job failed or the state could not be written
  kRetrainUsage = 2,      // bad flags or pipeline file
  kRetrainRefused = 3,    // the gate kept the published model
  kRetrainLocked = 4,     // another run holds the lock
};

// The pipeline file with defaults filled in and paths made absolute (relative
// to the file's directory; paths given with --set are relative to the
// current directory). Errors name file:line:column or the --set.
StatusOr<config::PipelineConfig> LoadPipeline(const std::string& path,
                                              const std::vector<std::string>& overrides);

struct PipelineState {
  struct Consumed {
    std::string partition;
    std::string decision;  // "published" or "refused"
    int64_t run = 0;
    int64_t version = 0;  // the version that holds it (published), else 0
  };
  // A candidate being trained: the partitions it has consumed (each only once
  // its checkpoint was durable) and the checkpoint to go on from.
  struct Pending {
    int64_t run = 0;
    std::vector<std::string> partitions;
    std::string checkpoint;  // an absolute checkpoints directory
    int64_t train_samples = 0;
  };
  std::vector<Consumed> consumed;
  std::optional<Pending> pending;
  int64_t next_run = 1, next_version = 1;

  bool IsConsumed(const std::string& partition) const;
  nlohmann::json ToJson() const;
  static StatusOr<PipelineState> FromJson(const std::string& text, const std::string& path);
};

// The state file (a fresh state when it does not exist); DataLoss naming the
// path when it cannot be read back.
StatusOr<PipelineState> ReadPipelineState(Env* env, const std::string& path);
Status WritePipelineState(Env* env, const std::string& path, const PipelineState& state);

// The subdirectories of `root` named prefix + key, in name order.
StatusOr<std::vector<std::string>> ListPartitions(Env* env, const std::string& root,
                                                  const std::string& prefix);

struct GateResult {
  bool pass = false;
  std::string reason;               // the first failed check, or a summary of the passed ones
  std::vector<std::string> checks;  // every check with its figures
};
// The gate on the eval split objects of the done lines ({"count":..,"auc":..}).
// `published` is null when nothing is published yet (only absolute checks).
GateResult EvaluateGate(const config::Gate& gate, const nlohmann::json& candidate,
                        const nlohmann::json* published, int64_t train_samples);

// Hard-links (or copies, across file systems) the tree `from` to `to`.
Status LinkTree(const std::string& from, const std::string& to);
// Removes `path` and everything under it; OK when it does not exist.
Status RemoveTree(const std::string& path);

// "versions/v000012" for 12.
std::string VersionName(int64_t version);

// Runs the pipeline once; returns the exit code (RetrainExit) and prints one
// JSON line {"event":"retrain",...} (the history line) on stdout.
int RunRetrain(const config::PipelineConfig& pipeline, const std::string& self_binary);

}  // namespace metaps
