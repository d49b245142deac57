// The subcommands of the metaps binary. Each parses its own flags and returns
// the process exit code (0 success, 1 job failure, 2 usage error).
#pragma once

#include "common/flags.h"
#include "common/proto/job.pb.h"
#include "launch/cluster_runner.h"
#include "ps/table_spec.h"
#include "scheduler/scheduler.h"

namespace metaps {

int PingCommand(int argc, char** argv);
int KeygenCommand(int argc, char** argv);
int BenchPsCommand(int argc, char** argv);
int TrainCommand(int argc, char** argv);
int EvalCommand(int argc, char** argv);
int ExportCommand(int argc, char** argv);
int MetaTrainCommand(int argc, char** argv);
int AdaptCommand(int argc, char** argv);
int DatagenCommand(int argc, char** argv);
int RetrainCommand(int argc, char** argv);
int SelectCommand(int argc, char** argv);
int ScaleCommand(int argc, char** argv);

// Helpers shared by the subcommands.
// Parses argv[2..]; returns -1 to go on, or the exit code to return now
// (0 after printing --help, 2 after a usage error).
int ParseSubcommandFlags(FlagSet& flags, int argc, char** argv);
// Runs the scheduler role with `driver` until the job ends. `staleness` is the
// consistency of worker clocks (0 BSP, > 0 SSP, < 0 ASP).
Status RunScheduler(RankContext& ctx, JobDriver* driver, int64_t staleness = -1);
// Starts a worker's service socket answering every request with an error.
void ServeNothing(RankContext& ctx);
// A job's table `id` ("embedding" 0, "linear" 1) as the servers hold it.
StatusOr<TableSpec> TableSpecFor(const config::TableConfig& c, uint32_t id, const char* name,
                                 int dim);

}  // namespace metaps
