// A model-selection study (README "Model selection"): its trials (the search
// space of a job, common/search_space.h), the allocation of worker time by
// successive halving (scheduler/halving.h), every rung's result, and the
// study directory. How a rung is run is the caller's: a train job per rung
// through a launcher (launch/select.h), or a worker group of one shared
// cluster (launch/study_cluster.h). The state is saved after every decision,
// so `--resume` after a kill goes on with the decisions made.
//
// The study directory:
//   study.json                 the halving state and every rung's result (atomic)
//   trials/trial-<k>.pbtxt     each trial as a job file
//   runs/trial-<k>/            each trial's output_dir (metrics.jsonl; with a
//                              launcher also its checkpoints, stdout and logs)
//   best.pbtxt                 the best trial's job file (a runnable job)
//   best-model/                the best trial exported for serving
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/proto/job.pb.h"
#include "common/search_space.h"
#include "common/status.h"
#include "launch/select.h"
#include "scheduler/halving.h"

namespace metaps {

// A rung's result as study.json keeps it.
struct RungResult {
  int trial = 0, rung = 0;
  int64_t samples = 0, steps = 0;
  double value = NAN;
  nlohmann::json valid;  // the done line's valid split
  double seconds = 0;
};

class Study {
 public:
  // Opens the study in o.out: a new one (its trials from the search, after a
  // --warm-start study's best), or with o.resume the saved one. Writes the
  // trials' job files. InvalidArgument for what the user must change.
  static StatusOr<std::unique_ptr<Study>> Open(const SelectOptions& o);

  Status Save() const;
  // The rungs a kill interrupted (trials the saved state marks running):
  // run them first.
  std::vector<SuccessiveHalving::Work> Interrupted() const;
  // What a free worker group does next (SuccessiveHalving::Next); save before acting on it.
  SuccessiveHalving::Work Next() { return h_.Next(); }
  // A rung's outcome: the trial's done line (its "valid" object and
  // "train_loss"), or why it failed. A diverged trial ranks last.
  // InvalidArgument when the job has no validation split or no such metric.
  Status Record(const SuccessiveHalving::Work& w, int64_t steps,
                const StatusOr<nlohmann::json>& done, double seconds);
  // The leaderboard (a table on stderr, JSON lines on stdout) and best.pbtxt;
  // returns the best trial.
  StatusOr<int> Finish();
  // Prints {"event":"select_done",...} with `extra`'s fields.
  void PrintDone(int best, const OrderedJson& extra) const;

  const SelectOptions& options() const { return o_; }
  const Trial& trial(int t) const { return trials_[static_cast<size_t>(t)]; }
  int num_trials() const { return static_cast<int>(trials_.size()); }
  const SuccessiveHalving& halving() const { return h_; }
  const config::SearchConfig& search() const { return search_; }
  std::string Path(const std::string& name) const;
  std::string TrialFile(int t) const;
  std::string TrialDir(int t) const;

 private:
  Study(const SelectOptions& o, std::vector<Trial> trials, const config::SearchConfig& search,
        SuccessiveHalving halving)
      : o_(o), trials_(std::move(trials)), search_(search), h_(std::move(halving)) {}
  Status Load(const nlohmann::json& j, const std::string& path);
  void Progress(const RungResult& r) const;
  void Leaderboard() const;

  const SelectOptions o_;
  std::vector<Trial> trials_;
  config::SearchConfig search_;
  SuccessiveHalving h_;
  std::vector<RungResult> results_;
};

}  // namespace metaps
