#include "worker/meta/task_index.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "common/hash.h"

namespace metaps {

const char* TaskSplitName(TaskSplit split) {
  switch (split) {
    case TaskSplit::kTrain:
      return "train";
    case TaskSplit::kValid:
      return "valid";
    case TaskSplit::kTest:
      return "test";
  }
  return "?";
}

TaskSplit SplitOfTask(uint64_t seed, uint64_t id, double valid_fraction, double test_fraction) {
  const uint64_t h = Mix64(Mix64(seed ^ 0x6d657461ULL) ^ id);  // "meta"
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  if (u < test_fraction) return TaskSplit::kTest;
  if (u < test_fraction + valid_fraction) return TaskSplit::kValid;
  return TaskSplit::kTrain;
}

uint64_t TaskIndex::Digest() const {
  uint64_t d = Mix64(tasks.size());
  auto add = [&d](uint64_t v) { d = Mix64(d ^ (v + 0x9e3779b97f4a7c15ULL + (d << 6))); };
  for (const MetaTask& t : tasks) {
    add(t.id);
    add(static_cast<uint64_t>(t.split));
    for (uint32_t p : t.support) add(p);
    add(UINT64_MAX);
    for (uint32_t p : t.query) add(p);
    add(UINT64_MAX - 1);
    for (uint32_t p : t.query_both_new) add(p);
  }
  add(dropped_small);
  add(dropped_large);
  return d;
}

StatusOr<TaskIndex> BuildTaskIndex(const Batch& data, const config::MetaConfig& meta,
                                   uint64_t seed) {
  if (data.size() > UINT32_MAX) {
    return InvalidArgument("meta-learning holds at most 2^32 - 1 examples in memory, got " +
                           std::to_string(data.size()));
  }
  const bool by_user = meta.task_by() == "user";
  const std::vector<uint64_t>& ids = by_user ? data.user_ids : data.item_ids;
  if (ids.size() != data.size()) {
    return InvalidArgument("meta.task_by " + meta.task_by() + ": the data has no " +
                           meta.task_by() + " ids");
  }
  std::map<uint64_t, std::vector<uint32_t>> by_id;
  for (size_t i = 0; i < data.size(); ++i) by_id[ids[i]].push_back(static_cast<uint32_t>(i));
  TaskIndex index;
  const size_t min_size = static_cast<size_t>(meta.min_task_size());
  const size_t max_size = static_cast<size_t>(meta.max_task_size());
  const size_t query = static_cast<size_t>(meta.query());
  for (auto& [id, positions] : by_id) {
    if (positions.size() < min_size) {
      ++index.dropped_small;
      continue;
    }
    if (max_size > 0 && positions.size() > max_size) {
      ++index.dropped_large;
      continue;
    }
    // By time, ties in data order (stable: positions are increasing).
    std::stable_sort(positions.begin(), positions.end(), [&data](uint32_t a, uint32_t b) {
      return data.timestamps[a] < data.timestamps[b];
    });
    MetaTask task;
    task.id = id;
    task.split = SplitOfTask(seed, id, meta.valid_fraction(), meta.test_fraction());
    // min_size > query and min_size > train_support: both sets are non-empty.
    const size_t k = static_cast<size_t>(meta.train_support());
    const size_t support = task.split == TaskSplit::kTrain && k > 0 ? k : positions.size() - query;
    // k-shot evaluation: the first eval_support examples, then the query.
    const size_t eval_k = static_cast<size_t>(meta.eval_support());
    const size_t support_end = task.split != TaskSplit::kTrain && eval_k > 0 ? eval_k : support;
    task.support.assign(positions.begin(), positions.begin() + static_cast<ptrdiff_t>(support_end));
    task.query.assign(positions.begin() + static_cast<ptrdiff_t>(support), positions.end());
    const uint32_t at = static_cast<uint32_t>(index.tasks.size());
    (task.split == TaskSplit::kTrain   ? index.train
     : task.split == TaskSplit::kValid ? index.valid
                                       : index.test)
        .push_back(at);
    index.tasks.push_back(std::move(task));
  }
  // "Both new": the other ids no meta-train task has.
  const std::vector<uint64_t>& others = by_user ? data.item_ids : data.user_ids;
  if (others.size() == data.size()) {
    std::unordered_set<uint64_t> seen;
    for (uint32_t t : index.train) {
      for (const auto* part : {&index.tasks[t].support, &index.tasks[t].query}) {
        for (uint32_t p : *part) seen.insert(others[p]);
      }
    }
    for (MetaTask& task : index.tasks) {
      if (task.split == TaskSplit::kTrain) continue;
      for (size_t i = 0; i < task.query.size(); ++i) {
        if (!seen.count(others[task.query[i]])) {
          task.query_both_new.push_back(static_cast<uint32_t>(i));
        }
      }
    }
  }
  if (index.train.empty()) {
    return InvalidArgument("meta-learning: no meta-train task (" +
                           std::to_string(index.tasks.size()) + " tasks kept, " +
                           std::to_string(index.dropped_small) + " below meta.min_task_size " +
                           std::to_string(min_size) + ", " + std::to_string(index.dropped_large) +
                           " above meta.max_task_size)");
  }
  return index;
}

}  // namespace metaps
