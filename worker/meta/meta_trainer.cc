#include "worker/meta/meta_trainer.h"

#include <algorithm>
#include <chrono>

#include "common/control.h"
#include "common/env.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/task_metrics.h"
#include "worker/data/feature_hash.h"
#include "worker/step.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Per-task metric sums, by name.
struct MetricSums {
  std::map<std::string, std::pair<double, int64_t>> sums;
  void Add(const std::vector<std::pair<std::string, double>>& metrics) {
    for (const auto& [name, value] : metrics) {
      auto& s = sums[name];
      s.first += value;
      s.second += 1;
    }
  }
  void To(google::protobuf::RepeatedPtrField<control::MetaEvalPartial::MetricSum>* out) const {
    for (const auto& [name, s] : sums) {
      auto* m = out->Add();
      m->set_name(name);
      m->set_sum(s.first);
      m->set_count(s.second);
    }
  }
};

}  // namespace

uint64_t SharedTaskKey(int task_slot) {
  // No reader makes this token: ids are numbers.
  return HashToken(static_cast<uint32_t>(task_slot), "<metaps:shared-task-row>");
}

MetaTrainer::MetaTrainer(const config::JobConfig& job, TrainerData data, TrainerDeps deps,
                         int worker_index, int num_workers, TrainerCheckpoints checkpoints)
    : job_(job),
      data_(std::move(data)),
      deps_(deps),
      worker_index_(worker_index),
      num_workers_(num_workers),
      logistic_(job.model().loss() == "logistic"),
      dense_optimizer_(ToOptimizerParams(job.dense_optimizer())),
      checkpoints_(std::move(checkpoints)) {
  const auto& meta = job.meta();
  algorithm_ = ParseMetaAlgorithm(meta.algorithm()).value();  // validated with the config
  loop_.steps = meta.inner_steps();
  loop_.lr = meta.inner_lr();
  loop_.scope = ParseAdaptScope(meta.adapt()).value();
  row_decay_[0] = job.embedding().optimizer().weight_decay();
  row_decay_[1] = job.linear().optimizer().weight_decay();
  const int n = static_cast<int>(deps_.model->num_dense());
  dense_row_.assign(static_cast<size_t>(n + OptimizerStateFloats(dense_optimizer_.kind, n)), 0.0f);
  deps_.model->InitDense(job.training().seed(), dense_row_.data());
  InitOptimizerState(dense_optimizer_, dense_row_.data(), n);
  dense_.assign(dense_row_.begin(), dense_row_.begin() + n);
  deps_.ps->AddTable(0, job.model().embedding_dim());
  deps_.ps->AddTable(1, 1);
}

Status MetaTrainer::LoadData() {
  ReaderOptions o;
  o.batch_size = 4096;
  o.worker_index = 0;  // every worker reads everything: the index is built locally
  o.num_workers = 1;
  o.max_bad_fraction = job_.data().max_bad_fraction();
  o.threads = std::max(1, job_.data().reader_threads());
  bool shaped = false;
  for (const ReaderFactory* open : {&data_.train, &data_.valid, &data_.test}) {
    if (!*open) continue;
    ASSIGN_OR_RETURN(auto reader, (*open)(o));
    if (!shaped) {
      schema_ = reader->schema();
      all_.Reset(schema_);
      shaped = true;
    }
    RETURN_IF_ERROR(AppendAll(reader.get(), &all_));
  }
  const std::string slot = job_.meta().task_by();  // "user" or "item"
  task_slot_ = schema_.SlotIndex(slot);
  if (task_slot_ < 0 && loop_.scope == AdaptScope::kDenseAndTaskRow) {
    return InvalidArgument("meta.adapt dense_and_task_row: the data has no slot '" + slot + "'");
  }
  return Status::Ok();
}

Status MetaTrainer::BuildAndPullAll(const std::vector<const MetaTask*>& tasks,
                                    PsClient::PullMode mode, std::vector<uint64_t>* keys,
                                    KeyPlan* plan) {
  // The union of the tasks' keys in first-seen order, pulled once, so every
  // task reads the weights as they were before any of them.
  step_tasks_.resize(tasks.size());
  step_rows_.resize(tasks.size());
  size_t total = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskBatch& tb = step_tasks_[i];
    tb.Build(all_, schema_, tasks[i]->support, tasks[i]->query, task_slot_,
             job_.meta().shared_task_row(), SharedTaskKey(task_slot_), job_.model().embedding_dim(),
             deps_.model, &builder_);
    total += tb.emb.tables[0].keys.size();
  }
  step_dedup_.Reset(total);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const std::vector<uint64_t>& task_keys = step_tasks_[i].emb.tables[0].keys;
    step_rows_[i].resize(task_keys.size());
    step_dedup_.Add(task_keys.data(), task_keys.size(), step_rows_[i].data());
  }
  *keys = step_dedup_.unique();
  if (keys->empty()) return Status::Ok();
  *plan = deps_.ps->Plan(keys->data(), keys->size(), /*keys_unique=*/true);
  const size_t tables = deps_.model->NeedsLinearTable() ? 2 : 1;
  const int dims[2] = {job_.model().embedding_dim(), 1};
  std::vector<AlignedVector<float>> pulled(tables);
  std::vector<PsFuture> pulls;
  for (size_t t = 0; t < tables; ++t) {
    pulled[t].resize(keys->size() * static_cast<size_t>(dims[t]));
    pulls.push_back(deps_.ps->Pull(static_cast<uint32_t>(t), *plan, pulled[t].data(), mode));
  }
  RETURN_IF_ERROR(WaitAll(&pulls));
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskBatch& task = step_tasks_[i];
    const std::vector<uint32_t>& rows = step_rows_[i];
    for (size_t t = 0; t < task.emb.tables.size(); ++t) {
      const size_t dim = static_cast<size_t>(dims[t]);
      for (size_t r = 0; r < rows.size(); ++r) {
        std::copy_n(pulled[t].data() + rows[r] * dim, dim,
                    task.emb.tables[t].rows.data() + r * dim);
      }
    }
  }
  return Status::Ok();
}

Status MetaTrainer::OuterStep(const control::MetaBatch& batch) {
  const size_t n = dense_.size();
  std::vector<const MetaTask*> mine;
  for (uint32_t t : batch.workers(worker_index_).tasks()) {
    mine.push_back(&index_.tasks[index_.train[t]]);
  }
  std::vector<uint64_t> keys;
  KeyPlan plan;
  auto t = Clock::now();
  RETURN_IF_ERROR(BuildAndPullAll(mine, PsClient::PullMode::kTrain, &keys, &plan));
  timers_.pull += Since(t);
  t = Clock::now();
  const int dims[2] = {job_.model().embedding_dim(), 1};
  const size_t tables = deps_.model->NeedsLinearTable() ? 2 : 1;
  std::vector<AlignedVector<float>> sums(tables);
  for (size_t tb = 0; tb < tables; ++tb) {
    sums[tb].assign(keys.size() * static_cast<size_t>(dims[tb]), 0.0f);
  }
  // Dense signal sum, tasks, loss sum, examples scored, stop votes, examples processed.
  std::vector<double> reduce(n + 5, 0.0);
  std::vector<float> dense_signal;
  for (size_t i = 0; i < step_tasks_.size(); ++i) {
    TaskBatch& task = step_tasks_[i];
    const std::vector<uint32_t>& rows = step_rows_[i];
    ASSIGN_OR_RETURN(double loss, OuterSignal(deps_.model, &task, algorithm_, loop_, &dense_,
                                              row_decay_, &dense_signal));
    for (size_t tb = 0; tb < task.emb.tables.size(); ++tb) {
      const size_t dim = static_cast<size_t>(dims[tb]);
      for (size_t r = 0; r < rows.size(); ++r) {
        const float* g = task.emb.tables[tb].grads.data() + r * dim;
        float* sum = sums[tb].data() + rows[r] * dim;
        for (size_t j = 0; j < dim; ++j) sum[j] += g[j];
      }
    }
    for (size_t j = 0; j < n; ++j) reduce[j] += dense_signal[j];
    reduce[n] += 1;
    const size_t scored = algorithm_ == MetaAlgorithm::kNone ? task.all.size() : task.query.size();
    reduce[n + 1] += loss;
    reduce[n + 2] += static_cast<double>(scored);
    reduce[n + 4] += static_cast<double>(task.all.size());  // support + query
  }
  timers_.compute += Since(t);
  t = Clock::now();
  // The mean over the meta-batch: every worker divides by the same count.
  size_t meta_batch = 0;
  for (const auto& w : batch.workers()) meta_batch += static_cast<size_t>(w.tasks_size());
  const float scale = meta_batch > 0 ? 1.0f / static_cast<float>(meta_batch) : 0.0f;
  std::vector<TableSignal> signals;
  for (size_t tb = 0; tb < tables; ++tb) {
    for (float& v : sums[tb]) v *= scale;
    signals.push_back({static_cast<uint32_t>(tb), sums[tb].data()});
  }
  // Every worker pushes every table to every server each step (the servers
  // aggregate the BSP step), with no keys too.
  RETURN_IF_ERROR(PushTables(deps_.ps, keys.empty() ? nullptr : &plan, signals, step_ + 1,
                             /*every_server=*/true));
  timers_.push += Since(t);
  t = Clock::now();
  RETURN_IF_ERROR(ReduceStep(deps_.allreduce, deps_.scheduler, &reduce, n + 3, &stop_requested_));
  timers_.allreduce += Since(t);
  std::vector<float> grad;
  ApplyDenseStep(dense_optimizer_, reduce.data(), reduce[n], n, &grad, dense_row_.data());
  std::copy(dense_row_.begin(), dense_row_.begin() + static_cast<ptrdiff_t>(n), dense_.begin());
  ++step_;
  loss_sum_ += reduce[n + 1];
  examples_ += reduce[n + 2];
  samples_ += reduce[n + 4];
  return Status::Ok();
}

Status MetaTrainer::Evaluate(TaskSplit split, bool final) {
  const std::vector<uint32_t>& tasks = index_.of(split);
  MetricSums before, adapted, both_new_before, both_new_adapted;
  int64_t count = 0, both_new_count = 0;
  // At the end, with an output dir: one line per task of this worker's share.
  std::string records;
  const bool write = final && !job_.output_dir().empty();
  // This worker's share, pulled (read-only) kEvalChunk tasks at a time.
  constexpr size_t kEvalChunk = 256;
  std::vector<const MetaTask*> share;
  for (size_t i = static_cast<size_t>(worker_index_); i < tasks.size();
       i += static_cast<size_t>(num_workers_)) {
    share.push_back(&index_.tasks[tasks[i]]);
  }
  std::vector<uint64_t> keys;
  KeyPlan plan;
  for (size_t first = 0; first < share.size(); first += kEvalChunk) {
    const std::vector<const MetaTask*> chunk(
        share.begin() + static_cast<ptrdiff_t>(first),
        share.begin() + static_cast<ptrdiff_t>(std::min(share.size(), first + kEvalChunk)));
    RETURN_IF_ERROR(BuildAndPullAll(chunk, PsClient::PullMode::kReadOnly, &keys, &plan));
    for (size_t c = 0; c < chunk.size(); ++c) {
      const MetaTask& task = *chunk[c];
      ASSIGN_OR_RETURN(TaskScores scores, ScoreTask(deps_.model, &step_tasks_[c], loop_, dense_,
                                                    logistic_, nullptr, task.query_both_new));
      before.Add(scores.before);
      adapted.Add(scores.adapted);
      ++count;
      if (!task.query_both_new.empty()) {
        both_new_before.Add(scores.both_new_before);
        both_new_adapted.Add(scores.both_new_adapted);
        ++both_new_count;
      }
      if (write) {
        records += JsonText({{"split", TaskSplitName(split)},
                             {"task", task.id},
                             {"support", task.support.size()},
                             {"query", task.query.size()},
                             {"before", TaskMetricsJson(scores.before)},
                             {"adapted", TaskMetricsJson(scores.adapted)},
                             {"both_new", task.query_both_new.size()},
                             {"both_new_before", TaskMetricsJson(scores.both_new_before)},
                             {"both_new_adapted", TaskMetricsJson(scores.both_new_adapted)}}) +
                   "\n";
      }
    }
  }
  if (write) {
    Env* env = Env::Default();
    RETURN_IF_ERROR(env->CreateDir(job_.output_dir()));
    RETURN_IF_ERROR(WriteFileAtomically(env,
                                        job_.output_dir() + "/meta_tasks_" + TaskSplitName(split) +
                                            ".worker" + std::to_string(worker_index_) + ".jsonl",
                                        records));
  }
  control::MetaEvalPartial partial;
  partial.set_tasks(count);
  before.To(partial.mutable_before());
  adapted.To(partial.mutable_adapted());
  partial.set_both_new_tasks(both_new_count);
  both_new_before.To(partial.mutable_both_new_before());
  both_new_adapted.To(partial.mutable_both_new_adapted());
  return deps_.scheduler
      ->GatherPayload(
          "meta/eval/" + std::string(TaskSplitName(split)) + "/" + std::to_string(step_),
          kGroupWorkers, EncodeMetaEvalPartial(partial))
      .status();
}

Status MetaTrainer::SyncServers(control::ServerSync::Action action) {
  std::function<Status()> write;
  if (worker_index_ == 0) write = [this] { return WriteState(); };
  return SyncServerStep(deps_.scheduler, &sync_round_, action, step_, write);
}

Status MetaTrainer::WriteState() const {
  Env* env = Env::Default();
  RETURN_IF_ERROR(env->CreateDir(checkpoints_.dir));
  WorkerState state;
  state.step = step_;
  state.steps_in_epoch = static_cast<int64_t>(examples_);
  state.samples = samples_;
  state.loss_sum = loss_sum_;
  state.dense_row = dense_row_;
  return WriteWorkerState(env, WorkerStatePath(checkpoints_.dir, step_), state);
}

Status MetaTrainer::Run() {
  const auto loading = Clock::now();
  const auto& meta = job_.meta();
  const auto& tr = job_.training();
  RETURN_IF_ERROR(LoadData());
  ASSIGN_OR_RETURN(index_, BuildTaskIndex(all_, meta, tr.seed()));
  if (worker_index_ == 0) {
    METAPS_LOG(INFO) << "meta-learning over " << all_.size() << " examples: " << index_.train.size()
                     << " meta-train, " << index_.valid.size() << " meta-valid, "
                     << index_.test.size() << " meta-test tasks by " << meta.task_by() << " ("
                     << index_.dropped_small << " below " << meta.min_task_size()
                     << " examples and " << index_.dropped_large << " above "
                     << meta.max_task_size() << " dropped)";
  }
  control::MetaIndex report;
  report.set_digest(index_.Digest());
  report.set_valid_tasks(static_cast<int64_t>(index_.valid.size()));
  report.set_test_tasks(static_cast<int64_t>(index_.test.size()));
  report.set_dropped_small(static_cast<int64_t>(index_.dropped_small));
  report.set_dropped_large(static_cast<int64_t>(index_.dropped_large));
  for (uint32_t t : index_.train) {
    report.add_train_sizes(static_cast<uint32_t>(index_.tasks[t].size()));
  }
  {
    std::vector<zmq::message_t> frames;
    frames.emplace_back(EncodeMetaIndex(std::move(report)));
    RETURN_IF_ERROR(
        deps_.scheduler->Gather("meta/index", kGroupWorkers, "", std::move(frames)).status());
  }
  if (checkpoints_.resume) {
    ASSIGN_OR_RETURN(Message restored, deps_.scheduler->Gather("ps/resume", kGroupMembers));
    const int64_t step = restored.header.control().value();
    ASSIGN_OR_RETURN(WorkerState state,
                     ReadWorkerState(Env::Default(), WorkerStatePath(checkpoints_.dir, step),
                                     dense_row_.size(), step));
    step_ = state.step;
    examples_ = static_cast<double>(state.steps_in_epoch);
    samples_ = state.samples;
    loss_sum_ = state.loss_sum;
    dense_row_ = std::move(state.dense_row);
    std::copy(dense_row_.begin(), dense_row_.begin() + static_cast<ptrdiff_t>(dense_.size()),
              dense_.begin());
    if (worker_index_ == 0) METAPS_LOG(INFO) << "resumed at outer step " << step_;
  }
  // The rate covers the outer loop only: loading and indexing are logged apart.
  const auto start = Clock::now();
  if (worker_index_ == 0) {
    METAPS_LOG(INFO) << "data read and indexed in " << Since(loading) << " s";
  }
  timers_.read = Since(loading);  // once: every worker holds all the data
  const double samples_at_start = samples_;
  double last_samples = samples_, last_loss = loss_sum_, last_examples = examples_;
  auto last_log = Clock::now();
  int64_t last_saved = checkpoints_.resume ? step_ : -1;
  while (step_ < meta.outer_steps()) {
    const std::string name = "meta/step/" + std::to_string(step_);
    ASSIGN_OR_RETURN(Message reply, deps_.scheduler->Gather(name, kGroupWorkers));
    ASSIGN_OR_RETURN(control::MetaBatch batch,
                     DecodeMetaBatch(reply.header.control().payload(), num_workers_,
                                     index_.train.size(), name + " from the scheduler"));
    RETURN_IF_ERROR(OuterStep(batch));
    if (tr.log_every() > 0 && step_ % tr.log_every() == 0) {
      control::Progress progress;
      progress.set_epoch(1);
      progress.set_step(step_);
      progress.set_samples(samples_);
      const double examples = examples_ - last_examples;
      progress.set_loss(examples > 0 ? (loss_sum_ - last_loss) / examples : 0);
      progress.set_samples_per_s((samples_ - last_samples) / Since(last_log));
      progress.set_elapsed_s(Since(start));
      last_samples = samples_;
      last_loss = loss_sum_;
      last_examples = examples_;
      last_log = Clock::now();
      RETURN_IF_ERROR(deps_.scheduler
                          ->GatherPayload("train/progress/" + std::to_string(step_), kGroupWorkers,
                                          EncodeProgress(progress))
                          .status());
    }
    if (meta.eval_every() > 0 && step_ % meta.eval_every() == 0 && step_ < meta.outer_steps()) {
      RETURN_IF_ERROR(Evaluate(TaskSplit::kValid, /*final=*/false));
    }
    if (stop_requested_) {
      METAPS_LOG(INFO) << "stop requested: stopping after outer step " << step_;
      break;
    }
    if (!checkpoints_.dir.empty() && tr.checkpoint_every() > 0 &&
        step_ % tr.checkpoint_every() == 0 && step_ < meta.outer_steps()) {
      RETURN_IF_ERROR(SyncServers(control::ServerSync::CHECKPOINT));
      last_saved = step_;
    }
  }
  const double seconds = Since(start);
  RETURN_IF_ERROR(Evaluate(TaskSplit::kValid, /*final=*/true));
  RETURN_IF_ERROR(Evaluate(TaskSplit::kTest, /*final=*/true));
  control::Done done;
  done.set_steps(step_);
  done.set_samples(samples_);
  done.set_loss(examples_ > 0 ? loss_sum_ / examples_ : 0);
  done.set_seconds(seconds);
  done.set_run_samples(samples_ - samples_at_start);
  done.set_read_s(timers_.read);
  done.set_pull_s(timers_.pull);
  done.set_compute_s(timers_.compute);
  done.set_push_s(timers_.push);
  done.set_allreduce_s(timers_.allreduce);
  RETURN_IF_ERROR(
      deps_.scheduler->GatherPayload("train/done", kGroupWorkers, EncodeDone(done)).status());
  const bool save = !checkpoints_.dir.empty() && last_saved != step_;
  return SyncServers(save ? control::ServerSync::END_CHECKPOINT : control::ServerSync::END);
}

}  // namespace metaps
