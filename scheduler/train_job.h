// `metaps train` on the scheduler: merges the workers' evaluation partials
// exactly (metric accumulators, not averages of per-worker metrics), logs
// progress to stderr, appends every record to OUTPUT/metrics.jsonl, and prints
// the final {"event":"done",...} line on stdout.
//
// Gathers (workers): "train/progress/<step>" with a typed Progress payload
// (common/proto/control.proto); "eval/<split>/<step>" with a typed
// EvalPartial payload (binary or regression) and frames [that accumulator for
// the whole split, then tagged partials in any order: per-scenario, GAUC,
// heldout-only ranking, per-user ranking (common/metrics.h)]. Lines are
// nlohmann-json objects (common/json.h): counts print as integers, other
// numbers as the shortest text that reads back the same double; "train/done" with a typed Done
// payload from every worker (run_samples: trained by this run, for the rate; the slowest worker's
// phase times). Gathers "ps/sync/<k>" and "ps/resume" (all members): everyone gets the workers'
// ServerSync payload (checked, and the same from every worker) and, for resume, the servers'
// Restored step (the same from every server) as value. Early stopping (training.early_stop): after
// each "eval/valid/<step>" the workers gather "early/<step>" with an EarlyStopReport (the epoch)
// and get back an EarlyStopAnswer (decision and state); a resumed run first gathers "early/resume"
// with an EarlyStopResume (the metric and the state saved beside its checkpoint, if any) and gets
// back the state to go on with. The done line then names the chosen step:
// "best":{"step","epoch","metric","value"} and "stopped_early".
#pragma once

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/early_stop.h"
#include "common/json.h"
#include "common/proto/job.pb.h"
#include "scheduler/scheduler.h"

namespace metaps {

// A non-negative step written in decimal by a peer (in a gather name); false
// for anything else: peer text never reaches a parser that throws.
bool ParseStep(const std::string& text, int64_t* step);

struct TrainReport {
  std::string model;
  std::string output_dir;                       // empty: no metrics.jsonl
  int64_t max_steps = 0;                        // for the ETA, when known
  std::optional<config::EarlyStop> early_stop;  // set: decide early stopping
  // A model-selection trial's rung on a shared cluster: the done line goes to
  // metrics.jsonl and done_line() only, not to stdout, and names `workers`
  // (the trial's worker group) as the job's workers.
  bool quiet = false;
  int workers = 0;    // 0: every worker of the cluster
  std::string label;  // prefixes its log lines, e.g. "trial 3: "
};

class TrainJob : public JobDriver {
 public:
  TrainJob(const ClusterView& view, TrainReport report);
  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override;
  bool done() const { return done_; }
  // The {"event":"done",...} object once done().
  const OrderedJson& done_line() const { return done_line_; }

  // The numeric metrics of the latest eval of `split` ("valid", "test"), merged
  // over the workers, by the keys printed in its "metrics" object: e.g. "auc",
  // "logloss", "gauc" (logistic), "rmse", "mae" (squared), "ndcg@10",
  // "recall@10", "count", "ranked_users"; nested objects flatten to
  // "per_scenario/<id>/<key>". Null before the split's first eval.
  const std::map<std::string, double>* LastMetrics(const std::string& split) const;
  // The step of that eval, or -1.
  int64_t LastEvalStep(const std::string& split) const;

  // Appends a line to OUTPUT/metrics.jsonl (when there is an output dir).
  void Record(const std::string& json);

 private:
  Status OnEval(const std::string& split, int64_t step, std::vector<GatherEntry>& entries);
  // "early/<step>" and "early/resume" (early stopping).
  Status OnEarlyStop(const std::string& name, std::vector<GatherEntry>& entries,
                     wire::Control* reply);

  const ClusterView& view_;
  TrainReport report_;
  std::ofstream metrics_;
  std::map<std::string, OrderedJson> last_eval_;  // split -> JSON object of metrics
  std::map<std::string, std::map<std::string, double>> last_metrics_;  // split -> flat metrics
  std::map<std::string, int64_t> last_metrics_step_;
  bool done_ = false;
  OrderedJson done_line_;
  // Early stopping: the decision, and the watched metric of the last
  // validation evaluation (NaN until one).
  std::unique_ptr<EarlyStopper> early_stop_;
  double early_value_ = NAN;
  int64_t early_value_step_ = -1;
};

}  // namespace metaps
