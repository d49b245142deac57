#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/metrics_codec.h"

namespace metaps {
namespace {

constexpr double kFixedScale = 1099511627776.0;  // 2^40
constexpr double kLoglossEps = 1e-7;

}  // namespace

// ---- ExactSum ---------------------------------------------------------------------------

void ExactSum::Add(double x) {
  constexpr double kLimit = 85070591730234615865843651857942052864.0;  // 2^126 = 2^86 * 2^40
  const double scaled = std::isnan(x) ? 0.0 : std::clamp(x * kFixedScale, -kLimit, kLimit);
  __int128 q = static_cast<__int128>(std::nearbyint(scaled));
  bits_ += static_cast<unsigned __int128>(q);
}

double ExactSum::Value() const {
  return static_cast<double>(static_cast<__int128>(bits_)) / kFixedScale;
}

ExactSum ExactSum::FromParts(uint64_t low, uint64_t high) {
  ExactSum s;
  s.bits_ = (static_cast<unsigned __int128>(high) << 64) | low;
  return s;
}

// ---- Binary classification ----------------------------------------------------------

void BinaryMetricsAccumulator::Add(double score, float label) {
  if (!std::isfinite(score)) {
    ++nan_scores_;
    return;
  }
  const bool positive = label > 0.5f;
  const bool predicted = score >= threshold_;
  if (positive) {
    predicted ? ++tp_ : ++fn_;
  } else {
    predicted ? ++fp_ : ++tn_;
  }
  const double p = std::clamp(score, kLoglossEps, 1.0 - kLoglossEps);
  const double y = label;
  logloss_sum_.Add(-(y * std::log(p) + (1.0 - y) * std::log(1.0 - p)));
  pending_.emplace_back(score, positive);
  if (pending_.size() >= (1u << 16)) Compact();
}

void BinaryMetricsAccumulator::AddBatch(const float* scores, const float* labels, size_t n) {
  for (size_t i = 0; i < n; ++i) Add(scores[i], labels[i]);
}

void BinaryMetricsAccumulator::MergeSorted(const std::vector<ScoreCount>& other,
                                           std::vector<ScoreCount>* histogram) {
  std::vector<ScoreCount> merged;
  merged.reserve(histogram->size() + other.size());
  const std::vector<ScoreCount>& a = *histogram;
  size_t i = 0, j = 0;
  while (i < a.size() || j < other.size()) {
    if (j == other.size() || (i < a.size() && a[i].score < other[j].score)) {
      merged.push_back(a[i++]);
    } else if (i == a.size() || other[j].score < a[i].score) {
      merged.push_back(other[j++]);
    } else {
      merged.push_back({a[i].score, a[i].pos + other[j].pos, a[i].neg + other[j].neg});
      ++i, ++j;
    }
  }
  histogram->swap(merged);
}

void BinaryMetricsAccumulator::Compact() const {
  if (pending_.empty()) return;
  std::sort(pending_.begin(), pending_.end());
  std::vector<ScoreCount> runs;
  for (const auto& [score, positive] : pending_) {
    if (runs.empty() || runs.back().score != score) runs.push_back({score, 0, 0});
    positive ? ++runs.back().pos : ++runs.back().neg;
  }
  pending_.clear();
  MergeSorted(runs, &histogram_);
}

Status BinaryMetricsAccumulator::Merge(const BinaryMetricsAccumulator& other) {
  if (other.threshold_ != threshold_) {
    return InvalidArgument("merging binary metrics with thresholds " + std::to_string(threshold_) +
                           " and " + std::to_string(other.threshold_));
  }
  tp_ += other.tp_;
  fp_ += other.fp_;
  tn_ += other.tn_;
  fn_ += other.fn_;
  nan_scores_ += other.nan_scores_;
  logloss_sum_.Merge(other.logloss_sum_);
  Compact();
  other.Compact();
  MergeSorted(other.histogram_, &histogram_);
  return Status::Ok();
}

BinaryMetrics BinaryMetricsAccumulator::Result() const {
  Compact();
  BinaryMetrics m;
  m.count = tp_ + fp_ + tn_ + fn_;
  m.positives = tp_ + fn_;
  m.nan_scores = nan_scores_;
  const uint64_t negatives = m.count - m.positives;
  // Mann-Whitney: 2 * sum over positives of (#neg below + #neg tied / 2), in integers.
  unsigned __int128 twice_rank_sum = 0;
  uint64_t neg_below = 0;
  for (const ScoreCount& c : histogram_) {
    twice_rank_sum += static_cast<unsigned __int128>(c.pos) * (2 * neg_below + c.neg);
    neg_below += c.neg;
  }
  m.auc = (m.positives == 0 || negatives == 0)
              ? std::numeric_limits<double>::quiet_NaN()
              : static_cast<double>(twice_rank_sum) /
                    (2.0 * static_cast<double>(m.positives) * static_cast<double>(negatives));
  if (m.count == 0) {  // no example scored (e.g. a diverged model): undefined, not 0
    m.logloss = m.accuracy = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  const double n = static_cast<double>(m.count);
  m.logloss = logloss_sum_.Value() / n;
  m.accuracy = static_cast<double>(tp_ + tn_) / n;
  m.precision = tp_ + fp_ == 0 ? 0.0 : static_cast<double>(tp_) / static_cast<double>(tp_ + fp_);
  m.recall = m.positives == 0 ? 0.0 : static_cast<double>(tp_) / static_cast<double>(m.positives);
  m.f1 = m.precision + m.recall == 0 ? 0.0 : 2 * m.precision * m.recall / (m.precision + m.recall);
  return m;
}

std::vector<uint8_t> BinaryMetricsAccumulator::Serialize() const {
  Compact();
  metrics_codec::Writer w;
  w.U32(metrics_codec::kBinaryTag);
  w.U32(metrics_codec::kVersion);
  w.F64(threshold_);
  for (uint64_t v : {tp_, fp_, tn_, fn_, nan_scores_}) w.U64(v);
  w.U64(logloss_sum_.low());
  w.U64(logloss_sum_.high());
  w.U64(histogram_.size());
  for (const ScoreCount& c : histogram_) {
    w.F64(c.score);
    w.U64(c.pos);
    w.U64(c.neg);
  }
  return w.Take();
}

StatusOr<BinaryMetricsAccumulator> BinaryMetricsAccumulator::Deserialize(const uint8_t* data,
                                                                         size_t size) {
  metrics_codec::Reader r(data, size, "binary metrics");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kBinaryTag));
  BinaryMetricsAccumulator acc(r.F64());
  acc.tp_ = r.U64();
  acc.fp_ = r.U64();
  acc.tn_ = r.U64();
  acc.fn_ = r.U64();
  acc.nan_scores_ = r.U64();
  const uint64_t low = r.U64();
  acc.logloss_sum_ = ExactSum::FromParts(low, r.U64());
  const uint64_t groups = r.U64();
  if (groups > r.remaining() / 24) return r.Corrupt("histogram larger than the state");
  acc.histogram_.resize(groups);
  uint64_t pos = 0, neg = 0;
  for (uint64_t i = 0; i < groups; ++i) {
    ScoreCount& c = acc.histogram_[i];
    c.score = r.F64();
    c.pos = r.U64();
    c.neg = r.U64();
    if (!std::isfinite(c.score) || (i > 0 && !(acc.histogram_[i - 1].score < c.score))) {
      return r.Corrupt("histogram scores not finite and strictly increasing");
    }
    pos += c.pos;
    neg += c.neg;
  }
  RETURN_IF_ERROR(r.Finish());
  if (pos != acc.tp_ + acc.fn_ || neg != acc.fp_ + acc.tn_) {
    return r.Corrupt("histogram counts disagree with the confusion matrix");
  }
  return acc;
}

double ComputeAuc(const std::vector<double>& scores, const std::vector<float>& labels) {
  BinaryMetricsAccumulator acc;
  for (size_t i = 0; i < scores.size() && i < labels.size(); ++i) acc.Add(scores[i], labels[i]);
  return acc.Result().auc;
}

// ---- Regression -----------------------------------------------------------------------

void RegressionMetricsAccumulator::Add(double prediction, double label) {
  const double e = prediction - label;
  if (!std::isfinite(e)) {
    ++nan_predictions_;
    return;
  }
  ++count_;
  abs_error_.Add(std::fabs(e));
  squared_error_.Add(e * e);
}

void RegressionMetricsAccumulator::AddBatch(const float* predictions, const float* labels,
                                            size_t n) {
  for (size_t i = 0; i < n; ++i) Add(predictions[i], labels[i]);
}

void RegressionMetricsAccumulator::Merge(const RegressionMetricsAccumulator& other) {
  count_ += other.count_;
  nan_predictions_ += other.nan_predictions_;
  abs_error_.Merge(other.abs_error_);
  squared_error_.Merge(other.squared_error_);
}

RegressionMetrics RegressionMetricsAccumulator::Result() const {
  RegressionMetrics m;
  m.count = count_;
  m.nan_predictions = nan_predictions_;
  if (count_ == 0) {  // no example scored (e.g. a diverged model): undefined, not 0
    m.mae = m.mse = m.rmse = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  const double n = static_cast<double>(count_);
  m.mae = abs_error_.Value() / n;
  m.mse = squared_error_.Value() / n;
  m.rmse = std::sqrt(m.mse);
  return m;
}

std::vector<uint8_t> RegressionMetricsAccumulator::Serialize() const {
  metrics_codec::Writer w;
  w.U32(metrics_codec::kRegressionTag);
  w.U32(metrics_codec::kVersion);
  w.U64(count_);
  w.U64(nan_predictions_);
  for (const ExactSum* s : {&abs_error_, &squared_error_}) {
    w.U64(s->low());
    w.U64(s->high());
  }
  return w.Take();
}

StatusOr<RegressionMetricsAccumulator> RegressionMetricsAccumulator::Deserialize(
    const uint8_t* data, size_t size) {
  metrics_codec::Reader r(data, size, "regression metrics");
  RETURN_IF_ERROR(metrics_codec::CheckHeader(&r, metrics_codec::kRegressionTag));
  RegressionMetricsAccumulator acc;
  acc.count_ = r.U64();
  acc.nan_predictions_ = r.U64();
  for (ExactSum* s : {&acc.abs_error_, &acc.squared_error_}) {
    const uint64_t low = r.U64();
    *s = ExactSum::FromParts(low, r.U64());
  }
  RETURN_IF_ERROR(r.Finish());
  return acc;
}

}  // namespace metaps
