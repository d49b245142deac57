// `metaps meta-train` on the scheduler: the outer loop's decisions and the
// cold-start report (worker/meta/meta_trainer.h describes the workers' side).
//
// Gathers (workers):
//   "meta/index"              a MetaIndex frame from every worker: they must
//                             agree (digest and counts); the meta-train tasks'
//                             sizes are kept for sampling
//   "meta/step/<k>"           answered with the MetaBatch of outer step k:
//                             min(meta.tasks_per_step, meta-train tasks) tasks
//                             drawn without replacement by (training.seed, k)
//                             (the same on a rerun), dealt to the workers
//                             largest first to the least loaded (by examples)
//   "meta/eval/<split>/<k>"   per-task metric sums, merged into per-task means
//                             before and after adaptation: logged, appended to
//                             metrics.jsonl and printed on stdout as
//                             {"event":"meta_eval",...}
// Everything else (progress, done, the servers' sync) is the train job's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scheduler/train_job.h"

namespace metaps {

struct MetaReport {
  TrainReport train;
  uint64_t seed = 1;
  int tasks_per_step = 32;
  bool logistic = false;
};

// The tasks of outer step `step`: `count` distinct positions below `tasks`,
// ascending, by (seed, step) only.
std::vector<uint32_t> SampleMetaBatch(uint64_t seed, int64_t step, uint32_t tasks, uint32_t count);
// Deals `tasks` (sizes[t] examples each) to `workers`: largest first, each to
// the least loaded worker (ties: the lower worker, the lower task).
std::vector<std::vector<uint32_t>> BalanceTasks(const std::vector<uint32_t>& tasks,
                                                const std::vector<uint32_t>& sizes, int workers);

class MetaTrainJob : public JobDriver {
 public:
  MetaTrainJob(const ClusterView& view, MetaReport report);
  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override;
  bool done() const { return train_.done(); }

  // The latest "meta/eval" of `split`: "before/<metric>", "adapted/<metric>"
  // and "tasks"; null before one.
  const std::map<std::string, double>* LastMetrics(const std::string& split) const;

 private:
  Status OnIndex(std::vector<GatherEntry>& entries);
  Status OnEval(const std::string& split, int64_t step, std::vector<GatherEntry>& entries);

  const ClusterView& view_;
  MetaReport report_;
  TrainJob train_;
  std::vector<uint32_t> train_sizes_;           // empty until "meta/index"
  std::map<std::string, int64_t> split_tasks_;  // "valid", "test" -> tasks
  std::map<std::string, std::map<std::string, double>> last_;
};

}  // namespace metaps
