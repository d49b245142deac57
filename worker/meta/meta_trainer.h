// `metaps meta-train` on a worker: meta-learning across tasks (README
// "Meta-learning"), built from the pieces of worker/meta/task_step.h on the
// same servers, all-reduce and scheduler as plain training.
//
// Start: every worker reads every split of the job's data into memory and
// builds the same TaskIndex (worker/meta/task_index.h); gather "meta/index"
// sends it (a typed MetaIndex) and the scheduler checks that all agree.
// Outer step k (BSP across the meta-batch):
//   gather "meta/step/<k>"   the scheduler's MetaBatch: this step's tasks per
//                            worker (sampled by (seed, k), balanced by size)
//   pull                     the rows of all its tasks' keys, once
//   per task                 the outer signal on a private copy of its rows
//                            (OuterSignal), summed over the worker's tasks by key
//   push                     the summed sparse signal / meta-batch size, at
//                            clock k + 1 (every worker, every server: the
//                            servers aggregate a BSP step)
//   all-reduce               [dense signal sum, tasks, loss sum, examples scored,
//                            stop votes, examples processed]
//   dense step               the dense optimizer on the mean dense signal
// Every training.log_every steps "train/progress/<k>" (the mean query loss of
// the last steps' tasks); every meta.eval_every steps and at the end
// "meta/eval/valid/<k>", and at the end "meta/eval/test/<k>": each worker
// adapts its share of the split's tasks (read-only pulls: nothing is written
// to the servers) and sends per-task metric sums before and after the inner
// loop. Then "train/done" and the servers' END sync (END_CHECKPOINT with an
// output_dir). Checkpoints: every training.checkpoint_every outer steps and at
// the end, as for training (the servers' shards, worker-state-<step>.bin with
// the dense weights and their optimizer state; steps_in_epoch holds the
// examples scored); --resume restores them and goes on with the same
// meta-batches (they depend on (seed, step) only), so a resumed run ends with
// the uninterrupted run's numbers.
#pragma once

#include <memory>
#include <vector>

#include "common/proto/job.pb.h"
#include "worker/meta/task_index.h"
#include "worker/meta/task_step.h"
#include "worker/trainer.h"

namespace metaps {

// The key that replaces a task's own key with meta.shared_task_row: one
// row, the learned initialisation of every new user's (or item's) row.
uint64_t SharedTaskKey(int task_slot);

class MetaTrainer {
 public:
  // `checkpoints`: dir and resume as for training (kTrain mode only).
  MetaTrainer(const config::JobConfig& job, TrainerData data, TrainerDeps deps, int worker_index,
              int num_workers, TrainerCheckpoints checkpoints = {});
  Status Run();

  // After Run: the index and the dense weights (the same on every worker).
  const TaskIndex& index() const { return index_; }
  const std::vector<float>& dense() const { return dense_; }

 private:
  Status LoadData();
  Status OuterStep(const control::MetaBatch& batch);
  // `final`: the evaluation at the end, which with an output_dir also writes
  // OUTPUT/meta_tasks_<split>.worker<i>.jsonl (one line per task: id, sizes,
  // metrics before and after adaptation).
  Status Evaluate(TaskSplit split, bool final);
  // Builds step_tasks_[i] for tasks[i] and pulls the rows of all their keys
  // at once into them: *keys gets the distinct keys and *plan their plan
  // (step_rows_[i] maps task i's rows into *keys).
  Status BuildAndPullAll(const std::vector<const MetaTask*>& tasks, PsClient::PullMode mode,
                         std::vector<uint64_t>* keys, KeyPlan* plan);
  // Meets the servers in "ps/sync/<k>"; on a checkpoint worker 0 writes the
  // worker state (worker-state-<step>.bin, as training's).
  Status SyncServers(control::ServerSync::Action action);
  // worker-state-<step>.bin (steps_in_epoch holds the examples scored).
  Status WriteState() const;

  const config::JobConfig& job_;
  TrainerData data_;
  TrainerDeps deps_;
  const int worker_index_, num_workers_;
  const bool logistic_;
  MetaAlgorithm algorithm_ = MetaAlgorithm::kFomaml;
  InnerLoop loop_;
  int task_slot_ = -1;  // the slot of the task's own key, -1: none
  float row_decay_[2] = {0, 0};
  OptimizerParams dense_optimizer_;
  std::vector<float> dense_, dense_row_;  // dense weights; + optimizer state
  BatchSchema schema_;
  Batch all_;  // every example of every split
  TaskIndex index_;
  // An outer step's tasks and, per task, the position of each of its rows
  // among the step's distinct keys.
  std::vector<TaskBatch> step_tasks_;
  std::vector<std::vector<uint32_t>> step_rows_;
  KeyDedup step_dedup_;  // the step's distinct keys
  EmbeddingBatchBuilder builder_;
  TrainerCheckpoints checkpoints_;
  int sync_round_ = 0;
  int64_t step_ = 0;
  bool stop_requested_ = false;
  // Seconds in each phase (the done line's time_s): read = loading and
  // indexing the data; pull = building the step's tasks and pulling their
  // rows; compute = the inner loops and outer signals; push; allreduce.
  struct {
    double read = 0, pull = 0, compute = 0, push = 0, allreduce = 0;
  } timers_;
  // Examples processed (support + query of every task), and the loss summed
  // over the examples it is scored on (query; all of a task's for "none").
  double samples_ = 0, loss_sum_ = 0, examples_ = 0;
};

}  // namespace metaps
