// Metrics of one meta-learning task's query set (the cold-start protocol,
// README "Meta-learning"): computed per task and averaged over tasks, so that
// every new user counts the same whatever their number of ratings.
//   squared loss:  mae, rmse, ndcg@1, ndcg@3, ndcg@5 (query items ranked by
//                  prediction, gain = the true rating, ties by position)
//   logistic loss: logloss, accuracy, auc (tasks with both labels only)
// A metric undefined for a task (auc with one class, ndcg with all-zero
// gains) is left out for that task; the average is over the tasks it has.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"

namespace metaps {

std::vector<std::string> MetaTaskMetricNames(bool logistic);

// `predictions` are probabilities (logistic) or values (squared).
std::vector<std::pair<std::string, double>> TaskQueryMetrics(const float* predictions,
                                                             const float* labels, size_t n,
                                                             bool logistic);

// {"mae":0.5,...} in the given order (JsonText prints each value as the
// shortest text that reads back the same double; NaN as null).
OrderedJson TaskMetricsJson(const std::vector<std::pair<std::string, double>>& metrics);

}  // namespace metaps
