#include "common/task_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace metaps {
namespace {

// NDCG@k with linear gains; -1 when the ideal DCG is 0.
double Ndcg(const float* predictions, const float* labels, size_t n, size_t k) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return predictions[a] > predictions[b]; });
  std::vector<float> ideal(labels, labels + n);
  std::sort(ideal.begin(), ideal.end(), std::greater<float>());
  double dcg = 0, best = 0;
  for (size_t i = 0; i < std::min(k, n); ++i) {
    const double discount = 1.0 / std::log2(static_cast<double>(i) + 2.0);
    dcg += labels[order[i]] * discount;
    best += ideal[i] * discount;
  }
  return best > 0 ? dcg / best : -1;
}

}  // namespace

OrderedJson TaskMetricsJson(const std::vector<std::pair<std::string, double>>& metrics) {
  OrderedJson out = OrderedJson::object();
  for (const auto& [name, value] : metrics) out[name] = value;
  return out;
}

std::vector<std::string> MetaTaskMetricNames(bool logistic) {
  if (logistic) return {"logloss", "accuracy", "auc"};
  return {"mae", "rmse", "ndcg@1", "ndcg@3", "ndcg@5"};
}

std::vector<std::pair<std::string, double>> TaskQueryMetrics(const float* predictions,
                                                             const float* labels, size_t n,
                                                             bool logistic) {
  std::vector<std::pair<std::string, double>> out;
  if (n == 0) return out;
  // A diverged model: the error metrics come out NaN or infinite; the ranking
  // ones (which sort the predictions) are left out.
  const bool finite =
      std::all_of(predictions, predictions + n, [](float p) { return std::isfinite(p); });
  if (!logistic) {
    double abs = 0, sq = 0;
    for (size_t i = 0; i < n; ++i) {
      const double e = static_cast<double>(predictions[i]) - labels[i];
      abs += std::fabs(e);
      sq += e * e;
    }
    out.emplace_back("mae", abs / static_cast<double>(n));
    out.emplace_back("rmse", std::sqrt(sq / static_cast<double>(n)));
    for (size_t k : {size_t{1}, size_t{3}, size_t{5}}) {
      if (!finite) break;
      const double ndcg = Ndcg(predictions, labels, n, k);
      if (ndcg >= 0) out.emplace_back("ndcg@" + std::to_string(k), ndcg);
    }
    return out;
  }
  double logloss = 0, correct = 0;
  size_t positives = 0;
  for (size_t i = 0; i < n; ++i) {
    const double p = std::min(std::max(static_cast<double>(predictions[i]), 1e-7), 1 - 1e-7);
    const bool y = labels[i] > 0.5f;
    positives += y;
    logloss -= y ? std::log(p) : std::log(1 - p);
    correct += (p > 0.5) == y;
  }
  out.emplace_back("logloss", logloss / static_cast<double>(n));
  out.emplace_back("accuracy", correct / static_cast<double>(n));
  if (finite && positives > 0 && positives < n) {
    // Mann-Whitney: the positives' mean rank, ties sharing their mean rank.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return predictions[a] < predictions[b]; });
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && predictions[order[j]] == predictions[order[i]]) ++j;
      const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
      for (size_t r = i; r < j; ++r) rank_sum += labels[order[r]] > 0.5f ? mean_rank : 0;
      i = j;
    }
    const double pos = static_cast<double>(positives), neg = static_cast<double>(n - positives);
    out.emplace_back("auc", (rank_sum - pos * (pos + 1) / 2) / (pos * neg));
  }
  return out;
}

}  // namespace metaps
