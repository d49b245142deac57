// `metaps bench-ps`: parameter-server throughput under a real cluster.
#include <iostream>

#include "common/control.h"
#include "common/env.h"
#include "common/logging.h"
#include "common/ps_messages.h"
#include "launch/cluster_runner.h"
#include "launch/subcommands.h"
#include "ps/checkpoint.h"
#include "ps/server.h"
#include "scheduler/bench_ps_job.h"
#include "worker/bench_ps_task.h"

namespace metaps {

int BenchPsCommand(int argc, char** argv) {
  ClusterOptions cluster;
  int64_t keys = 65536, dim = 64, steps = 0, seed = 1, key_space = 10000000;
  std::string dist = "zipf", optimizer = "adagrad", export_dir;
  double zipf_s = 1.1, seconds = 10, warmup = 2, lr = 0.01;
  FlagSet flags("bench-ps");
  cluster.Register(&flags);
  flags.Int("keys", &keys, "keys per request", 1, INT32_MAX);
  flags.Int("dim", &dim, "embedding dimension", 1, 65536);
  flags.String("dist", &dist, "key distribution: zipf or uniform");
  flags.Double("zipf-s", &zipf_s, "Zipf exponent", 0.001, 100);
  flags.Int("key-space", &key_space, "distinct ids the keys are drawn from", 1, INT64_MAX);
  flags.Double("seconds", &seconds, "measured time per worker", 0.001, 1e6);
  flags.Double("warmup-seconds", &warmup, "unmeasured warm-up before it", 0, 1e6);
  flags.String("optimizer", &optimizer, "server-side optimizer: sgd, adagrad, adam, ftrl");
  flags.Double("lr", &lr, "learning rate of the server optimizer", 0, 1e6);
  flags.Int("steps", &steps,
            "run exactly this many pull+push steps with exact integer gradients instead of "
            "--seconds (for verification)",
            0, INT64_MAX);
  flags.Int("seed", &seed, "seed of the key streams and the row initializer");
  flags.String("export-dir", &export_dir,
               "each server exports its shard of the table here when the run ends");
  bool plan_per_call = false;
  flags.Bool("plan-per-call", &plan_per_call,
             "dedup and slice the keys in Push too (default: a step's Pull and Push share "
             "one KeyPlan, made inside the timed pull, as a training step dedups its batch's "
             "keys once for both)");
  std::string checkpoint_dir, restore_dir;
  int64_t admit_after = 0, evict_after = 0;
  flags.Int("admit-after", &admit_after,
            "create a row only once this many training pulls asked for a key", 0, INT32_MAX);
  flags.Int("evict-after-steps", &evict_after,
            "evict rows not pushed for this many steps (0 = never)", 0, INT64_MAX);
  flags.String("checkpoint-dir", &checkpoint_dir,
               "write a checkpoint here when the run ends (step = restored step + --steps)");
  flags.String("restore", &restore_dir,
               "start from the latest checkpoint under this directory (any server count)");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;

  BenchPsOptions options;
  TableSpec table;
  table.id = 0;
  table.name = "bench";
  table.dim = static_cast<int>(dim);
  options.workload.zipf_s = zipf_s;
  options.seconds = seconds;
  options.warmup_seconds = warmup;
  table.optimizer.lr = static_cast<float>(lr);
  auto parsed_dist = ParseKeyDistribution(dist);
  if (!parsed_dist.ok() || !ParseOptimizerKind(optimizer, &table.optimizer.kind) || keys < 1 ||
      key_space < 1 || steps < 0 || options.seconds <= 0) {
    std::cerr << "metaps bench-ps: "
              << (!parsed_dist.ok() ? parsed_dist.status().message()
                                    : "--optimizer must be sgd, adagrad, adam or ftrl; --keys, "
                                      "--key-space positive; --steps not negative")
              << "\n";
    return 2;
  }
  table.admit_after = static_cast<int>(admit_after);
  table.evict_after_steps = evict_after;
  if (Status s = ValidateTableSpec(table); !s.ok()) {
    std::cerr << "metaps bench-ps: " << s.message() << "\n";
    return 2;
  }
  options.workload.dist = *parsed_dist;
  options.workload.seed = static_cast<uint64_t>(seed);
  options.workload.key_space = static_cast<uint64_t>(key_space);
  options.workload.keys_per_request = static_cast<size_t>(keys);
  options.dim = static_cast<int>(dim);
  options.steps = steps;
  options.shared_plan = !plan_per_call;

  bool scheduler_here = false, reported = false;
  JobRoles roles;
  roles.server_max_frame_bytes = ServerFrameLimit(table.dim);
  roles.scheduler = [&](RankContext& ctx) -> Status {
    BenchPsReport report{table.dim, options.workload.keys_per_request,
                         optimizer, dist,
                         ctx.curve, options.shared_plan};
    report.data_plane = !ctx.curve                         ? "plaintext"
                        : ctx.transport->aead_data_plane() ? "aead"
                                                           : "curve";
    BenchPsJob job(ctx.view, report);
    scheduler_here = true;
    RETURN_IF_ERROR(RunScheduler(ctx, &job));
    reported = job.reported();
    return Status::Ok();
  };
  roles.server = [&](RankContext& ctx) -> Status {
    ParameterServer server(ctx.rpc_server, ctx.view);
    RETURN_IF_ERROR(server.AddTable(table, static_cast<uint64_t>(seed)));
    Env* env = Env::Default();
    int64_t restored_step = 0;
    if (!restore_dir.empty()) {
      ASSIGN_OR_RETURN(restored_step, server.RestoreCheckpoint(env, restore_dir));
    }
    server.Start();
    return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
      // Returns once every worker has finished pushing.
      RETURN_IF_ERROR(scheduler.Barrier("ps/quiesce", kGroupMembers));
      if (!checkpoint_dir.empty()) {
        RETURN_IF_ERROR(server.SaveCheckpoint(env, &scheduler, checkpoint_dir,
                                              restored_step + steps, "bench-ps"));
      }
      TableStats t = server.tables()[0]->stats();
      control::TableCounts counts;
      counts.set_rows(static_cast<int64_t>(t.rows));
      counts.set_admitted(static_cast<int64_t>(t.admitted));
      counts.set_pending_admission(static_cast<int64_t>(t.pending_admission));
      counts.set_evicted(static_cast<int64_t>(t.evicted));
      RETURN_IF_ERROR(
          scheduler.GatherPayload("bench-ps/tables", kGroupServers, EncodeTableCounts(counts))
              .status());
      if (export_dir.empty()) return Status::Ok();
      RETURN_IF_ERROR(env->CreateDir(export_dir));
      const int index = ctx.view.layout.ServerIndex(ctx.view.my_rank);
      return ExportEmbeddings(env, export_dir + "/server-" + std::to_string(index) + ".emb",
                              server.tables());
    });
  };
  roles.worker = [&](RankContext& ctx) -> Status {
    ServeNothing(ctx);
    PsClient ps(ctx.rpc_client, ctx.view);
    ps.AddTable(table.id, table.dim);
    return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
      ASSIGN_OR_RETURN(BenchPsResult r,
                       RunBenchPs(&ps, ctx.view.layout.WorkerIndex(ctx.view.my_rank), options));
      control::BenchPsResult result;
      result.set_pull_rows(r.pull_rows);
      result.set_push_rows(r.push_rows);
      result.set_pull_s(r.pull_seconds);
      result.set_push_s(r.push_seconds);
      *result.mutable_pull_ms() = {r.pull_ms.begin(), r.pull_ms.end()};
      *result.mutable_push_ms() = {r.push_ms.begin(), r.push_ms.end()};
      // A frame, not the header's payload: one latency per request can
      // outgrow the header limit on a long run.
      std::vector<zmq::message_t> frames;
      frames.emplace_back(EncodeBenchPsResult(result));
      RETURN_IF_ERROR(
          scheduler.Gather("bench-ps/result", kGroupWorkers, "", std::move(frames)).status());
      return scheduler.Barrier("ps/quiesce", kGroupMembers);
    });
  };
  const int code = RunJob(cluster, roles);
  if (code != 0) return code;
  return scheduler_here && !reported ? 1 : 0;
}

}  // namespace metaps
