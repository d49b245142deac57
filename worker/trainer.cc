#include "worker/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "common/control.h"
#include "common/env.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "worker/data/prefetching_reader.h"
#include "worker/data/shuffling_reader.h"
#include "worker/ranking_eval.h"
#include "worker/step.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<zmq::message_t> Frames(const std::vector<std::vector<uint8_t>>& parts) {
  std::vector<zmq::message_t> frames;
  for (const auto& p : parts) frames.emplace_back(p.data(), p.size());
  return frames;
}

}  // namespace

OptimizerParams ToOptimizerParams(const config::OptimizerConfig& c) {
  OptimizerParams p;
  if (c.kind() == "adagrad") p.kind = OptimizerKind::kAdagrad;
  if (c.kind() == "adam") p.kind = OptimizerKind::kAdam;
  if (c.kind() == "ftrl") p.kind = OptimizerKind::kFtrl;
  p.lr = c.lr();
  p.beta1 = c.beta1();
  p.beta2 = c.beta2();
  p.eps = c.eps();
  p.initial_accumulator = c.initial_accumulator();
  p.l1 = c.l1();
  p.l2 = c.l2();
  p.weight_decay = c.weight_decay();
  p.decoupled_weight_decay = c.decoupled_weight_decay();
  p.adam_global_step = c.bias_correction() == "global";
  return p;
}

ModelOptions ToModelOptions(const config::ModelConfig& c) {
  ModelOptions o;
  o.family = c.family();
  o.embedding_dim = c.embedding_dim();
  o.hidden.assign(c.hidden().begin(), c.hidden().end());
  o.loss = c.loss() == "squared" ? LossKind::kSquared : LossKind::kLogistic;
  o.use_mlp = !c.fm_only();
  o.num_scenarios = c.num_scenarios();
  o.global_bias = c.global_bias();
  o.user_slots.assign(c.user_slots().begin(), c.user_slots().end());
  o.item_slots.assign(c.item_slots().begin(), c.item_slots().end());
  return o;
}

std::string WorkerStatePath(const std::string& dir, int64_t step) {
  return dir + "/worker-state-" + std::to_string(step) + ".bin";
}

std::string EarlyStopStatePath(const std::string& dir, int64_t step) {
  return dir + "/early-stop-" + std::to_string(step) + ".txt";
}

Trainer::Trainer(const config::JobConfig& job, TrainerData data, TrainerDeps deps, int worker_index,
                 int num_workers, TrainerCheckpoints checkpoints)
    : job_(job),
      data_(std::move(data)),
      deps_(deps),
      worker_index_(worker_index),
      num_workers_(num_workers),
      logistic_(job.model().loss() == "logistic"),
      aggregated_pushes_(job.cluster().consistency() == "bsp" && num_workers > 1),
      dense_optimizer_(ToOptimizerParams(job.dense_optimizer())),
      prefetch_rows_(!(job.cluster().consistency() == "bsp" && num_workers > 1) &&
                     !(job.cluster().consistency() == "ssp" && job.cluster().staleness() == 0)),
      checkpoints_(std::move(checkpoints)),
      early_stop_(job.training().has_early_stop() &&
                  checkpoints_.mode == TrainerCheckpoints::Mode::kTrain) {
  const int n = static_cast<int>(deps_.model->num_dense());
  row_.assign(static_cast<size_t>(n + OptimizerStateFloats(dense_optimizer_.kind, n)), 0.0f);
  deps_.model->InitDense(job.training().seed(), row_.data());
  InitOptimizerState(dense_optimizer_, row_.data(), n);
  dense_grad_.resize(static_cast<size_t>(n));
  reduce_.resize(static_cast<size_t>(n) + 3);  // + examples, loss, stop votes
  row_decay_[0] = job.embedding().optimizer().weight_decay();
  row_decay_[1] = job.linear().optimizer().weight_decay();
  deps_.ps->AddTable(0, job.model().embedding_dim());
  deps_.ps->AddTable(1, 1);
}

Trainer::~Trainer() = default;

ReaderOptions Trainer::ReaderOptionsFor() const {
  ReaderOptions o;
  o.batch_size = static_cast<size_t>(job_.data().batch_size());
  o.worker_index = worker_index_;
  o.num_workers = num_workers_;
  o.max_bad_fraction = job_.data().max_bad_fraction();
  o.threads = std::max(1, job_.data().reader_threads());  // 0 when the job skipped defaults
  return o;
}

Status Trainer::PullAll() {
  std::vector<PsFuture> pulls;
  for (auto& table : emb_.tables) {
    pulls.push_back(deps_.ps->Pull(table.table_id, plan_, table.rows.data()));
  }
  return WaitAll(&pulls);
}

void Trainer::PullKeys(const std::vector<TableRows>& tables, std::vector<PsFuture>* pulls) {
  Prefetch& p = next_;
  p.rows.resize(tables.size());
  // Every table is pulled for the same keys: one plan serves them all.
  const KeyPlan plan = deps_.ps->Plan(p.keys.data(), p.keys.size(), /*keys_unique=*/true);
  for (size_t t = 0; t < tables.size(); ++t) {
    p.rows[t].resize(p.keys.size() * static_cast<size_t>(tables[t].dim));
    pulls->push_back(deps_.ps->Pull(tables[t].table_id, plan, p.rows[t].data()));
  }
}

Status Trainer::StartPrefetch(Reader* reader) {
  Prefetch& p = next_;
  p.batch.Clear();
  RETURN_IF_ERROR(reader->Next(&p.batch));
  p.ready = true;
  if (p.batch.size() == 0) return Status::Ok();
  builder_.Build(p.batch, job_.model().embedding_dim(), deps_.model->NeedsLinearTable(), &p.emb,
                 deps_.model);
  // Which of the next batch's keys the current batch also uses: after the
  // current keys, a next key whose index is below their count is shared.
  const std::vector<uint64_t>& current = emb_.tables[0].keys;
  const std::vector<uint64_t>& keys = p.emb.tables[0].keys;
  p.dedup.Reset(current.size() + keys.size());
  p.index.resize(std::max(current.size(), keys.size()));
  p.dedup.Add(current.data(), current.size(), p.index.data());
  p.dedup.Add(keys.data(), keys.size(), p.index.data());
  p.ahead.clear();
  p.shared.clear();
  p.keys.clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (p.index[i] < current.size()) {
      p.shared.push_back(static_cast<uint32_t>(i));
    } else {
      p.ahead.push_back(static_cast<uint32_t>(i));
      p.keys.push_back(keys[i]);
    }
  }
  rows_pulled_ahead_ += p.ahead.size();
  if (!p.ahead.empty()) PullKeys(p.emb.tables, &p.pulls);
  return Status::Ok();
}

namespace {

// rows[j] (dim floats) -> table.rows at position positions[j].
void ScatterRows(const AlignedVector<float>& rows, const std::vector<uint32_t>& positions,
                 TableRows* table) {
  const size_t dim = static_cast<size_t>(table->dim);
  for (size_t j = 0; j < positions.size(); ++j) {
    std::memcpy(table->rows.data() + positions[j] * dim, rows.data() + j * dim,
                dim * sizeof(float));
  }
}

}  // namespace

Status Trainer::FinishPrefetch() {
  Prefetch& p = next_;
  if (!p.ahead.empty()) {
    RETURN_IF_ERROR(WaitAll(&p.pulls));
    for (size_t t = 0; t < emb_.tables.size(); ++t) {
      ScatterRows(p.rows[t], p.ahead, &emb_.tables[t]);
    }
  }
  if (p.shared.empty()) return Status::Ok();
  // The shared keys, now that the previous step's pushes are applied.
  p.keys.clear();
  for (uint32_t i : p.shared) p.keys.push_back(emb_.tables[0].keys[i]);
  std::vector<PsFuture> pulls;
  PullKeys(emb_.tables, &pulls);
  RETURN_IF_ERROR(WaitAll(&pulls));
  for (size_t t = 0; t < emb_.tables.size(); ++t) {
    ScatterRows(p.rows[t], p.shared, &emb_.tables[t]);
  }
  return Status::Ok();
}

Status Trainer::DropPrefetch() {
  next_.ready = false;
  return WaitAll(&next_.pulls);
}

Status Trainer::Step(Reader* reader, bool* done) {
  auto t = Clock::now();
  const bool prefetched = next_.ready;
  if (prefetched) {
    std::swap(batch_, next_.batch);
    std::swap(emb_, next_.emb);
    next_.ready = false;
  } else {
    batch_.Clear();
    if (reader != nullptr) RETURN_IF_ERROR(reader->Next(&batch_));
  }
  const size_t n = batch_.size();
  timers_.read += Since(t);
  const size_t num_dense = deps_.model->num_dense();
  std::fill(reduce_.begin(), reduce_.end(), 0.0);
  if (n > 0) {
    if (!prefetched) {
      builder_.Build(batch_, job_.model().embedding_dim(), deps_.model->NeedsLinearTable(), &emb_,
                     deps_.model);
    }
    t = Clock::now();
    const std::vector<uint64_t>& keys = emb_.tables[0].keys;  // every table's
    rows_pulled_ += keys.size();
    // One plan for this batch's pulls and pushes of every table.
    plan_ = deps_.ps->Plan(keys.data(), keys.size(), /*keys_unique=*/true);
    RETURN_IF_ERROR(prefetched ? FinishPrefetch() : PullAll());
    timers_.pull += Since(t);
    if (prefetch_rows_ && reader != nullptr) {
      t = Clock::now();
      RETURN_IF_ERROR(StartPrefetch(reader));
      timers_.read += Since(t);
    }

    t = Clock::now();
    std::fill(dense_grad_.begin(), dense_grad_.end(), 0.0f);
    predictions_.resize(n);
    ASSIGN_OR_RETURN(double loss,
                     deps_.model->ForwardBackward(batch_, emb_, row_.data(), dense_grad_.data(),
                                                  predictions_.data()));
    AddPerExampleL2(n, row_decay_, &row_uses_, &emb_);
    timers_.compute += Since(t);

    t = Clock::now();
    signals_.clear();
    for (const auto& table : emb_.tables) signals_.push_back({table.table_id, table.grads.data()});
    RETURN_IF_ERROR(PushTables(deps_.ps, &plan_, signals_, step_ + 1, aggregated_pushes_));
    timers_.push += Since(t);
    for (size_t i = 0; i < num_dense; ++i) reduce_[i] = double(dense_grad_[i]) * double(n);
    reduce_[num_dense] = static_cast<double>(n);
    reduce_[num_dense + 1] = loss;
  }
  if (n == 0 && aggregated_pushes_) {
    // The servers wait for one push per worker per step, data or not.
    signals_.clear();
    const uint32_t tables = deps_.model->NeedsLinearTable() ? 2 : 1;
    for (uint32_t table = 0; table < tables; ++table) signals_.push_back({table, nullptr});
    RETURN_IF_ERROR(PushTables(deps_.ps, nullptr, signals_, step_ + 1, /*every_server=*/true));
  }
  t = Clock::now();
  RETURN_IF_ERROR(
      ReduceStep(deps_.allreduce, deps_.scheduler, &reduce_, num_dense + 2, &stop_requested_));
  timers_.allreduce += Since(t);
  const double total = reduce_[num_dense];
  if (total == 0) {
    *done = true;
    return Status::Ok();
  }
  // The mean gradient over every worker's examples, then the same step everywhere.
  ApplyDenseStep(dense_optimizer_, reduce_.data(), total, num_dense, &dense_grad_, row_.data());
  ++step_;
  samples_ += total;
  loss_sum_ += reduce_[num_dense + 1];
  if (job_.cluster().consistency() != "bsp") {
    RETURN_IF_ERROR(deps_.scheduler->Clock(step_).status());
  }
  return Status::Ok();
}

// Eval partials (frames, each a tagged accumulator state, common/metrics.h):
// [overall binary|regression, per-scenario, GAUC (logistic), ranking (k > 0:
// RankingMetricsAccumulator for heldout_only, else UserRankingAccumulator)].
Status Trainer::Evaluate(const std::string& split, const ReaderFactory& open) {
  if (!open) return Status::Ok();
  ASSIGN_OR_RETURN(auto reader, open(ReaderOptionsFor()));
  ScenarioMetricsAccumulator scenarios(logistic_);
  GaucAccumulator gauc;
  const int k = job_.training().ranking_k();
  const bool heldout_only = job_.training().ranking_protocol() == "heldout_only";
  RankingMetricsAccumulator ranking(k > 0 ? k : 1,
                                    logistic_ ? 0.5 : job_.data().rating_threshold());
  const bool linear = deps_.model->NeedsLinearTable();
  Batch batch;
  while (true) {
    RETURN_IF_ERROR(reader->Next(&batch));
    const size_t n = batch.size();
    if (n == 0) break;
    builder_.Build(batch, job_.model().embedding_dim(), linear, &emb_, deps_.model);
    const std::vector<uint64_t>& keys = emb_.tables[0].keys;  // every table's
    const KeyPlan plan = deps_.ps->Plan(keys.data(), keys.size(), /*keys_unique=*/true);
    for (auto& table : emb_.tables) {
      RETURN_IF_ERROR(
          deps_.ps->Pull(table.table_id, plan, table.rows.data(), PsClient::PullMode::kReadOnly)
              .Wait());
    }
    predictions_.resize(n);
    RETURN_IF_ERROR(deps_.model->Forward(batch, emb_, row_.data(), predictions_.data()));
    scenarios.AddBatch(batch.scenario_ids.data(), predictions_.data(), batch.labels.data(), n);
    if (logistic_) {
      gauc.AddBatch(batch.user_ids.data(), predictions_.data(), batch.labels.data(), n);
    }
    if (k > 0 && heldout_only) {
      ranking.AddBatch(batch.user_ids.data(), predictions_.data(), batch.labels.data(), n);
    }
  }
  std::vector<std::vector<uint8_t>> parts = {logistic_ ? scenarios.MergedBinary().Serialize()
                                                       : scenarios.MergedRegression().Serialize()};
  parts.push_back(scenarios.Serialize(/*single_refers_to_overall=*/true));
  if (logistic_) parts.push_back(gauc.Serialize());
  if (k > 0 && heldout_only) parts.push_back(ranking.Serialize());
  if (k > 0 && !heldout_only) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> ranked, RankOwnedUsers(split, open));
    parts.push_back(std::move(ranked));
  }
  return deps_.scheduler
      ->GatherPayload("eval/" + split + "/" + std::to_string(step_), kGroupWorkers,
                      EncodeEvalPartial(logistic_), Frames(parts))
      .status();
}

StatusOr<std::vector<uint8_t>> Trainer::RankOwnedUsers(const std::string& split,
                                                       const ReaderFactory& open) {
  const auto& tr = job_.training();
  if (ranking_ == nullptr) {
    RankingEvalOptions o;
    o.k = tr.ranking_k();
    o.relevance_threshold = logistic_ ? 0.5 : job_.data().rating_threshold();
    o.protocol = tr.ranking_protocol();
    o.negatives = tr.ranking_negatives();
    o.seed = tr.seed();
    o.worker_index = worker_index_;
    o.num_workers = num_workers_;
    o.embedding_dim = job_.model().embedding_dim();
    o.linear_table = deps_.model->NeedsLinearTable();
    o.user_slots.assign(job_.model().user_slots().begin(), job_.model().user_slots().end());
    o.item_slots.assign(job_.model().item_slots().begin(), job_.model().item_slots().end());
    o.reader = ReaderOptionsFor();
    ranking_ = std::make_unique<RankingEvaluator>(std::move(o));
  }
  RETURN_IF_ERROR(ranking_->LoadTraining(data_.train));
  RETURN_IF_ERROR(ranking_->LoadSplit(split, open));
  RowFetcher fetch = [this](EmbeddingBatch* emb) -> Status {
    const std::vector<uint64_t>& keys = emb->tables[0].keys;
    const KeyPlan plan = deps_.ps->Plan(keys.data(), keys.size(), /*keys_unique=*/true);
    std::vector<PsFuture> pulls;
    for (auto& table : emb->tables) {
      pulls.push_back(
          deps_.ps->Pull(table.table_id, plan, table.rows.data(), PsClient::PullMode::kReadOnly));
    }
    return WaitAll(&pulls);
  };
  UserRankingAccumulator ranked(tr.ranking_k(), ranking_->protocol_name());
  RETURN_IF_ERROR(ranking_->Evaluate(split, fetch, deps_.model, row_.data(), &ranked));
  return ranked.Serialize();
}

namespace {

// worker-state-<step>.bin: "MPWS1", then step, epoch, steps_in_epoch (int64),
// samples, loss_sum (double), n (uint64), n floats, and the CRC32C of all that.
constexpr char kStateMagic[] = "MPWS1";

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <typename T>
bool Get(const std::string& in, size_t* pos, T* v) {
  if (*pos + sizeof(T) > in.size()) return false;
  std::memcpy(v, in.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return true;
}

}  // namespace

Status WriteWorkerState(Env* env, const std::string& path, const WorkerState& state) {
  std::string data(kStateMagic, 5);
  Put(&data, state.step);
  Put(&data, state.epoch);
  Put(&data, state.steps_in_epoch);
  Put(&data, state.samples);
  Put(&data, state.loss_sum);
  Put(&data, static_cast<uint64_t>(state.dense_row.size()));
  data.append(reinterpret_cast<const char*>(state.dense_row.data()),
              state.dense_row.size() * sizeof(float));
  Put(&data, Crc32c(data.data(), data.size()));
  return WriteFileAtomically(env, path, data);
}

StatusOr<WorkerState> ReadWorkerState(Env* env, const std::string& path, size_t dense_floats,
                                      int64_t step) {
  std::string data;
  RETURN_IF_ERROR(env->ReadFileToString(path, &data));
  WorkerState state;
  size_t pos = 5;
  uint64_t n = 0;
  uint32_t crc = 0;
  const bool framed = data.size() >= 9 && data.compare(0, 5, kStateMagic) == 0 &&
                      Get(data, &pos, &state.step) && Get(data, &pos, &state.epoch) &&
                      Get(data, &pos, &state.steps_in_epoch) && Get(data, &pos, &state.samples) &&
                      Get(data, &pos, &state.loss_sum) && Get(data, &pos, &n);
  if (!framed || n != dense_floats || pos + n * sizeof(float) + 4 != data.size()) {
    return DataLoss(path + ": not a worker state of this model (" + std::to_string(dense_floats) +
                    " dense floats expected)");
  }
  std::memcpy(&crc, data.data() + data.size() - 4, 4);
  if (crc != Crc32c(data.data(), data.size() - 4)) return DataLoss(path + ": crc32c mismatch");
  if (state.step != step) {
    return DataLoss(path + " holds step " + std::to_string(state.step) + ", the servers restored " +
                    std::to_string(step));
  }
  state.dense_row.resize(n);
  std::memcpy(state.dense_row.data(), data.data() + pos, n * sizeof(float));
  return state;
}

Status WriteDenseFile(Env* env, const std::string& path, const float* weights, size_t n) {
  std::string data("MPDW1");
  Put(&data, static_cast<uint64_t>(n));
  data.append(reinterpret_cast<const char*>(weights), n * sizeof(float));
  return WriteFileAtomically(env, path, data);
}

Status Trainer::WriteState() const {
  Env* env = Env::Default();
  RETURN_IF_ERROR(env->CreateDir(checkpoints_.dir));
  if (early_stop_) {
    RETURN_IF_ERROR(WriteFileAtomically(
        env, EarlyStopStatePath(checkpoints_.dir, step_),
        job_.training().early_stop().metric() + " " + early_.Serialize() + "\n"));
  }
  return WriteWorkerState(env, WorkerStatePath(checkpoints_.dir, step_), State());
}

WorkerState Trainer::State() const {
  WorkerState state;
  state.step = step_;
  state.epoch = epoch_;
  state.steps_in_epoch = steps_in_epoch_;
  state.samples = samples_;
  state.loss_sum = loss_sum_;
  state.dense_row = row_;
  return state;
}

Status Trainer::LoadState(int64_t step) {
  const bool warm = !checkpoints_.init_dir.empty();
  ASSIGN_OR_RETURN(
      WorkerState state,
      ReadWorkerState(Env::Default(),
                      WorkerStatePath(warm ? checkpoints_.init_dir : checkpoints_.dir, step),
                      row_.size(), step));
  row_ = std::move(state.dense_row);
  step_ = state.step;
  if (warm) return Status::Ok();  // new data: its first epoch, from its first line
  steps_in_epoch_ = state.steps_in_epoch;
  samples_ = state.samples;
  loss_sum_ = state.loss_sum;
  epoch_ = static_cast<int>(state.epoch);
  return Status::Ok();
}

Status SyncServerStep(SchedulerClient* scheduler, int* round, control::ServerSync::Action action,
                      int64_t step, const std::function<Status()>& write_state) {
  const std::string k = std::to_string((*round)++);
  RETURN_IF_ERROR(
      scheduler->GatherPayload("ps/sync/" + k, kGroupMembers, EncodeServerSync(action, step))
          .status());
  if (action != control::ServerSync::CHECKPOINT && action != control::ServerSync::END_CHECKPOINT) {
    return Status::Ok();
  }
  // The worker state exists before the servers' manifest names this step.
  if (write_state) RETURN_IF_ERROR(write_state());
  RETURN_IF_ERROR(scheduler->Barrier("ps/state/" + k, kGroupMembers));
  return scheduler->Barrier("ps/saved/" + k, kGroupMembers);
}

Status Trainer::SyncServers(control::ServerSync::Action action) {
  std::function<Status()> write;
  if (worker_index_ == 0) write = [this] { return WriteState(); };
  return SyncServerStep(deps_.scheduler, &sync_round_, action, step_, write);
}

Status Trainer::Run() {
  const auto start = Clock::now();
  const auto& tr = job_.training();
  double last_samples = 0;
  auto last_log = Clock::now();
  if (early_stop_ && !data_.valid) {
    return InvalidArgument("training.early_stop needs validation data (data.valid)");
  }
  if (checkpoints_.resume) {
    ASSIGN_OR_RETURN(Message restored, deps_.scheduler->Gather("ps/resume", kGroupMembers));
    RETURN_IF_ERROR(LoadState(restored.header.control().value()));
    if (!checkpoints_.init_dir.empty()) {
      METAPS_LOG(INFO) << "warm start from " << checkpoints_.init_dir << " at step " << step_;
    } else {
      last_saved_step_ = step_;
      METAPS_LOG(INFO) << "resumed at step " << step_ << " (epoch " << epoch_ << ", "
                       << steps_in_epoch_ << " steps into it)";
      if (early_stop_) RETURN_IF_ERROR(ResumeEarlyStop());
    }
  }
  if (checkpoints_.mode == TrainerCheckpoints::Mode::kTrial && checkpoints_.trial_start) {
    const WorkerState& start = *checkpoints_.trial_start;
    if (start.dense_row.size() != row_.size()) {
      return InvalidArgument("a trial's state of " + std::to_string(start.dense_row.size()) +
                             " dense floats for a model of " + std::to_string(row_.size()));
    }
    row_ = start.dense_row;
    step_ = start.step;
    epoch_ = static_cast<int>(start.epoch);
    steps_in_epoch_ = start.steps_in_epoch;
    samples_ = start.samples;
    loss_sum_ = start.loss_sum;
  }
  if (checkpoints_.mode == TrainerCheckpoints::Mode::kExport) {
    if (worker_index_ == 0) {
      RETURN_IF_ERROR(Env::Default()->CreateDir(checkpoints_.export_dir));
      RETURN_IF_ERROR(WriteDenseFile(Env::Default(), checkpoints_.export_dir + "/dense.bin",
                                     row_.data(), deps_.model->num_dense()));
    }
    return SyncServers(control::ServerSync::END_EXPORT);
  }
  const double samples_at_start = samples_;  // resumed runs report their own rate
  if (job_.data().shuffle_buffer() > 1 && checkpoints_.mode == TrainerCheckpoints::Mode::kTrain) {
    METAPS_LOG(INFO) << "shuffling the training shard through a pool of "
                     << job_.data().shuffle_buffer() << " examples";
  }
  bool stop = checkpoints_.mode == TrainerCheckpoints::Mode::kEvaluate ||
              (tr.max_steps() > 0 && step_ >= tr.max_steps()) || (early_stop_ && early_.stopped);
  while (epoch_ <= tr.epochs() && !stop) {
    const int epoch = epoch_;
    ASSIGN_OR_RETURN(auto inner, data_.train(ReaderOptionsFor()));
    if (job_.data().shuffle_buffer() > 1) {
      inner = std::make_unique<ShufflingReader>(std::move(inner),
                                                static_cast<size_t>(job_.data().shuffle_buffer()),
                                                static_cast<size_t>(job_.data().batch_size()),
                                                ShuffleSeed(tr.seed(), epoch, worker_index_));
    }
    // The shuffle, like the parsing, runs on the read-ahead thread.
    auto reader = std::make_unique<PrefetchingReader>(std::move(inner));
    // Resuming mid-epoch: a shard is read in a fixed order (or shuffled by the
    // same seed and epoch), so skipping the steps already trained lands on the
    // same batch.
    Batch skipped;
    for (int64_t i = 0; i < steps_in_epoch_; ++i) RETURN_IF_ERROR(reader->Next(&skipped));
    bool done = false;
    while (!done && !stop) {
      RETURN_IF_ERROR(Step(reader.get(), &done));
      if (done) break;
      ++steps_in_epoch_;
      stop = stop_requested_ || (tr.max_steps() > 0 && step_ >= tr.max_steps());
      if (stop_requested_) {
        METAPS_LOG(INFO) << "stop requested: stopping after step " << step_;
      }
      if (tr.log_every() > 0 && step_ % tr.log_every() == 0) {
        // Every worker computed the same totals from the all-reduce.
        control::Progress progress;
        progress.set_epoch(epoch);
        progress.set_step(step_);
        progress.set_samples(samples_);
        progress.set_loss(loss_sum_ / samples_);
        progress.set_samples_per_s((samples_ - last_samples) / Since(last_log));
        progress.set_elapsed_s(Since(start));
        last_samples = samples_;
        last_log = Clock::now();
        RETURN_IF_ERROR(deps_.scheduler
                            ->GatherPayload("train/progress/" + std::to_string(step_),
                                            kGroupWorkers, EncodeProgress(progress))
                            .status());
      }
      bool improved = false;
      if (tr.eval_every() > 0 && step_ % tr.eval_every() == 0) {
        RETURN_IF_ERROR(Evaluate("valid", data_.valid));
        if (early_stop_) {
          RETURN_IF_ERROR(DecideEarlyStop(&improved));
          stop = stop || early_.stopped;
        }
      }
      // After the evaluation: a checkpoint's early-stop state includes it.
      if (!checkpoints_.dir.empty() && !stop &&
          ((tr.checkpoint_every() > 0 && step_ % tr.checkpoint_every() == 0) || improved)) {
        RETURN_IF_ERROR(SaveCheckpoint());
      }
    }
    // A stop leaves the next batch read ahead: it is read again on resume.
    RETURN_IF_ERROR(DropPrefetch());
    // Stats are stable once the input is exhausted (the read-ahead thread is idle).
    const ReaderStats stats = done ? reader->stats() : ReaderStats{};
    if (stats.bad_lines > 0) {
      METAPS_LOG(WARNING) << "epoch " << epoch << ": " << stats.bad_lines << " malformed of "
                          << stats.lines << " lines skipped";
    }
    // multi_scenario: towers this worker's shard gave no example in epoch 1.
    for (size_t k = 0; epoch == 1 && k < stats.scenario_examples.size(); ++k) {
      if (stats.scenario_examples[k] > 0) continue;
      METAPS_LOG(WARNING) << "scenario tower " << k
                          << " received no training example in epoch 1 (worker " << worker_index_
                          << "'s shard; check data.scenario_from and model.num_scenarios)";
    }
    // A stop at max_steps keeps the position, so a resumed run goes on from it.
    if (stop) break;
    ++epoch_;
    steps_in_epoch_ = 0;
    if (early_stop_ && tr.eval_every() == 0 && step_ > early_.last_step) {
      // Early stopping without eval_every: validation at the end of every epoch.
      bool improved = false;
      RETURN_IF_ERROR(Evaluate("valid", data_.valid));
      RETURN_IF_ERROR(DecideEarlyStop(&improved));
      stop = early_.stopped;
      if (improved && epoch_ <= tr.epochs()) RETURN_IF_ERROR(SaveCheckpoint());
    }
  }
  const double seconds = Since(start);
  if (prefetch_rows_) {
    METAPS_LOG(INFO) << "rows pulled ahead of their step: " << rows_pulled_ahead_ << " of "
                     << rows_pulled_ << " ("
                     << (rows_pulled_ > 0 ? 100.0 * rows_pulled_ahead_ / rows_pulled_ : 0.0)
                     << "%)";
  }
  // What was trained, before early stopping goes back to the best step.
  control::Done done;
  done.set_steps(step_);
  done.set_samples(samples_);
  done.set_loss(samples_ > 0 ? loss_sum_ / samples_ : 0);
  done.set_seconds(seconds);
  done.set_read_s(timers_.read);
  done.set_pull_s(timers_.pull);
  done.set_compute_s(timers_.compute);
  done.set_push_s(timers_.push);
  done.set_allreduce_s(timers_.allreduce);
  done.set_run_samples(samples_ - samples_at_start);
  if (early_stop_) RETURN_IF_ERROR(FinishEarlyStop());
  RETURN_IF_ERROR(Evaluate("valid", data_.valid));
  RETURN_IF_ERROR(Evaluate("test", data_.test));
  RETURN_IF_ERROR(
      deps_.scheduler->GatherPayload("train/done", kGroupWorkers, EncodeDone(done)).status());
  if (checkpoints_.mode == TrainerCheckpoints::Mode::kTrial) return Status::Ok();
  const bool save = !checkpoints_.dir.empty() &&
                    checkpoints_.mode == TrainerCheckpoints::Mode::kTrain && !early_stop_;
  return SyncServers(save ? control::ServerSync::END_CHECKPOINT : control::ServerSync::END);
}

Status Trainer::SaveCheckpoint() {
  if (checkpoints_.dir.empty() || last_saved_step_ == step_) return Status::Ok();
  RETURN_IF_ERROR(SyncServers(control::ServerSync::CHECKPOINT));
  last_saved_step_ = step_;
  if (early_stop_ && worker_index_ == 0) RETURN_IF_ERROR(PruneCheckpoints());
  return Status::Ok();
}

namespace {

// "<prefix><digits><suffix>" -> the number; -1 for any other name.
int64_t StepOf(const std::string& name, const std::string& prefix, const std::string& suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return -1;
  }
  const std::string digits =
      name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

Status Trainer::PruneCheckpoints() const {
  // Runs after ps/saved: every server's files and the manifest are written.
  Env* env = Env::Default();
  const std::string& dir = checkpoints_.dir;
  std::vector<std::string> names;
  RETURN_IF_ERROR(env->GetChildren(dir, &names));
  auto keep = [&](int64_t s) { return s == step_ || s == early_.best_step; };
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    if (int64_t s = StepOf(name, "step-", ""); s >= 0 && !keep(s)) {
      std::vector<std::string> files;
      RETURN_IF_ERROR(env->GetChildren(path, &files));
      for (const std::string& f : files) RETURN_IF_ERROR(env->DeleteFile(path + "/" + f));
      RETURN_IF_ERROR(env->DeleteDir(path));
    }
    for (const char* prefix : {"worker-state-", "early-stop-"}) {
      const char* suffix = std::string(prefix) == "worker-state-" ? ".bin" : ".txt";
      if (int64_t s = StepOf(name, prefix, suffix); s >= 0 && !keep(s)) {
        RETURN_IF_ERROR(env->DeleteFile(path));
      }
    }
  }
  return Status::Ok();
}

Status Trainer::DecideEarlyStop(bool* improved) {
  // The epoch the step belongs to (at an epoch's end epoch_ already moved on).
  const int epoch = steps_in_epoch_ == 0 ? epoch_ - 1 : epoch_;
  const std::string name = "early/" + std::to_string(step_);
  ASSIGN_OR_RETURN(Message reply, deps_.scheduler->GatherPayload(name, kGroupWorkers,
                                                                 EncodeEarlyStopReport(epoch)));
  ASSIGN_OR_RETURN(auto answer,
                   DecodeEarlyStopAnswer(reply.header.control().payload(), name + " reply"));
  early_ = answer.second;
  *improved = answer.first == EarlyStopper::Decision::kImproved;
  if (answer.first == EarlyStopper::Decision::kStop) {
    METAPS_LOG(INFO) << "early stop after step " << step_ << ": best step " << early_.best_step
                     << " (epoch " << early_.best_epoch << ")";
  }
  return Status::Ok();
}

Status Trainer::ResumeEarlyStop() {
  // The file holds "<metric> <EarlyStopState>"; the scheduler checks the
  // metric and answers the state to go on with.
  const std::string path = EarlyStopStatePath(checkpoints_.dir, step_);
  Env* env = Env::Default();
  std::string text;
  if (env->FileExists(path)) {
    RETURN_IF_ERROR(env->ReadFileToString(path, &text));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    const size_t space = text.find(' ');
    if (space == std::string::npos) {
      return DataLoss(path + ": not an early-stop state ('" + text + "')");
    }
    RETURN_IF_ERROR(EarlyStopState::Parse(text.substr(space + 1), path).status());
  } else {
    METAPS_LOG(WARNING) << "no " << path << ": early stopping starts afresh at step " << step_;
  }
  std::string payload;
  if (text.empty()) {
    payload = EncodeEarlyStopResume(job_.training().early_stop().metric(), nullptr);
  } else {
    const size_t space = text.find(' ');
    ASSIGN_OR_RETURN(EarlyStopState saved, EarlyStopState::Parse(text.substr(space + 1), path));
    payload = EncodeEarlyStopResume(text.substr(0, space), &saved);
  }
  ASSIGN_OR_RETURN(Message reply,
                   deps_.scheduler->GatherPayload("early/resume", kGroupWorkers, payload));
  ASSIGN_OR_RETURN(EarlyStopResumed resumed,
                   DecodeEarlyStopResume(reply.header.control().payload(), "early/resume reply"));
  if (!resumed.has_state) return ProtocolError("early/resume reply: no state");
  early_ = resumed.state;
  return Status::Ok();
}

Status Trainer::FinishEarlyStop() {
  // The last step is a candidate too, unless a stop request paused the job.
  if (!stop_requested_ && step_ > early_.last_step) {
    bool improved = false;
    RETURN_IF_ERROR(Evaluate("valid", data_.valid));
    RETURN_IF_ERROR(DecideEarlyStop(&improved));
  }
  RETURN_IF_ERROR(SaveCheckpoint());  // the latest, for --resume
  if (!early_.has_best() || early_.best_step == step_) return Status::Ok();
  const int64_t best = early_.best_step;
  const std::string k = std::to_string(sync_round_++);
  RETURN_IF_ERROR(deps_.scheduler
                      ->GatherPayload("ps/sync/" + k, kGroupMembers,
                                      EncodeServerSync(control::ServerSync::RESTORE, best))
                      .status());
  RETURN_IF_ERROR(LoadState(best));
  RETURN_IF_ERROR(deps_.scheduler->Barrier("ps/restored/" + k, kGroupMembers));
  METAPS_LOG(INFO) << "restored the best checkpoint: step " << best << " (epoch "
                   << early_.best_epoch << ")";
  return Status::Ok();
}

}  // namespace metaps
