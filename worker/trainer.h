// The worker's training loop.
//
// One step: read a batch of this worker's shard -> distinct keys per batch ->
// Pull both tables -> Model::ForwardBackward -> Push the row gradients ->
// all-reduce [dense gradient x examples, examples, loss] over the workers ->
// the same dense optimizer step on every worker. The all-reduce is also the
// step barrier: pushes are acknowledged (applied) before a worker enters it,
// so under BSP no worker pulls step t+1 before every push of step t is in.
// With data.shuffle_buffer above 1 the training shard goes through a
// ShufflingReader seeded by (training.seed, epoch, worker) on the read-ahead
// thread; evaluation reads in file order.
// A worker whose shard ran out keeps stepping with zero examples until the
// all-reduce says every worker is done, so the collectives stay matched.
// Under BSP with several workers the servers apply a step's pushes in worker
// order once all are in (ParameterServer::EnableBspAggregation), so reruns
// with the same seed give the same numbers.
//
// Row prefetch: under SSP and ASP, and under BSP with one worker, the next
// batch is read and the rows of its keys that the current batch does not use
// are pulled while the current batch computes; the keys both batches share are
// pulled after the current push is acknowledged, so a worker always reads its
// own writes. Under BSP with one worker this is exact (no other worker pushes
// between the two reads); under BSP with several workers every pull waits for
// the step barrier, as BSP requires.
//
// Evaluation scores the valid/test shards with Forward and sends mergeable
// metric partials to the scheduler (gather "eval/<split>/<step>"). Its pulls
// are read-only: evaluating creates no rows and counts no admission sightings.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/early_stop.h"
#include "common/env.h"
#include "common/key_dedup.h"
#include "common/proto/control.pb.h"
#include "common/proto/job.pb.h"
#include "common/scheduler_client.h"
#include "kernels/optimizer_rules.h"
#include "worker/allreduce.h"
#include "worker/data/reader.h"
#include "worker/embedding_batch.h"
#include "worker/model.h"
#include "worker/ps_client.h"
#include "worker/step.h"

namespace metaps {

class RankingEvaluator;  // worker/ranking_eval.h

using ReaderFactory = std::function<StatusOr<std::unique_ptr<Reader>>(const ReaderOptions&)>;

struct TrainerData {
  ReaderFactory train, valid, test;  // valid and test may be empty
};

struct TrainerDeps {
  PsClient* ps = nullptr;
  SchedulerClient* scheduler = nullptr;
  AllReduce* allreduce = nullptr;
  Model* model = nullptr;
};

OptimizerParams ToOptimizerParams(const config::OptimizerConfig& c);
ModelOptions ToModelOptions(const config::ModelConfig& c);

// worker-state-<step>.bin: what a worker needs to go on from a checkpoint
// (written by worker 0, atomically, CRC32C-checked on read).
struct WorkerState {
  int64_t step = 0, epoch = 1, steps_in_epoch = 0;
  double samples = 0, loss_sum = 0;
  std::vector<float> dense_row;  // the dense weights, then their optimizer state
};

// Checkpoints: at every training.checkpoint_every steps and at the end (when
// `checkpoint_dir` is set) workers and servers meet in gather "ps/sync/<k>"
// with a typed ServerSync (CHECKPOINT, END, END_CHECKPOINT, ...; ps/server_control.h)
// for the step; worker 0
// writes worker-state-<step>.bin (dense weights with optimizer state, epoch,
// position, totals) before the servers write their shards and the manifest
// ("ps/state/<k>", then "ps/saved/<k>"). With `resume`, the servers restore the
// latest manifest and report its step (a typed Restored, "ps/resume"); every worker loads that
// step's state and skips the batches already trained on. A warm start
// (`init_dir`) loads the weights the same way and trains its data from the start.
struct TrainerCheckpoints {
  std::string dir;  // empty: no checkpoints
  bool resume = false;
  // After resuming: only evaluate (`metaps eval`), or only write the dense
  // weights to export_dir/dense.bin for serving (`metaps export`).
  // kTrial: a model-selection trial on a shared cluster (launch/study_cluster.h):
  // it starts from `trial_start` (the state its last rung ended with; none:
  // from scratch), and ends without meeting the servers, which go on serving
  // other trials. No checkpoints, no early stopping.
  enum class Mode { kTrain, kEvaluate, kExport, kTrial } mode = Mode::kTrain;
  std::string export_dir;
  std::optional<WorkerState> trial_start;
  // Warm start (`train --init-from`): with `resume`, the state is read from
  // this checkpoint directory instead of `dir`, and only the weights (with
  // their optimizer state) and the step count carry over: training starts at
  // the first epoch of this job's data, and its checkpoints go to `dir`.
  std::string init_dir;
};

std::string WorkerStatePath(const std::string& dir, int64_t step);
Status WriteWorkerState(Env* env, const std::string& path, const WorkerState& state);
// DataLoss unless the file is a state of `dense_floats` floats at `step`.
StatusOr<WorkerState> ReadWorkerState(Env* env, const std::string& path, size_t dense_floats,
                                      int64_t step);

// A worker's side of "ps/sync/<*round>" (ps/server_control.h): sends the typed
// ServerSync for `step` and, for a checkpoint, runs `write_state` (worker 0's
// state file; empty on the others) before every member meets in
// "ps/state/<k>" and "ps/saved/<k>". Increments *round.
Status SyncServerStep(SchedulerClient* scheduler, int* round, control::ServerSync::Action action,
                      int64_t step, const std::function<Status()>& write_state);

// dense.bin: "MPDW1", n (uint64), n floats (the weights, no optimizer state),
// written atomically: the serving file of `export` and `adapt`.
Status WriteDenseFile(Env* env, const std::string& path, const float* weights, size_t n);
// early-stop-<step>.txt: the EarlyStopState as of that checkpoint.
std::string EarlyStopStatePath(const std::string& dir, int64_t step);

// Early stopping (training.early_stop; train mode only): validation runs every
// training.eval_every steps, or at the end of every epoch when eval_every is
// 0, and the workers ask the scheduler ("early/<step>") whether it improved,
// so every worker takes the same decision. An improvement is checkpointed
// (unless the job stops right there: the final save takes it); after
// `patience` evaluations without one training stops. At the end (early stop,
// epochs or max_steps done: the last step is evaluated too unless it was; a
// stop request: not) the latest step is checkpointed for --resume, the servers
// and workers restore the best step ("ps/sync/<k>" "restore <step>", then
// "ps/restored/<k>") and valid and test are evaluated on it. Worker 0 keeps
// only the best and the latest checkpoint.
class Trainer {
 public:
  Trainer(const config::JobConfig& job, TrainerData data, TrainerDeps deps, int worker_index,
          int num_workers, TrainerCheckpoints checkpoints = {});
  ~Trainer();

  // Trains for the configured epochs/steps, evaluates, reports. Returns the
  // first error (a reader's bad-data error names the file and line).
  Status Run();

  // The dense weights (num_dense floats), identical on every worker.
  const float* dense() const { return row_.data(); }
  // Where training stands: step, position in the data, totals and the dense
  // weights with their optimizer state (what a checkpoint's worker state holds).
  WorkerState State() const;

 private:
  struct Timers {
    double read = 0, pull = 0, compute = 0, push = 0, allreduce = 0;
  };
  // The next batch, read one step early, and its rows pulled ahead.
  struct Prefetch {
    bool ready = false;  // batch (maybe empty: the shard ran out) is the next one
    Batch batch;
    EmbeddingBatch emb;
    std::vector<uint32_t> ahead;             // positions among emb's keys pulled ahead
    std::vector<uint32_t> shared;            // positions of keys the current batch also uses
    std::vector<uint32_t> index;             // scratch: KeyDedup's output
    std::vector<uint64_t> keys;              // scratch: the keys of `ahead` or `shared`
    std::vector<AlignedVector<float>> rows;  // per table: rows of `ahead`, then of `shared`
    std::vector<PsFuture> pulls;             // in flight: rows of `ahead`
    KeyDedup dedup;
  };

  // One step; `done` becomes true when no worker had data.
  Status Step(Reader* reader, bool* done);
  // Pulls every row of emb_ (no prefetch).
  Status PullAll();
  // Pulls next_.keys from every table of `tables` into next_.rows.
  void PullKeys(const std::vector<TableRows>& tables, std::vector<PsFuture>* pulls);
  // Reads the next batch into next_ and pulls its rows not in emb_.
  Status StartPrefetch(Reader* reader);
  // emb_ came from next_: waits for the rows pulled ahead, pulls the shared ones.
  Status FinishPrefetch();
  // Forgets the prefetched batch (end of an epoch, stop), waiting for its pulls.
  Status DropPrefetch();
  Status Evaluate(const std::string& split, const ReaderFactory& open);
  // Evaluate's full-protocol ranking (training.ranking_protocol all_unrated or
  // sampled): the serialized UserRankingAccumulator of the users this worker owns.
  StatusOr<std::vector<uint8_t>> RankOwnedUsers(const std::string& split,
                                                const ReaderFactory& open);
  // Meets the servers in "ps/sync/<k>" with a typed ServerSync for this step.
  Status SyncServers(control::ServerSync::Action action);
  Status WriteState() const;
  Status LoadState(int64_t step);
  // SyncServers(CHECKPOINT) unless this step is saved already; with early
  // stopping, worker 0 then prunes all but the best and the latest.
  Status SaveCheckpoint();
  Status PruneCheckpoints() const;
  // Early stopping: the scheduler's decision on the validation just reported.
  Status DecideEarlyStop(bool* improved);
  // Resumed: the state saved with the checkpoint, to the scheduler too.
  Status ResumeEarlyStop();
  // After training: last evaluation, latest checkpoint, back to the best step.
  Status FinishEarlyStop();
  ReaderOptions ReaderOptionsFor() const;

  const config::JobConfig& job_;
  TrainerData data_;
  TrainerDeps deps_;
  const int worker_index_, num_workers_;
  const bool logistic_;
  // BSP with several workers: the servers aggregate each step's pushes, so
  // every worker pushes every table to every server each step.
  const bool aggregated_pushes_;
  OptimizerParams dense_optimizer_;
  // The dense weights followed by their optimizer state: one "row" for
  // ApplyOptimizer, the same update rules the servers use.
  std::vector<float> row_;
  std::vector<double> reduce_;  // [gradient * n, n, loss]
  std::vector<float> dense_grad_, predictions_;
  float row_decay_[2] = {0, 0};     // per-example L2 of table 0 (embedding) and 1 (linear)
  std::vector<uint32_t> row_uses_;  // scratch: uses of each of emb_'s rows by the batch
  Batch batch_;
  EmbeddingBatch emb_;
  KeyPlan plan_;                      // emb_'s keys (the same for every table), sliced by server
  std::vector<TableSignal> signals_;  // scratch: the tables' gradients to push
  EmbeddingBatchBuilder builder_;
  const bool prefetch_rows_;
  Prefetch next_;
  TrainerCheckpoints checkpoints_;
  int sync_round_ = 0;
  const bool early_stop_;  // training.early_stop, when training
  EarlyStopState early_;   // as the scheduler last answered
  int64_t last_saved_step_ = -1;
  int epoch_ = 1;               // the epoch being trained
  int64_t steps_in_epoch_ = 0;  // steps of this epoch already trained
  int64_t step_ = 0;
  bool stop_requested_ = false;  // some worker saw a stop request this step
  double samples_ = 0, loss_sum_ = 0;
  uint64_t rows_pulled_ = 0, rows_pulled_ahead_ = 0;  // distinct keys per step, summed
  Timers timers_;
  // Full-protocol ranking: the training catalog and held-out items, read once.
  std::unique_ptr<RankingEvaluator> ranking_;
};

}  // namespace metaps
