// RankingMetricsAccumulator, RankUser and UserRankingAccumulator (common/metrics.h).
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

bool RankUser(std::vector<RankedCandidate>* candidates, size_t k, UserRanking* out) {
  size_t relevant = 0;
  for (const RankedCandidate& c : *candidates) relevant += c.relevant;
  if (relevant == 0) return false;
  // Higher score first, NaN last; on a tie the non-relevant first.
  auto before = [](const RankedCandidate& a, const RankedCandidate& b) {
    const bool a_nan = std::isnan(a.score), b_nan = std::isnan(b.score);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && a.score != b.score) return a.score > b.score;
    return a.relevant < b.relevant;
  };
  const size_t top = std::min(k, candidates->size());
  std::partial_sort(candidates->begin(), candidates->begin() + static_cast<ptrdiff_t>(top),
                    candidates->end(), before);
  size_t hits = 0;
  double dcg = 0, idcg = 0;
  for (size_t i = 0; i < top; ++i) {
    if ((*candidates)[i].relevant) {
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    }
  }
  for (size_t i = 0; i < k && i < relevant; ++i)
    idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  out->precision = k == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(k);
  out->recall = static_cast<double>(hits) / static_cast<double>(relevant);
  out->ndcg = idcg == 0 ? 0.0 : dcg / idcg;
  out->hit_rate = hits > 0 ? 1.0 : 0.0;
  out->candidates = candidates->size();
  return true;
}

namespace {

// Sums `u` into `m` (divided by the user count at the end).
void Accumulate(const UserRanking& u, RankingMetrics* m) {
  ++m->users;
  m->candidates += u.candidates;
  m->precision += u.precision;
  m->recall += u.recall;
  m->ndcg += u.ndcg;
  m->hit_rate += u.hit_rate;
}

void Average(RankingMetrics* m) {
  if (m->users == 0) return;
  const double n = static_cast<double>(m->users);
  m->precision /= n;
  m->recall /= n;
  m->ndcg /= n;
  m->hit_rate /= n;
}

}  // namespace

RankingMetrics RankingMetricsAccumulator::Result() const {
  std::vector<uint64_t> users;
  users.reserve(items_by_user_.size());
  for (const auto& entry : items_by_user_) users.push_back(entry.first);
  std::sort(users.begin(), users.end());  // a fixed summation order

  RankingMetrics m;
  const size_t k = k_ > 0 ? static_cast<size_t>(k_) : 0;
  std::vector<RankedCandidate> ranked;
  for (uint64_t user : users) {
    ranked.clear();
    for (const ScoredItem& item : items_by_user_.at(user)) {
      ranked.push_back({item.score, item.label >= relevance_threshold_});
    }
    UserRanking u;
    if (!RankUser(&ranked, k, &u)) {
      ++m.skipped_users;
      continue;
    }
    Accumulate(u, &m);
  }
  Average(&m);
  return m;
}

// ---- UserRankingAccumulator -------------------------------------------------------------

Status UserRankingAccumulator::Merge(const UserRankingAccumulator& other) {
  if (other.k_ != k_ || other.protocol_ != protocol_) {
    return InvalidArgument("merging ranking metrics @" + std::to_string(k_) + " (" + protocol_ +
                           ") with @" + std::to_string(other.k_) + " (" + other.protocol_ + ")");
  }
  for (const auto& [user, ranking] : other.users_) {
    if (!users_.emplace(user, ranking).second) {
      return InvalidArgument("user " + std::to_string(user) +
                             " was ranked by two workers (each user must have one owner)");
    }
  }
  skipped_.insert(skipped_.end(), other.skipped_.begin(), other.skipped_.end());
  return Status::Ok();
}

RankingMetrics UserRankingAccumulator::Result() const {
  RankingMetrics m;
  for (const auto& entry : users_) Accumulate(entry.second, &m);  // in user-id order
  m.skipped_users = skipped_.size();
  Average(&m);
  return m;
}

std::vector<uint8_t> UserRankingAccumulator::Serialize() const {
  metrics_codec::Writer w;
  w.U32(metrics_codec::kUserRankingTag);
  w.U32(metrics_codec::kVersion);
  w.U64(static_cast<uint64_t>(static_cast<int64_t>(k_)));
  w.U64(protocol_.size());
  w.Bytes(std::vector<uint8_t>(protocol_.begin(), protocol_.end()));
  w.U64(users_.size());
  for (const auto& [user, u] : users_) {
    w.U64(user);
    w.U64(u.candidates);
    for (double v : {u.precision, u.recall, u.ndcg, u.hit_rate}) w.F64(v);
  }
  w.U64(skipped_.size());
  for (uint64_t user : skipped_) w.U64(user);
  return w.Take();
}

StatusOr<UserRankingAccumulator> UserRankingAccumulator::Deserialize(const uint8_t* data,
                                                                     size_t size) {
  metrics_codec::Reader r(data, size, "per-user ranking metrics");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kUserRankingTag));
  const int k = static_cast<int>(static_cast<int64_t>(r.U64()));
  const uint64_t name_size = r.U64();
  if (name_size > r.remaining()) return r.Corrupt("protocol name longer than the state");
  UserRankingAccumulator acc(k, r.Bytes(name_size));
  const uint64_t users = r.U64();
  if (users > r.remaining() / 48) return r.Corrupt("more users than the state holds");
  for (uint64_t i = 0; i < users; ++i) {
    const uint64_t user = r.U64();
    UserRanking u;
    u.candidates = r.U64();
    u.precision = r.F64();
    u.recall = r.F64();
    u.ndcg = r.F64();
    u.hit_rate = r.F64();
    if (!acc.users_.emplace(user, u).second) return r.Corrupt("a user twice");
  }
  const uint64_t skipped = r.U64();
  if (skipped > r.remaining() / 8) return r.Corrupt("more skipped users than the state holds");
  for (uint64_t i = 0; i < skipped; ++i) acc.skipped_.push_back(r.U64());
  RETURN_IF_ERROR(r.Finish());
  return acc;
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
