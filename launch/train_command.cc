// `metaps train --config JOB [--data DIR] [--set field=value ...]`: trains a
// job's model across the cluster and prints {"event":"done",...} last.
// `metaps meta-train` (a job with a meta block) meta-learns it across tasks
// and prints the cold-start report ({"event":"meta_eval",...}) before it.
#include <algorithm>
#include <iostream>

#include "common/env.h"
#include "common/job_config.h"
#include "common/logging.h"
#include "common/ps_messages.h"
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
namespace {

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
  bool resume = command != "train" && command != "meta-train";
  bool resume_if_checkpoint = false;
  std::string checkpoint_flag, export_dir;
  int64_t checkpoint_step = 0;
  if (command == "train") {
    flags.Bool("resume", &resume,
               "continue from the latest checkpoint under the job's output_dir/checkpoints");
    flags.Bool("resume-if-checkpoint", &resume_if_checkpoint,
               "resume when output_dir holds a checkpoint, else start from scratch "
               "(how launch/supervise.sh restarts a failed job)");
  } else if (command != "meta-train") {
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
  const bool trains = command == "train" || command == "meta-train";
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
  if ((command == "meta-train") != job.has_meta()) {
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

  if (command == "train" && (resume || resume_if_checkpoint) && job.output_dir().empty()) {
    std::cerr << me << "--resume needs the job's output_dir (its checkpoints)\n";
    return 2;
  }
  const std::string checkpoint_dir = command == "meta-train"    ? ""
                                     : command != "train"       ? checkpoint_flag
                                     : job.output_dir().empty() ? ""
                                                                : job.output_dir() + "/checkpoints";
  // The checkpoint to restore must exist before any rank starts (a server that
  // fails to restore would leave the others waiting for it to register).
  if (command == "train" && (resume || resume_if_checkpoint)) {
    const bool have = Env::Default()->FileExists(checkpoint_dir + "/LATEST");
    if (!have && resume) {
      std::cerr << me << "--resume: no checkpoint in " << checkpoint_dir
                << " (no LATEST); train without --resume, or with --resume-if-checkpoint\n";
      return 2;
    }
    if (!have) {
      METAPS_LOG(INFO) << "no checkpoint in " << checkpoint_dir << " yet: starting from scratch";
    }
    resume = have;
  } else if (!trains) {
    const std::string wanted = checkpoint_step > 0
                                   ? checkpoint_dir + "/step-" + std::to_string(checkpoint_step)
                                   : checkpoint_dir + "/LATEST";
    if (!Env::Default()->FileExists(wanted)) {
      std::cerr << me << "--checkpoint " << checkpoint_dir << ": no "
                << (checkpoint_step > 0 ? "step " + std::to_string(checkpoint_step) : "LATEST")
                << " checkpoint there (" << wanted << " does not exist)\n";
      return 2;
    }
  }
  TrainerCheckpoints checkpoints;
  checkpoints.dir = checkpoint_dir;
  checkpoints.resume = resume;
  if (command == "eval") checkpoints.mode = TrainerCheckpoints::Mode::kEvaluate;
  if (command == "export") {
    checkpoints.mode = TrainerCheckpoints::Mode::kExport;
    checkpoints.export_dir = export_dir;
  }
  bool scheduler_here = false, done = false;
  JobRoles roles;
  // Every request carries the same keys to both tables, so no legitimate
  // keys frame exceeds what the wider table serves in one request.
  roles.server_max_frame_bytes = ServerFrameLimit(std::max(embedding->dim, linear->dim));
  roles.scheduler = [&](RankContext& ctx) -> Status {
    TrainReport report{
        job.model().family(), trains ? job.output_dir() : "",
        command == "meta-train" ? job.meta().outer_steps() : job.training().max_steps(),
        std::nullopt};
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
      ASSIGN_OR_RETURN(restored,
                       server.RestoreCheckpoint(env, checkpoint_dir,
                                                checkpoint_step > 0 ? checkpoint_step : -1));
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
                         ctx.view.layout.num_workers());
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
      std::cout << "{\"event\":\"export\",\"out\":\"" << export_dir
                << "\",\"servers\":" << cluster.servers
                << ",\"files\":\"server-<i>.emb (keys, values), dense.bin\"}" << std::endl;
    }
    return 0;
  }
  return scheduler_here && !done ? 1 : 0;
}

int TrainCommand(int argc, char** argv) { return RunModelJob("train", argc, argv); }
int EvalCommand(int argc, char** argv) { return RunModelJob("eval", argc, argv); }
int ExportCommand(int argc, char** argv) { return RunModelJob("export", argc, argv); }
int MetaTrainCommand(int argc, char** argv) { return RunModelJob("meta-train", argc, argv); }

}  // namespace metaps
