#include "worker/meta/task_step.h"

#include <algorithm>

#include "common/task_metrics.h"

namespace metaps {
namespace {

void ZeroGrads(EmbeddingBatch* emb) {
  for (TableRows& t : emb->tables) std::fill(t.grads.begin(), t.grads.end(), 0.0f);
}

}  // namespace

StatusOr<MetaAlgorithm> ParseMetaAlgorithm(const std::string& name) {
  if (name == "fomaml") return MetaAlgorithm::kFomaml;
  if (name == "reptile") return MetaAlgorithm::kReptile;
  if (name == "none") return MetaAlgorithm::kNone;
  return InvalidArgument("meta.algorithm '" + name + "' is not one of fomaml, reptile, none");
}

StatusOr<AdaptScope> ParseAdaptScope(const std::string& name) {
  if (name == "dense") return AdaptScope::kDense;
  if (name == "dense_and_task_row") return AdaptScope::kDenseAndTaskRow;
  if (name == "all") return AdaptScope::kAll;
  return InvalidArgument("meta.adapt '" + name + "' is not one of dense, dense_and_task_row, all");
}

void TaskBatch::Build(const Batch& data, const BatchSchema& schema,
                      const std::vector<uint32_t>& support_positions,
                      const std::vector<uint32_t>& query_positions, int task_slot,
                      bool replace_with_shared_key, uint64_t shared_key, int embedding_dim,
                      const Model* model, EmbeddingBatchBuilder* builder) {
  support.Reset(schema);
  query.Reset(schema);
  for (uint32_t p : support_positions) support.AppendRange(data, p, p + 1);
  for (uint32_t p : query_positions) query.AppendRange(data, p, p + 1);
  all.Reset(schema);
  all.AppendRange(support, 0, support.size());
  all.AppendRange(query, 0, query.size());
  if (task_slot >= 0 && replace_with_shared_key) {
    for (Batch* b : {&support, &query, &all}) {
      for (uint64_t& k : b->slots[static_cast<size_t>(task_slot)].keys) k = shared_key;
    }
  }
  // emb.row_index holds the indices of the part in use, whose own vector is empty.
  support_index.clear();
  query_index.clear();
  all_index.clear();
  builder->Build(all, embedding_dim, model->NeedsLinearTable(), &emb, model);
  in_use_ = TaskPart::kAll;
  const size_t ns = support.size();
  support_index.resize(emb.row_index.size());
  query_index.resize(emb.row_index.size());
  for (size_t s = 0; s < emb.row_index.size(); ++s) {
    const std::vector<uint32_t>& rows = emb.row_index[s];
    if (rows.empty()) continue;  // a slot the model does not read
    const size_t split = all.slots[s].offsets[ns];
    support_index[s].assign(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(split));
    query_index[s].assign(rows.begin() + static_cast<ptrdiff_t>(split), rows.end());
  }
  task_rows.clear();
  if (task_slot >= 0 && static_cast<size_t>(task_slot) < emb.row_index.size()) {
    task_rows = emb.row_index[static_cast<size_t>(task_slot)];
    std::sort(task_rows.begin(), task_rows.end());
    task_rows.erase(std::unique(task_rows.begin(), task_rows.end()), task_rows.end());
  }
}

const Batch& TaskBatch::examples(TaskPart part) const {
  return part == TaskPart::kSupport ? support : part == TaskPart::kQuery ? query : all;
}

void TaskBatch::Use(TaskPart part) {
  if (part == in_use_) return;
  auto slot = [this](TaskPart p) -> std::vector<std::vector<uint32_t>>& {
    return p == TaskPart::kSupport ? support_index
           : p == TaskPart::kQuery ? query_index
                                   : all_index;
  };
  std::swap(emb.row_index, slot(in_use_));
  std::swap(emb.row_index, slot(part));
  in_use_ = part;
}

StatusOr<double> Adapt(Model* model, TaskBatch* task, TaskPart part, const InnerLoop& loop,
                       std::vector<float>* dense) {
  task->Use(part);
  const Batch& b = task->examples(part);
  if (b.size() == 0 || loop.steps == 0) return 0.0;
  std::vector<float> grad(dense->size()), predictions(b.size());
  double loss = 0;
  for (int step = 0; step < loop.steps; ++step) {
    ZeroGrads(&task->emb);
    std::fill(grad.begin(), grad.end(), 0.0f);
    ASSIGN_OR_RETURN(
        loss, model->ForwardBackward(b, task->emb, dense->data(), grad.data(), predictions.data()));
    for (TableRows& t : task->emb.tables) {
      const size_t dim = static_cast<size_t>(t.dim);
      if (loop.scope == AdaptScope::kAll) {
        for (size_t i = 0; i < t.rows.size(); ++i) t.rows[i] -= loop.lr * t.grads[i];
      } else if (loop.scope == AdaptScope::kDenseAndTaskRow) {
        for (uint32_t r : task->task_rows) {
          for (size_t j = r * dim; j < (r + 1) * dim; ++j) t.rows[j] -= loop.lr * t.grads[j];
        }
      }
    }
    for (size_t i = 0; i < dense->size(); ++i) (*dense)[i] -= loop.lr * grad[i];
  }
  return loss;
}

StatusOr<double> OuterSignal(Model* model, TaskBatch* task, MetaAlgorithm algorithm,
                             const InnerLoop& loop, std::vector<float>* dense, const float decay[2],
                             std::vector<float>* dense_signal) {
  std::vector<AlignedVector<float>> initial_rows;
  for (const TableRows& t : task->emb.tables) initial_rows.push_back(t.rows);
  const std::vector<float> initial_dense = *dense;
  dense_signal->assign(dense->size(), 0.0f);
  std::vector<float> predictions;
  std::vector<uint32_t> uses;
  double loss = 0;
  auto gradient_on = [&](TaskPart part) -> Status {
    task->Use(part);
    const Batch& b = task->examples(part);
    ZeroGrads(&task->emb);
    predictions.resize(b.size());
    ASSIGN_OR_RETURN(loss, model->ForwardBackward(b, task->emb, dense->data(), dense_signal->data(),
                                                  predictions.data()));
    return Status::Ok();
  };
  Status status;
  switch (algorithm) {
    case MetaAlgorithm::kNone:
      status = gradient_on(TaskPart::kAll);
      if (status.ok()) AddPerExampleL2(task->all.size(), decay, &uses, &task->emb);
      break;
    case MetaAlgorithm::kFomaml:
      status = Adapt(model, task, TaskPart::kSupport, loop, dense).status();
      if (status.ok()) status = gradient_on(TaskPart::kQuery);
      if (status.ok()) AddPerExampleL2(task->query.size(), decay, &uses, &task->emb);
      break;
    case MetaAlgorithm::kReptile: {
      status = Adapt(model, task, TaskPart::kAll, loop, dense).status();
      if (status.ok()) status = gradient_on(TaskPart::kQuery);  // the loss it reports
      if (!status.ok()) break;
      const float scale = loop.steps > 0 && loop.lr > 0 ? 1.0f / (loop.lr * loop.steps) : 0.0f;
      for (size_t t = 0; t < task->emb.tables.size(); ++t) {
        TableRows& table = task->emb.tables[t];
        for (size_t i = 0; i < table.rows.size(); ++i) {
          table.grads[i] = scale * (initial_rows[t][i] - table.rows[i]);
        }
      }
      for (size_t i = 0; i < dense->size(); ++i) {
        (*dense_signal)[i] = scale * (initial_dense[i] - (*dense)[i]);
      }
      break;
    }
  }
  for (size_t t = 0; t < task->emb.tables.size(); ++t) {
    task->emb.tables[t].rows = std::move(initial_rows[t]);
  }
  *dense = initial_dense;
  RETURN_IF_ERROR(status);
  return loss;
}

StatusOr<TaskScores> ScoreTask(Model* model, TaskBatch* task, const InnerLoop& loop,
                               const std::vector<float>& dense, bool logistic,
                               std::vector<float>* adapted_dense,
                               const std::vector<uint32_t>& both_new) {
  TaskScores scores;
  const size_t q = task->query.size();
  std::vector<float> predictions(q), weights = dense;
  std::vector<float> subset_predictions, subset_labels;
  auto both_new_metrics = [&]() {
    subset_predictions.clear();
    subset_labels.clear();
    for (uint32_t i : both_new) {
      if (i >= q) continue;
      subset_predictions.push_back(predictions[i]);
      subset_labels.push_back(task->query.labels[i]);
    }
    return TaskQueryMetrics(subset_predictions.data(), subset_labels.data(),
                            subset_predictions.size(), logistic);
  };
  task->Use(TaskPart::kQuery);
  RETURN_IF_ERROR(model->Forward(task->query, task->emb, weights.data(), predictions.data()));
  scores.before = TaskQueryMetrics(predictions.data(), task->query.labels.data(), q, logistic);
  if (!both_new.empty()) scores.both_new_before = both_new_metrics();
  RETURN_IF_ERROR(Adapt(model, task, TaskPart::kSupport, loop, &weights).status());
  task->Use(TaskPart::kQuery);
  RETURN_IF_ERROR(model->Forward(task->query, task->emb, weights.data(), predictions.data()));
  scores.adapted = TaskQueryMetrics(predictions.data(), task->query.labels.data(), q, logistic);
  if (!both_new.empty()) scores.both_new_adapted = both_new_metrics();
  if (adapted_dense != nullptr) *adapted_dense = std::move(weights);
  return scores;
}

}  // namespace metaps
