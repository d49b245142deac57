// The server's side of the train job's control protocol: after start-up a
// server serves pulls and pushes, and meets the workers in gathers
// "ps/sync/<k>" whose typed ServerSync says what to do next (checkpoint the
// step, restore a step into the running tables, write the serving export,
// end). With a restored checkpoint it first reports the step ("ps/resume").
#pragma once

#include <cstdint>
#include <string>

#include "common/env.h"
#include "common/scheduler_client.h"
#include "ps/server.h"

namespace metaps {

struct ServerControlOptions {
  std::string checkpoint_dir;  // where checkpoints are saved and restored
  std::string export_dir;      // END_EXPORT writes server-<index>.emb here
  std::string job_name;        // recorded in the manifest
  int server_index = 0;
  bool resumed = false;  // report restored_step in "ps/resume" first
  int64_t restored_step = 0;
};

// Returns when the workers end the job, or with the first error (a malformed
// ServerSync is a ProtocolError naming the gather).
Status ServeTrainJobControl(ParameterServer* server, SchedulerClient* scheduler, Env* env,
                            const ServerControlOptions& options);

}  // namespace metaps
