#include "launch/subcommands.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "common/control.h"
#include "common/curve_keys.h"
#include "common/json.h"
#include "common/logging.h"
#include "launch/cluster_runner.h"
#include "ps/server.h"
#include "scheduler/ping_job.h"
#include "scheduler/scheduler.h"
#include "worker/ping_task.h"

namespace metaps {
int ParseSubcommandFlags(FlagSet& flags, int argc, char** argv) {
  Status s = flags.Parse(argc, argv, 2);
  if (s.ok()) return -1;
  if (s.code() == StatusCode::kNotFound) {
    std::cout << flags.Usage();
    return 0;
  }
  std::cerr << s.message() << "\n";
  return 2;
}

Status RunScheduler(RankContext& ctx, JobDriver* driver, int64_t staleness) {
  SchedulerOptions options;
  options.heartbeat_timeout = std::chrono::milliseconds(ctx.options->heartbeat_timeout_ms);
  options.cluster_file = ctx.options->cluster_file;
  options.stop_requested = StopRequested;
  options.member_failed = InProcessRankFailure;
  options.staleness = staleness;
  Scheduler scheduler(ctx.rpc_server, ctx.view, driver, options);
  return scheduler.Run();
}

void ServeNothing(RankContext& ctx) {
  ctx.rpc_server->Start([&ctx](const PeerAddress& from, Message m) {
    ctx.rpc_server->Reply(from, MakeReply(m.header, ctx.view.my_rank,
                                          InvalidArgument("this worker serves no requests")));
  });
}

namespace {

// A server that serves until the job shuts down.
Status ServeUntilShutdown(RankContext& ctx) {
  ParameterServer server(ctx.rpc_server, ctx.view);
  server.Start();
  return RunMember(ctx, [](SchedulerClient&) { return Status::Ok(); });
}

}  // namespace

int PingCommand(int argc, char** argv) {
  ClusterOptions cluster;
  int64_t rtt_samples = 100, bytes = 4 << 20, messages = 16, repeat = 1, interval_ms = 0;
  FlagSet flags("ping");
  cluster.Register(&flags);
  flags.Int("samples", &rtt_samples, "64-byte round trips per worker-server pair", 1, 10000000);
  flags.Int("bytes", &bytes, "payload of one bandwidth message", 1, int64_t{1} << 30);
  flags.Int("messages", &messages, "bandwidth messages per pair", 1, 1000000000);
  flags.Int("repeat", &repeat, "rounds to run; 0 = until SIGINT/SIGTERM to the scheduler", 0,
            INT32_MAX);
  flags.Int("interval-ms", &interval_ms, "pause between rounds", 0, 3600000);
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (rtt_samples < 1 || bytes < 1 || messages < 1 || repeat < 0 || interval_ms < 0) {
    std::cerr << "metaps ping: --samples, --bytes and --messages must be positive, --repeat "
                 "and --interval-ms not negative\n";
    return 2;
  }

  bool scheduler_here = false, all_answered = false;
  JobRoles roles;
  roles.scheduler = [&](RankContext& ctx) -> Status {
    PingJobOptions options;
    options.repeat = static_cast<int>(repeat);
    options.curve = ctx.curve;
    PingJob job(ctx.view, options);
    scheduler_here = true;
    RETURN_IF_ERROR(RunScheduler(ctx, &job));
    all_answered = job.all_answered();
    return Status::Ok();
  };
  roles.server = ServeUntilShutdown;
  roles.worker = [&](RankContext& ctx) -> Status {
    ServeNothing(ctx);
    PingOptions options;
    options.rtt_samples = static_cast<int>(rtt_samples);
    options.bandwidth_bytes = static_cast<size_t>(bytes);
    options.bandwidth_messages = static_cast<int>(messages);
    auto payload = std::make_shared<const std::vector<char>>(options.bandwidth_bytes, 'm');
    return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
      for (int round = 1;; ++round) {
        PingRound result = PingServers(ctx.rpc_client, ctx.view, options, payload);
        std::vector<zmq::message_t> frames;
        // A frame, not the header's payload: --rtt-samples can make it large.
        frames.emplace_back(EncodePingReport(std::move(result.report)));
        ASSIGN_OR_RETURN(Message decision, scheduler.Gather("ping/" + std::to_string(round),
                                                            kGroupWorkers, "", std::move(frames)));
        if (decision.header.control().value() == 0) return Status::Ok();
        if (interval_ms > 0) {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(interval_ms));  // pacing, by request
        }
      }
    });
  };
  const int code = RunJob(cluster, roles);
  if (code != 0) return code;
  // Only the scheduler's process knows the verdict; members exit 0.
  return scheduler_here && !all_answered ? 1 : 0;
}

int KeygenCommand(int argc, char** argv) {
  std::string out;
  FlagSet flags("keygen");
  flags.String("out", &out, "directory to write metaps.pub and metaps.key into");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (out.empty()) {
    std::cerr << "metaps keygen: --out DIR is required\n";
    return 2;
  }
  auto keys = GenerateCurveKeyPair();
  Status s = keys.ok() ? WriteKeyPair(out, *keys) : keys.status();
  if (!s.ok()) {
    std::cerr << "metaps keygen: " << s.message() << "\n";
    return 1;
  }
  std::cout << JsonText(
                   {{"event", "keygen"}, {"public_key", Z85Encode(keys->public_key)}, {"dir", out}})
            << std::endl;
  return 0;
}

}  // namespace metaps
