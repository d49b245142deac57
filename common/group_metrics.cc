// GaucAccumulator and ScenarioMetricsAccumulator (common/metrics.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/metrics.h"
#include "common/metrics_codec.h"

namespace metaps {

// ---- GAUC -------------------------------------------------------------------------------

void GaucAccumulator::Add(uint64_t user_id, double score, float label) {
  if (user_id == 0 || std::isnan(score)) return;
  by_user_[user_id].emplace_back(score, label > 0.5f);
}

void GaucAccumulator::AddBatch(const uint64_t* user_ids, const float* scores, const float* labels,
                               size_t n) {
  for (size_t i = 0; i < n; ++i) Add(user_ids[i], scores[i], labels[i]);
}

void GaucAccumulator::Merge(const GaucAccumulator& other) {
  if (&other == this) {
    for (auto& entry : by_user_) {
      const auto copy = entry.second;
      entry.second.insert(entry.second.end(), copy.begin(), copy.end());
    }
    return;
  }
  for (const auto& [user, examples] : other.by_user_) {
    auto& mine = by_user_[user];
    mine.insert(mine.end(), examples.begin(), examples.end());
  }
}

GaucMetrics GaucAccumulator::Result() const {
  std::vector<uint64_t> users;
  users.reserve(by_user_.size());
  for (const auto& entry : by_user_) users.push_back(entry.first);
  std::sort(users.begin(), users.end());  // a fixed summation order
  GaucMetrics m;
  m.all_users = users.size();
  double weighted = 0;
  std::vector<std::pair<double, bool>> examples;
  for (uint64_t user : users) {
    examples = by_user_.at(user);
    std::sort(examples.begin(), examples.end());
    // Mann-Whitney in integers: 2 * sum over positives of (#neg below + #neg tied / 2).
    uint64_t pos = 0, neg = 0, twice = 0;
    for (size_t i = 0; i < examples.size();) {
      size_t j = i;
      uint64_t p = 0, q = 0;
      for (; j < examples.size() && examples[j].first == examples[i].first; ++j) {
        examples[j].second ? ++p : ++q;
      }
      twice += p * (2 * neg + q);
      pos += p;
      neg += q;
      i = j;
    }
    if (pos == 0 || neg == 0) continue;
    const double n = static_cast<double>(examples.size());
    const double auc =
        static_cast<double>(twice) / (2.0 * static_cast<double>(pos) * static_cast<double>(neg));
    weighted += n * auc;
    ++m.users;
    m.impressions += examples.size();
  }
  m.gauc = m.users == 0 ? std::numeric_limits<double>::quiet_NaN()
                        : weighted / static_cast<double>(m.impressions);
  return m;
}

std::vector<uint8_t> GaucAccumulator::Serialize() const {
  metrics_codec::Writer w;
  w.U32(metrics_codec::kGaucTag);
  w.U32(metrics_codec::kVersion);
  w.U64(by_user_.size());
  for (const auto& [user, examples] : by_user_) {
    w.U64(user);
    w.U64(examples.size());
    for (const auto& [score, positive] : examples) {
      w.F64(score);
      w.U32(positive ? 1 : 0);
    }
  }
  return w.Take();
}

StatusOr<GaucAccumulator> GaucAccumulator::Deserialize(const uint8_t* data, size_t size) {
  metrics_codec::Reader r(data, size, "gauc");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kGaucTag));
  GaucAccumulator acc;
  const uint64_t users = r.U64();
  if (users > r.remaining() / 16) return r.Corrupt("more users than the state holds");
  for (uint64_t u = 0; u < users; ++u) {
    const uint64_t user = r.U64();
    const uint64_t n = r.U64();
    if (n > r.remaining() / 12) return r.Corrupt("more examples than the state holds");
    if (user == 0) return r.Corrupt("user id 0");
    auto& examples = acc.by_user_[user];
    for (uint64_t i = 0; i < n; ++i) {
      const double score = r.F64();
      const uint32_t positive = r.U32();
      if (std::isnan(score) || positive > 1) return r.Corrupt("NaN score or a label not 0/1");
      examples.emplace_back(score, positive == 1);
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return acc;
}

// ---- Per scenario ------------------------------------------------------------------------

void ScenarioMetricsAccumulator::AddBatch(const uint32_t* scenario_ids, const float* scores,
                                          const float* labels, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (logistic_) {
      binary_.try_emplace(scenario_ids[i], threshold_).first->second.Add(scores[i], labels[i]);
    } else {
      regression_[scenario_ids[i]].Add(scores[i], labels[i]);
    }
  }
}

Status ScenarioMetricsAccumulator::Merge(const ScenarioMetricsAccumulator& other) {
  if (other.logistic_ != logistic_ || other.threshold_ != threshold_) {
    return InvalidArgument("merging per-scenario metrics of different kinds or thresholds");
  }
  for (const auto& [id, acc] : other.binary_) {
    auto [it, fresh] = binary_.try_emplace(id, acc);
    if (!fresh) RETURN_IF_ERROR(it->second.Merge(acc));
  }
  for (const auto& [id, acc] : other.regression_) {
    auto [it, fresh] = regression_.try_emplace(id, acc);
    if (!fresh) it->second.Merge(acc);
  }
  return Status::Ok();
}

std::map<uint32_t, BinaryMetrics> ScenarioMetricsAccumulator::BinaryResults() const {
  std::map<uint32_t, BinaryMetrics> out;
  for (const auto& [id, acc] : binary_) out[id] = acc.Result();
  return out;
}

std::map<uint32_t, RegressionMetrics> ScenarioMetricsAccumulator::RegressionResults() const {
  std::map<uint32_t, RegressionMetrics> out;
  for (const auto& [id, acc] : regression_) out[id] = acc.Result();
  return out;
}

BinaryMetricsAccumulator ScenarioMetricsAccumulator::MergedBinary() const {
  BinaryMetricsAccumulator all(threshold_);
  for (const auto& entry : binary_) {
    const Status merged = all.Merge(entry.second);  // every part has threshold_
    (void)merged;
  }
  return all;
}

RegressionMetricsAccumulator ScenarioMetricsAccumulator::MergedRegression() const {
  RegressionMetricsAccumulator all;
  for (const auto& entry : regression_) all.Merge(entry.second);
  return all;
}

std::vector<uint8_t> ScenarioMetricsAccumulator::Serialize(bool single_refers_to_overall) const {
  metrics_codec::Writer w;
  w.U32(metrics_codec::kScenarioTag);
  w.U32(metrics_codec::kVersion);
  w.U32(logistic_ ? 1 : 0);
  w.F64(threshold_);
  const bool refer = single_refers_to_overall && num_scenarios() == 1;
  w.U64(num_scenarios());
  auto put = [&](uint32_t id, const std::vector<uint8_t>& state) {
    w.U32(id);
    w.U64(refer ? 0 : state.size());  // 0 bytes: the overall state
    if (!refer) w.Bytes(state);
  };
  for (const auto& [id, acc] : binary_) put(id, refer ? std::vector<uint8_t>{} : acc.Serialize());
  for (const auto& [id, acc] : regression_) {
    put(id, refer ? std::vector<uint8_t>{} : acc.Serialize());
  }
  return w.Take();
}

StatusOr<ScenarioMetricsAccumulator> ScenarioMetricsAccumulator::Deserialize(const uint8_t* data,
                                                                             size_t size,
                                                                             const uint8_t* overall,
                                                                             size_t overall_size) {
  metrics_codec::Reader r(data, size, "per-scenario metrics");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kScenarioTag));
  const uint32_t logistic = r.U32();
  if (logistic > 1) return r.Corrupt("kind not 0/1");
  ScenarioMetricsAccumulator acc(logistic == 1, r.F64());
  const uint64_t count = r.U64();
  if (count > r.remaining() / 12) return r.Corrupt("more scenarios than the state holds");
  for (uint64_t i = 0; i < count; ++i) {
    const uint32_t id = r.U32();
    const uint64_t bytes = r.U64();
    if (bytes > r.remaining()) return r.Corrupt("scenario state longer than the state");
    const std::string state = r.Bytes(bytes);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(state.data());
    size_t n = state.size();
    if (bytes == 0) {
      if (count != 1 || overall == nullptr) {
        return r.Corrupt("a scenario refers to an overall state that is not there");
      }
      p = overall;
      n = overall_size;
    }
    if (acc.logistic_) {
      ASSIGN_OR_RETURN(auto part, BinaryMetricsAccumulator::Deserialize(p, n));
      if (part.threshold() != acc.threshold_) return r.Corrupt("scenario threshold differs");
      if (!acc.binary_.emplace(id, std::move(part)).second) return r.Corrupt("a scenario twice");
    } else {
      ASSIGN_OR_RETURN(auto part, RegressionMetricsAccumulator::Deserialize(p, n));
      if (!acc.regression_.emplace(id, std::move(part)).second) {
        return r.Corrupt("a scenario twice");
      }
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return acc;
}

}  // namespace metaps
