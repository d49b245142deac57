// A cluster job started by a single-process driver (`metaps retrain`,
// `metaps select`): a metaps subcommand run through a launcher such as
// launch/local.sh as a child process, its stdout and log in files, and its
// last JSON event line read back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace metaps {

struct ClusterJobLauncher {
  // Words before the subcommand, e.g. "launch/local.sh 1 2 --"; empty: this
  // binary runs every role as a thread, with `in_process_args` after the
  // subcommand (e.g. --servers 1 --workers 1).
  std::string launcher;
  std::string self_binary;  // also passed on as METAPS_BIN
  std::vector<std::string> in_process_args;
};

// This binary's absolute path (/proc/self/exe), to start the cluster jobs
// with the very build that drives them; Internal when it cannot be found.
StatusOr<std::string> SelfBinaryPath();

// Runs `subcommand args...`, with stdout in dir/<name>.stdout.txt and stderr
// in dir/<name>.log.txt (dir is created), and returns its last
// {"event":"<event>"} line (event: "export" for export, else "done").
// Internal naming the exit status and the log when the job fails.
StatusOr<nlohmann::json> RunClusterJob(const ClusterJobLauncher& launcher,
                                       const std::string& subcommand,
                                       const std::vector<std::string>& args, const std::string& dir,
                                       const std::string& name);

// The last {"event":"<event>",...} line of a job's stdout, parsed; NotFound
// when there is none, naming the file.
StatusOr<nlohmann::json> ReadEventLine(Env* env, const std::string& stdout_path,
                                       const std::string& event);

}  // namespace metaps
