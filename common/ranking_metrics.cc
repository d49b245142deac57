// RankingMetricsAccumulator (declared in worker/metrics.h).
#include <algorithm>
#include <cmath>

#include "common/metrics.h"
#include "common/metrics_codec.h"

namespace metaps {

void RankingMetricsAccumulator::Add(uint64_t user_id, double score, float label) {
  if (std::isnan(score)) return;  // a NaN has no rank; the item is left out
  items_by_user_[user_id].push_back({score, label});
}

void RankingMetricsAccumulator::AddBatch(const uint64_t* user_ids, const float* scores,
                                         const float* labels, size_t n) {
  for (size_t i = 0; i < n; ++i) Add(user_ids[i], scores[i], labels[i]);
}

Status RankingMetricsAccumulator::Merge(const RankingMetricsAccumulator& other) {
  if (other.k_ != k_ || other.relevance_threshold_ != relevance_threshold_) {
    return InvalidArgument("merging ranking metrics @" + std::to_string(k_) + " threshold " +
                           std::to_string(relevance_threshold_) + " with @" +
                           std::to_string(other.k_) + " threshold " +
                           std::to_string(other.relevance_threshold_));
  }
  if (&other == this) {
    for (auto& entry : items_by_user_) {
      const std::vector<ScoredItem> copy = entry.second;
      entry.second.insert(entry.second.end(), copy.begin(), copy.end());
    }
    return Status::Ok();
  }
  for (const auto& [user, items] : other.items_by_user_) {
    std::vector<ScoredItem>& mine = items_by_user_[user];
    mine.insert(mine.end(), items.begin(), items.end());
  }
  return Status::Ok();
}

RankingMetrics RankingMetricsAccumulator::Result() const {
  std::vector<uint64_t> users;
  users.reserve(items_by_user_.size());
  for (const auto& entry : items_by_user_) users.push_back(entry.first);
  std::sort(users.begin(), users.end());  // a fixed summation order

  RankingMetrics m;
  const size_t k = k_ > 0 ? static_cast<size_t>(k_) : 0;
  std::vector<ScoredItem> ranked;
  for (uint64_t user : users) {
    ranked = items_by_user_.at(user);
    std::sort(ranked.begin(), ranked.end(), [](const ScoredItem& a, const ScoredItem& b) {
      return a.score != b.score ? a.score > b.score : a.label < b.label;
    });
    size_t relevant = 0;
    for (const ScoredItem& item : ranked) relevant += item.label >= relevance_threshold_;
    if (relevant == 0) {
      ++m.skipped_users;
      continue;
    }
    size_t hits = 0;
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < k && i < ranked.size(); ++i) {
      if (ranked[i].label >= relevance_threshold_) {
        ++hits;
        dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
      }
    }
    for (size_t i = 0; i < k && i < relevant; ++i)
      idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    ++m.users;
    m.precision += k == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(k);
    m.recall += static_cast<double>(hits) / static_cast<double>(relevant);
    m.ndcg += idcg == 0 ? 0.0 : dcg / idcg;
    m.hit_rate += hits > 0 ? 1.0 : 0.0;
  }
  if (m.users > 0) {
    const double n = static_cast<double>(m.users);
    m.precision /= n;
    m.recall /= n;
    m.ndcg /= n;
    m.hit_rate /= n;
  }
  return m;
}

std::vector<uint8_t> RankingMetricsAccumulator::Serialize() const {
  metrics_codec::Writer w;
  w.U32(metrics_codec::kRankingTag);
  w.U32(metrics_codec::kVersion);
  w.U64(static_cast<uint64_t>(static_cast<int64_t>(k_)));
  w.F64(relevance_threshold_);
  w.U64(items_by_user_.size());
  for (const auto& [user, items] : items_by_user_) {
    w.U64(user);
    w.U64(items.size());
    for (const ScoredItem& item : items) {
      w.F64(item.score);
      w.F32(item.label);
    }
  }
  return w.Take();
}

StatusOr<RankingMetricsAccumulator> RankingMetricsAccumulator::Deserialize(const uint8_t* data,
                                                                           size_t size) {
  metrics_codec::Reader r(data, size, "ranking metrics");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kRankingTag));
  const int k = static_cast<int>(static_cast<int64_t>(r.U64()));
  RankingMetricsAccumulator acc(k, r.F64());
  const uint64_t users = r.U64();
  if (users > r.remaining() / 16) return r.Corrupt("more users than the state holds");
  for (uint64_t u = 0; u < users; ++u) {
    const uint64_t user = r.U64();
    const uint64_t n = r.U64();
    if (n > r.remaining() / 12) return r.Corrupt("more items than the state holds");
    std::vector<ScoredItem>& items = acc.items_by_user_[user];
    for (uint64_t i = 0; i < n; ++i) {
      const double score = r.F64();
      const float label = r.F32();
      if (std::isnan(score)) return r.Corrupt("NaN score");
      items.push_back({score, label});
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return acc;
}

}  // namespace metaps
