// `metaps select`: a study over a job's search space (common/search_space.h),
// its worker time allocated by successive halving (scheduler/halving.h). Each
// rung of a trial runs as a train job through a launcher, from the trial's own
// checkpoint; the study's state is saved after every decision, so `--resume`
// after a kill goes on with the decisions made.
//
// The study directory:
//   study.json                 the halving state and every rung's result (atomic)
//   trials/trial-<k>.pbtxt     each trial as a job file
//   runs/trial-<k>/            each trial's output_dir (checkpoints, metrics.jsonl),
//                              and its jobs' stdout and logs
//   best.pbtxt                 the best trial's job file (a runnable job)
//   best-model/                the best trial's checkpoint exported for serving
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

struct SelectOptions {
  std::string config;  // the job with its search block
  std::vector<std::string> overrides;
  std::string data_dir;
  std::string out;  // the study directory
  // Words before the subcommand (e.g. "launch/local.sh 1 2 --"); empty: this
  // binary with every role as a thread (--servers, --workers).
  std::string launcher;
  int servers = 1, workers = 1;  // for the in-process default and steps per sample
  bool resume = false;
  // A previous study's directory: its best ceil(trials / eta) trials enter
  // this study's first rung, ahead of the search's own (e.g. a retraining
  // pipeline re-selecting on new data).
  std::string warm_start;
  std::string self_binary;  // this binary, for the children
};

// Runs (or resumes) the study; returns the exit code: 0 done, 1 a job or the
// state failed, 2 a usage error.
int RunSelect(const SelectOptions& options);

// The steps a trial of `batch_size` examples per worker step on `workers`
// workers needs to have seen `samples` examples: ceil(samples / (batch * workers)).
int64_t StepsForSamples(int64_t samples, int batch_size, int workers);

}  // namespace metaps
