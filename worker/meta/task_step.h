// The pieces of a meta-learning step on one task, composed by the meta
// trainer (worker/meta/meta_trainer.h) and the tests; none of them talks to
// the parameter servers.
//
//   TaskBatch::Build      the task's support and query examples with one
//                         EmbeddingBatch: the distinct keys of both, pulled
//                         once by the caller into emb.tables[t].rows
//   Adapt                 the inner loop: plain SGD steps on a private copy
//                         of the rows and dense weights (the fast weights)
//   OuterSignal           what the task contributes to the outer update, in
//                         gradient form (applied by the tables' optimizers on
//                         the servers and the dense optimizer after the
//                         all-reduce):
//     fomaml   the query loss's gradient at the adapted weights
//     reptile  (initial - adapted) / (inner_lr * inner_steps) after adapting
//              on support + query: the mean gradient along the inner path
//     none     the gradient of the loss on support + query at the initial
//              weights (conventional training, the baseline)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/aligned_vector.h"
#include "common/status.h"
#include "worker/batch.h"
#include "worker/embedding_batch.h"
#include "worker/model.h"

namespace metaps {

enum class MetaAlgorithm { kFomaml, kReptile, kNone };
// What the inner loop adapts (meta.adapt).
enum class AdaptScope { kDense, kDenseAndTaskRow, kAll };

StatusOr<MetaAlgorithm> ParseMetaAlgorithm(const std::string& name);
StatusOr<AdaptScope> ParseAdaptScope(const std::string& name);

// Which examples a model pass reads.
enum class TaskPart { kSupport, kQuery, kAll };

struct TaskBatch {
  Batch support, query, all;  // all = support then query
  EmbeddingBatch emb;         // row_index for `all`; rows pulled by the caller
  // Per slot: the row indices of support's and query's CSR key positions.
  std::vector<std::vector<uint32_t>> support_index, query_index, all_index;
  // Rows of emb the task's own key uses (the rows meta.adapt
  // "dense_and_task_row" adapts), ascending.
  std::vector<uint32_t> task_rows;

  // Fills the batches from `data` (positions `support` then `query`). With
  // `task_slot` >= 0, that slot's keys are the task's own (its rows are
  // task_rows); with `shared_key` too, they are replaced by `shared_key`.
  void Build(const Batch& data, const BatchSchema& schema, const std::vector<uint32_t>& support,
             const std::vector<uint32_t>& query, int task_slot, bool replace_with_shared_key,
             uint64_t shared_key, int embedding_dim, const Model* model,
             EmbeddingBatchBuilder* builder);
  const Batch& examples(TaskPart part) const;
  // Points emb.row_index at `part`'s indices (swapping, no copy).
  void Use(TaskPart part);

 private:
  TaskPart in_use_ = TaskPart::kAll;
};

struct InnerLoop {
  int steps = 0;
  float lr = 0;
  AdaptScope scope = AdaptScope::kDenseAndTaskRow;
};

// Runs loop.steps SGD steps of the mean loss on `part` of the task, on
// task->emb's rows and on `dense` (the fast weights). Returns the loss of
// the last step's forward pass (0 when no step). Leaves emb's grads dirty.
StatusOr<double> Adapt(Model* model, TaskBatch* task, TaskPart part, const InnerLoop& loop,
                       std::vector<float>* dense);

// The task's outer signal into task->emb.tables[t].grads (overwritten) and
// `dense_signal` (num_dense floats, overwritten). `initial_rows` and
// `initial_dense` are the weights before adaptation (task->emb's rows and
// `dense` are restored to them on return). Returns the task's query loss at
// the adapted weights (fomaml, reptile) or its loss on all of it (none),
// summed over the examples. `decay` is the tables' per-example L2 (added to
// the gradient like the trainer's, not for reptile).
StatusOr<double> OuterSignal(Model* model, TaskBatch* task, MetaAlgorithm algorithm,
                             const InnerLoop& loop, std::vector<float>* dense, const float decay[2],
                             std::vector<float>* dense_signal);

// The cold-start protocol on one task whose rows are in task->emb: the query's
// metrics (common/task_metrics.h) at `dense` and those rows, then again after
// Adapt on the support set. On return task->emb holds the adapted rows and
// *adapted_dense (when not null) the adapted dense weights.
// With `both_new` (indices into the query set, MetaTask::query_both_new) not
// empty, the same metrics of those query examples alone too.
struct TaskScores {
  std::vector<std::pair<std::string, double>> before, adapted;
  std::vector<std::pair<std::string, double>> both_new_before, both_new_adapted;
};
StatusOr<TaskScores> ScoreTask(Model* model, TaskBatch* task, const InnerLoop& loop,
                               const std::vector<float>& dense, bool logistic,
                               std::vector<float>* adapted_dense = nullptr,
                               const std::vector<uint32_t>& both_new = {});

}  // namespace metaps
