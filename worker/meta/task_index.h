// Tasks for meta-learning (job.meta; README "Meta-learning"): which examples
// belong to which task, which tasks are meta-train, meta-valid and meta-test,
// and how each task's examples split into a support set and a query set.
//
// A task is every example with the same user id (meta.task_by "user") or item
// id ("item"). A task with fewer than meta.min_task_size examples, or more
// than meta.max_task_size (when not 0), is dropped and counted. A kept task's
// examples are ordered by (timestamp, position in the data); the last
// meta.query form its query set and the rest its support set, except that
// meta-train tasks with meta.train_support k > 0 take their first k as support
// and all the rest as query, and meta-valid/test tasks with meta.eval_support
// k > 0 take their first k as support (the examples between are unused). A
// support example never comes after a query example in time and the two never
// share an example. The split is a hash of (training.seed, task id): the same
// for any worker count, any data order and any rerun. A meta-valid or
// meta-test task's query examples whose other id (the item of a user task,
// the user of an item task) no meta-train task has are its "both new" ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/proto/job.pb.h"
#include "common/status.h"
#include "worker/batch.h"

namespace metaps {

enum class TaskSplit { kTrain = 0, kValid = 1, kTest = 2 };
const char* TaskSplitName(TaskSplit split);  // "train", "valid", "test"

struct MetaTask {
  uint64_t id = 0;  // the user or item id
  TaskSplit split = TaskSplit::kTrain;
  std::vector<uint32_t> support, query;  // example positions in the dataset
  // Meta-valid and meta-test tasks: the indices into `query` of the examples
  // whose other id (the item of a user task, the user of an item task)
  // appears in no meta-train task: "both new" (a new user on a new item).
  std::vector<uint32_t> query_both_new;
  size_t size() const { return support.size() + query.size(); }
};

struct TaskIndex {
  std::vector<MetaTask> tasks;  // by id
  size_t dropped_small = 0, dropped_large = 0;
  // Positions in `tasks` of each split's tasks, by id.
  std::vector<uint32_t> train, valid, test;
  const std::vector<uint32_t>& of(TaskSplit split) const {
    return split == TaskSplit::kTrain ? train : split == TaskSplit::kValid ? valid : test;
  }
  // A digest of every task's id, split and examples: equal on every worker
  // that built the index from the same data.
  uint64_t Digest() const;
};

// Which split the task `id` falls in.
TaskSplit SplitOfTask(uint64_t seed, uint64_t id, double valid_fraction, double test_fraction);

// Builds the index over all examples of `data` (every split's examples,
// appended). `meta` has its defaults filled (common/job_config.h).
StatusOr<TaskIndex> BuildTaskIndex(const Batch& data, const config::MetaConfig& meta,
                                   uint64_t seed);

}  // namespace metaps
