// `metaps train --config JOB [--data DIR] [--set field=value ...]`: trains a
// job's model across the cluster and prints {"event":"done",...} last.
// `metaps meta-train` (a job with a meta block) meta-learns it across tasks
// and prints the cold-start report ({"event":"meta_eval",...}) before it.
#include <algorithm>
#include <iostream>

#include "common/env.h"
#include "common/job_config.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/ps_messages.h"
#include "common/task_metrics.h"
#include "kernels/cpu/cpu_backend.h"
#include "launch/subcommands.h"
#include "ps/checkpoint.h"
#include "ps/server.h"
#include "ps/server_control.h"
#include "scheduler/meta_job.h"
#include "scheduler/train_job.h"
#include "worker/dataset.h"
#include "worker/meta/meta_trainer.h"
#include "worker/trainer.h"

namespace metaps {

StatusOr<TableSpec> TableSpecFor(const config::TableConfig& c, uint32_t id, const char* name,
                                 int dim) {
  TableSpec t;
  t.id = id;
  t.name = name;
  t.dim = dim;
  if (c.initializer() == "uniform") t.init = InitializerSpec::Uniform(c.init_scale());
  if (c.initializer() == "normal") t.init = InitializerSpec::Normal(c.init_scale());
  t.optimizer = ToOptimizerParams(c.optimizer());
  // The per-example L2 of a row depends on how often the batch uses it: the
  // workers add it to the row's gradient (AddPerExampleL2 in worker/embedding_batch.h), not the
  // servers.
  t.optimizer.weight_decay = 0.0f;
  t.admit_after = c.admit_after();
  t.evict_after_steps = c.evict_after_steps();
  RETURN_IF_ERROR(ValidateTableSpec(t));
  return t;
}

namespace {

int64_t Staleness(const config::ClusterConfig& c) {
  if (c.consistency() == "bsp") return 0;
  if (c.consistency() == "ssp") return c.staleness();
  return -1;
}

}  // namespace

// train, eval and export share everything but what happens after startup.
int RunModelJob(const std::string& command, int argc, char** argv) {
  ClusterOptions cluster;
  std::string config_path, data_dir;
  std::vector<std::string> overrides;
  FlagSet flags(command);
  cluster.Register(&flags);
  flags.String("config", &config_path,
               "job config (protobuf text format), e.g. launch/jobs/*.pbtxt");
  flags.String("data", &data_dir, "data directory: relative data paths and datagen/MovieLens dirs");
  flags.StringList("set", &overrides,
                   "override a config field: --set training.epochs=3 (repeatable)");
  const bool trains = command == "train" || command == "meta-train";
  bool resume = !trains;
  bool resume_if_checkpoint = false;
  std::string checkpoint_flag, export_dir, init_from;
  int64_t checkpoint_step = 0;
  if (command == "train") {
    flags.String("init-from", &init_from,
                 "warm start: a checkpoint directory (another job's output_dir/checkpoints) "
                 "whose weights and optimizer state this job starts from; its data is trained "
                 "from the first epoch and the step count goes on from the checkpoint's");
    flags.Int("init-step", &checkpoint_step, "the --init-from checkpoint's step (0: its latest)", 0,
              INT64_MAX);
  }
  if (trains) {
    flags.Bool("resume", &resume,
               "continue from the latest checkpoint under the job's output_dir/checkpoints");
    flags.Bool("resume-if-checkpoint", &resume_if_checkpoint,
               "resume when output_dir holds a checkpoint, else start from scratch "
               "(how launch/supervise.sh restarts a failed job)");
  } else {
    flags.String("checkpoint", &checkpoint_flag,
                 "checkpoint directory (a job's output_dir/checkpoints)");
    flags.Int("step", &checkpoint_step,
              "the checkpoint's step (0: the latest; the done line's best.step picks the "
              "best of an early-stopped job)",
              0, INT64_MAX);
  }
  if (command == "export") {
    flags.String("out", &export_dir, "directory for server-<i>.emb and dense.bin");
  }
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  const std::string me = "metaps " + command + ": ";
  if (checkpoint_step < 0) {
    std::cerr << me << "--step must be 0 (the latest) or a checkpoint's step\n";
    return 2;
  }
  if (config_path.empty() || (!trains && checkpoint_flag.empty()) ||
      (command == "export" && export_dir.empty())) {
    std::cerr << me << "--config JOB is required" << (trains ? "" : ", and --checkpoint DIR")
              << (command == "export" ? ", and --out DIR" : "") << " (see --help)\n";
    return 2;
  }
  auto loaded = LoadJobConfig(config_path, overrides);
  if (!loaded.ok()) {
    std::cerr << me << loaded.status().message() << "\n";
    return 2;
  }
  const config::JobConfig job = std::move(loaded).value();
  if (job.has_search()) {
    std::cerr << me << config_path
              << ": search { ... } is read by select only (see the README's Model selection); "
                 "`metaps select --plan --out DIR` writes each trial as a job file\n";
    return 2;
  }
  // export serves a meta-learned checkpoint too; train and eval have no meta loop.
  if (command != "export" && (command == "meta-train") != job.has_meta()) {
    std::cerr << me << config_path
              << (job.has_meta() ? ": meta { ... } is read by meta-train only"
                                 : ": meta-train needs a meta { ... } block (see the README's "
                                   "Meta-learning)")
              << "\n";
    return 2;
  }
  // Export reads no data; train and eval check it before any rank starts.
  if (Status data_ok = command == "export" ? Status::Ok() : CheckDataSources(job, data_dir);
      !data_ok.ok()) {
    std::cerr << me << data_ok.message() << "\n";
    return 2;
  }
  if (!flags.WasSet("servers")) cluster.servers = job.cluster().servers();
  auto embedding = TableSpecFor(job.embedding(), 0, "embedding", job.model().embedding_dim());
  auto linear = TableSpecFor(job.linear(), 1, "linear", 1);
  if (!embedding.ok() || !linear.ok()) {
    std::cerr << "metaps train: " << (embedding.ok() ? linear : embedding).status().message()
              << "\n";
    return 2;
  }

  if (trains && (resume || resume_if_checkpoint) && job.output_dir().empty()) {
    std::cerr << me << "--resume needs the job's output_dir (its checkpoints)\n";
    return 2;
  }
  if (!init_from.empty() && resume) {
    std::cerr << me << "--init-from starts a new job from another's checkpoint; --resume goes on "
              << "with this job's own: give one (--resume-if-checkpoint combines them)\n";
    return 2;
  }
  if (init_from.empty() && flags.WasSet("init-step")) {
    std::cerr << me << "--init-step needs --init-from\n";
    return 2;
  }
  const std::string checkpoint_dir = !trains                    ? checkpoint_flag
                                     : job.output_dir().empty() ? ""
                                                                : job.output_dir() + "/checkpoints";
  // The checkpoint to restore must exist before any rank starts (a server that
  // fails to restore would leave the others waiting for it to register).
  if (trains && (resume || resume_if_checkpoint)) {
    const bool have = Env::Default()->FileExists(checkpoint_dir + "/LATEST");
    if (!have && resume) {
      std::cerr << me << "--resume: no checkpoint in " << checkpoint_dir
                << " (no LATEST); train without --resume, or with --resume-if-checkpoint\n";
      return 2;
    }
    if (!have && init_from.empty()) {
      METAPS_LOG(INFO) << "no checkpoint in " << checkpoint_dir << " yet: starting from scratch";
    }
    resume = have;
    // Restarted after a warm start's first checkpoint: this job's own state wins.
    if (have) init_from.clear();
  }
  if (!trains || !init_from.empty()) {
    const std::string& dir = trains ? init_from : checkpoint_flag;
    const std::string wanted =
        checkpoint_step > 0 ? dir + "/step-" + std::to_string(checkpoint_step) : dir + "/LATEST";
    if (!Env::Default()->FileExists(wanted)) {
      std::cerr << me << (trains ? "--init-from " : "--checkpoint ") << dir << ": no "
                << (checkpoint_step > 0 ? "step " + std::to_string(checkpoint_step) : "LATEST")
                << " checkpoint there (" << wanted << " does not exist)\n";
      return 2;
    }
  }
  if (trains && init_from.empty()) checkpoint_step = 0;
  const bool warm_start = !init_from.empty();
  const std::string restore_dir = warm_start ? init_from : checkpoint_dir;
  if (warm_start) resume = true;
  TrainerCheckpoints checkpoints;
  checkpoints.dir = checkpoint_dir;
  checkpoints.resume = resume;
  checkpoints.init_dir = init_from;
  if (command == "eval") checkpoints.mode = TrainerCheckpoints::Mode::kEvaluate;
  if (command == "export") {
    checkpoints.mode = TrainerCheckpoints::Mode::kExport;
    checkpoints.export_dir = export_dir;
  }
  bool scheduler_here = false, done = false;
  JobRoles roles;
  // A BSP request carries a batch's keys for one server, which the wider
  // table must serve in one request (RowsPerChunk(dim) * kMaxFrames); other
  // requests travel in pieces of at most 2 MiB of keys, under the limit's
  // 8 MiB floor.
  roles.server_max_frame_bytes = ServerFrameLimit(std::max(embedding->dim, linear->dim));
  roles.scheduler = [&](RankContext& ctx) -> Status {
    TrainReport report;
    report.model = job.model().family();
    report.output_dir = trains ? job.output_dir() : "";
    report.max_steps =
        command == "meta-train" ? job.meta().outer_steps() : job.training().max_steps();
    if (command == "meta-train") {
      MetaReport meta{report, job.training().seed(), job.meta().tasks_per_step(),
                      job.model().loss() == "logistic"};
      MetaTrainJob driver(ctx.view, meta);
      scheduler_here = true;
      RETURN_IF_ERROR(RunScheduler(ctx, &driver, Staleness(job.cluster())));
      done = driver.done();
      return Status::Ok();
    }
    if (command == "train" && job.training().has_early_stop()) {
      report.early_stop = job.training().early_stop();
    }
    TrainJob train(ctx.view, report);
    scheduler_here = true;
    RETURN_IF_ERROR(RunScheduler(ctx, &train, Staleness(job.cluster())));
    done = train.done();
    return Status::Ok();
  };
  roles.server = [&](RankContext& ctx) -> Status {
    ParameterServer server(ctx.rpc_server, ctx.view);
    RETURN_IF_ERROR(server.AddTable(*embedding, job.training().seed()));
    RETURN_IF_ERROR(server.AddTable(*linear, job.training().seed()));
    if (job.cluster().consistency() == "bsp" && ctx.view.layout.num_workers() > 1) {
      server.EnableBspAggregation(ctx.view.layout.num_workers());
    }
    server.SetClockWindow(ClockWindow::ForStaleness(Staleness(job.cluster())));
    Env* env = Env::Default();
    int64_t restored = 0;
    if (resume) {
      ASSIGN_OR_RETURN(restored, server.RestoreCheckpoint(
                                     env, restore_dir, checkpoint_step > 0 ? checkpoint_step : -1));
    }
    server.Start();
    ServerControlOptions control;
    control.checkpoint_dir = checkpoint_dir;
    control.export_dir = export_dir;
    control.job_name = job.name();
    control.server_index = ctx.view.layout.ServerIndex(ctx.view.my_rank);
    control.resumed = resume;
    control.restored_step = restored;
    return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
      return ServeTrainJobControl(&server, &scheduler, env, control);
    });
  };
  roles.worker = [&](RankContext& ctx) -> Status {
    ServeNothing(ctx);
    ASSIGN_OR_RETURN(TrainerData data, OpenDataSources(job, data_dir));
    // The schema comes from the training data itself.
    ASSIGN_OR_RETURN(auto probe, data.train(ReaderOptions{}));
    auto backend = MakeCpuBackend();
    ASSIGN_OR_RETURN(auto model,
                     CreateModel(ToModelOptions(job.model()), probe->schema(), backend.get()));
    probe.reset();
    PsClient ps(ctx.rpc_client, ctx.view);
    return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
      TrainerDeps deps{&ps, &scheduler, ctx.allreduce, model.get()};
      if (command == "meta-train") {
        MetaTrainer meta(job, data, deps, ctx.view.layout.WorkerIndex(ctx.view.my_rank),
                         ctx.view.layout.num_workers(), checkpoints);
        return meta.Run();
      }
      Trainer trainer(job, data, deps, ctx.view.layout.WorkerIndex(ctx.view.my_rank),
                      ctx.view.layout.num_workers(), checkpoints);
      return trainer.Run();
    });
  };
  const int code = RunJob(cluster, roles);
  if (code != 0) return code;
  if (command == "export") {
    if (scheduler_here) {
      std::cout << JsonText({{"event", "export"},
                             {"out", export_dir},
                             {"servers", cluster.servers},
                             {"files", "server-<i>.emb (keys, values), dense.bin"}})
                << std::endl;
    }
    return 0;
  }
  return scheduler_here && !done ? 1 : 0;
}

int TrainCommand(int argc, char** argv) { return RunModelJob("train", argc, argv); }
int EvalCommand(int argc, char** argv) { return RunModelJob("eval", argc, argv); }
int ExportCommand(int argc, char** argv) { return RunModelJob("export", argc, argv); }
int MetaTrainCommand(int argc, char** argv) { return RunModelJob("meta-train", argc, argv); }

namespace {

StatusOr<Batch> ReadAll(const ReaderFactory& open, const std::string& file, BatchSchema* schema) {
  ReaderOptions o;
  o.batch_size = 4096;
  o.max_bad_fraction = 0;  // one user's ratings: every line counts
  ASSIGN_OR_RETURN(auto reader, open(o));
  *schema = reader->schema();
  Batch all;
  all.Reset(*schema);
  RETURN_IF_ERROR(AppendAll(reader.get(), &all));
  if (all.size() == 0) return InvalidArgument(file + ": no examples");
  return all;
}

Status AdaptToTask(const config::JobConfig& job, const std::string& data_dir,
                   const std::string& checkpoint_dir, int64_t step, const std::string& support_file,
                   const std::string& query_file, const std::string& out_dir) {
  Env* env = Env::Default();
  // The checkpoint's tables, all shards in one process (no cluster).
  ASSIGN_OR_RETURN(Manifest manifest, step > 0 ? ReadManifestAtStep(env, checkpoint_dir, step)
                                               : ReadManifest(env, checkpoint_dir));
  ASSIGN_OR_RETURN(TableSpec emb_spec,
                   TableSpecFor(job.embedding(), 0, "embedding", job.model().embedding_dim()));
  ASSIGN_OR_RETURN(TableSpec lin_spec, TableSpecFor(job.linear(), 1, "linear", 1));
  const uint64_t seed = job.training().seed();
  ASSIGN_OR_RETURN(auto emb_table, EmbeddingTable::Create(emb_spec, seed));
  ASSIGN_OR_RETURN(auto lin_table, EmbeddingTable::Create(lin_spec, seed));
  RETURN_IF_ERROR(
      LoadShardsInto(env, checkpoint_dir, manifest, 0, 1, {emb_table.get(), lin_table.get()}));
  // The support (and query) examples, support first.
  ASSIGN_OR_RETURN(ReaderFactory support_reader, OpenRatingsFile(job, data_dir, support_file));
  BatchSchema schema;
  ASSIGN_OR_RETURN(Batch data, ReadAll(support_reader, support_file, &schema));
  const size_t support = data.size();
  if (!query_file.empty()) {
    ASSIGN_OR_RETURN(ReaderFactory query_reader, OpenRatingsFile(job, data_dir, query_file));
    BatchSchema query_schema;
    ASSIGN_OR_RETURN(Batch query, ReadAll(query_reader, query_file, &query_schema));
    data.AppendRange(query, 0, query.size());
  }
  auto backend = MakeCpuBackend();
  ASSIGN_OR_RETURN(auto model, CreateModel(ToModelOptions(job.model()), schema, backend.get()));
  const size_t n_dense = model->num_dense();
  const OptimizerParams dense_optimizer = ToOptimizerParams(job.dense_optimizer());
  ASSIGN_OR_RETURN(WorkerState state,
                   ReadWorkerState(env, WorkerStatePath(checkpoint_dir, manifest.step),
                                   n_dense + static_cast<size_t>(OptimizerStateFloats(
                                                 dense_optimizer.kind, static_cast<int>(n_dense))),
                                   manifest.step));
  const std::vector<float> dense(state.dense_row.begin(),
                                 state.dense_row.begin() + static_cast<ptrdiff_t>(n_dense));
  const auto& meta = job.meta();
  // One task: every example has the same user (or item) id.
  const bool by_user = meta.task_by() == "user";
  const std::vector<uint64_t>& ids = by_user ? data.user_ids : data.item_ids;
  for (size_t i = 1; i < data.size(); ++i) {
    if (ids[i] != ids[0]) {
      return InvalidArgument((i < support ? support_file : query_file) + ": " + meta.task_by() +
                             " " + std::to_string(ids[i]) + " in a task of " + meta.task_by() +
                             " " + std::to_string(ids[0]) + " (adapt takes one task)");
    }
  }
  // In time order, as meta-train orders a task's examples (ties: file order).
  std::vector<uint32_t> support_positions, query_positions;
  for (size_t i = 0; i < data.size(); ++i) {
    (i < support ? support_positions : query_positions).push_back(static_cast<uint32_t>(i));
  }
  for (auto* positions : {&support_positions, &query_positions}) {
    std::stable_sort(positions->begin(), positions->end(), [&data](uint32_t a, uint32_t b) {
      return data.timestamps[a] < data.timestamps[b];
    });
  }
  const int task_slot = schema.SlotIndex(meta.task_by());
  if (task_slot < 0 && meta.adapt() == "dense_and_task_row") {
    return InvalidArgument(support_file + ": meta.adapt dense_and_task_row needs a '" +
                           meta.task_by() + "' slot, and the data has none");
  }
  TaskBatch task;
  EmbeddingBatchBuilder builder;
  task.Build(data, schema, support_positions, query_positions, task_slot, meta.shared_task_row(),
             SharedTaskKey(task_slot), job.model().embedding_dim(), model.get(), &builder);
  // Rows as a read-only pull reads them: a key without a row is its initial value.
  EmbeddingTable* tables[2] = {emb_table.get(), lin_table.get()};
  for (TableRows& t : task.emb.tables) {
    RETURN_IF_ERROR(tables[t.table_id]->Peek(t.keys.data(), t.keys.size(), t.rows.data()));
  }
  InnerLoop loop;
  loop.steps = meta.inner_steps();
  loop.lr = meta.inner_lr();
  ASSIGN_OR_RETURN(loop.scope, ParseAdaptScope(meta.adapt()));
  const bool logistic = job.model().loss() == "logistic";
  std::vector<float> adapted_dense;
  ASSIGN_OR_RETURN(TaskScores scores,
                   ScoreTask(model.get(), &task, loop, dense, logistic, &adapted_dense));
  // The adapted rows of the task's keys and the adapted dense weights, in the
  // export format (ps/checkpoint.h, dense.bin as `metaps export` writes it).
  // With meta.shared_task_row the task's row was adapted from the shared key:
  // it is written under the task's own key, where serving looks it up.
  const bool shared = task_slot >= 0 && meta.shared_task_row();
  const uint64_t own_key = shared && !data.slots[static_cast<size_t>(task_slot)].keys.empty()
                               ? data.slots[static_cast<size_t>(task_slot)].keys[0]
                               : 0;
  auto out_key = [&](uint64_t key) {
    return shared && key == SharedTaskKey(task_slot) ? own_key : key;
  };
  RETURN_IF_ERROR(env->CreateDir(out_dir));
  std::vector<ExportedTable> out;
  for (const TableRows& t : task.emb.tables) {
    ExportedTable e;
    e.id = t.table_id;
    e.name = t.table_id == 0 ? "embedding" : "linear";
    e.dim = t.dim;
    std::vector<size_t> order(t.keys.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return out_key(t.keys[a]) < out_key(t.keys[b]); });
    for (size_t i : order) {
      e.keys.push_back(out_key(t.keys[i]));
      e.values.insert(e.values.end(), t.rows.begin() + static_cast<ptrdiff_t>(i * t.dim),
                      t.rows.begin() + static_cast<ptrdiff_t>((i + 1) * t.dim));
    }
    out.push_back(std::move(e));
  }
  RETURN_IF_ERROR(WriteExportedEmbeddings(env, out_dir + "/adapted.emb", out));
  RETURN_IF_ERROR(
      WriteDenseFile(env, out_dir + "/dense.bin", adapted_dense.data(), adapted_dense.size()));
  OrderedJson line = {{"event", "adapt"},
                      {"step", manifest.step},
                      {"support", support},
                      {"query", data.size() - support},
                      {"rows", task.emb.tables[0].keys.size()}};
  if (!query_file.empty()) {
    line["before"] = TaskMetricsJson(scores.before);
    line["adapted"] = TaskMetricsJson(scores.adapted);
  }
  line["out"] = out_dir;
  std::cout << JsonText(line) << std::endl;
  return Status::Ok();
}

}  // namespace

int AdaptCommand(int argc, char** argv) {
  std::string config_path, data_dir, checkpoint_dir, support, query, out;
  std::vector<std::string> overrides;
  int64_t step = 0;
  FlagSet flags("adapt");
  flags.String("config", &config_path, "the meta-train job config (with its meta block)");
  flags.String("data", &data_dir, "the job's data directory (side files: users, movies)");
  flags.StringList("set", &overrides, "override a config field (repeatable)");
  flags.String("checkpoint", &checkpoint_dir, "the meta-train job's output_dir/checkpoints");
  flags.Int("step", &step, "the checkpoint's step (0: the latest)", 0, INT64_MAX);
  flags.String("support", &support,
               "the new task's examples, in the layout of the job's ratings file");
  flags.String("query", &query,
               "optional: examples to score before and after adapting (printed as metrics)");
  flags.String("out", &out, "directory for adapted.emb (the task's rows) and dense.bin");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (config_path.empty() || checkpoint_dir.empty() || support.empty() || out.empty()) {
    std::cerr << "metaps adapt: --config, --checkpoint, --support and --out are required\n";
    return 2;
  }
  auto job = LoadJobConfig(config_path, overrides);
  if (!job.ok()) {
    std::cerr << "metaps adapt: " << job.status().message() << "\n";
    return 2;
  }
  if (!job->has_meta()) {
    std::cerr << "metaps adapt: " << config_path << " has no meta block (adapt a meta-train job)\n";
    return 2;
  }
  Status s = AdaptToTask(*job, data_dir, checkpoint_dir, step, support, query, out);
  if (!s.ok()) {
    std::cerr << "metaps adapt: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
  }
  return 0;
}

}  // namespace metaps
