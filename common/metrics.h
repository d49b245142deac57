// Evaluation metrics as mergeable accumulators.
//
// Distributed evaluation: each worker Adds its predictions to an accumulator,
// Serializes it to bytes, the scheduler Deserializes and Merges the parts, and
// Result() of the merged accumulator EQUALS (bit for bit) the result of one
// accumulator fed all the data, in any split and any merge order:
//  - counts are integers; sums of per-example losses are kept in fixed point
//    (ExactSum), so addition is associative;
//  - AUC keeps the exact score histogram (distinct score -> #pos, #neg), merged
//    by score and swept once at the end (ties get half credit);
//  - ranking keeps every (user, score, label); a user's items may be split
//    across workers, and Merge regroups them by user before any per-user metric
//    is computed (GAUC likewise);
//  - per-user ranking results (UserRankingAccumulator) are averaged in user-id
//    order, per-scenario metrics are one exact accumulator per scenario id.
// Accumulators are not thread-safe: use one per thread and merge.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace metaps {

// Order-independent sum of doubles: each term is rounded to a multiple of 2^-40
// (about 1e-12) and added as a 128-bit integer. Exact while |sum| < 2^86; a
// term beyond +-2^86 (or NaN) is saturated (NaN counts as 0).
class ExactSum {
 public:
  void Add(double x);
  void Merge(const ExactSum& other) { bits_ += other.bits_; }
  double Value() const;
  uint64_t low() const { return static_cast<uint64_t>(bits_); }
  uint64_t high() const { return static_cast<uint64_t>(bits_ >> 64); }
  static ExactSum FromParts(uint64_t low, uint64_t high);

 private:
  unsigned __int128 bits_ = 0;  // two's complement fixed point, 40 fraction bits
};

// ---- Binary classification ----------------------------------------------------------
struct BinaryMetrics {
  uint64_t count = 0;       // examples with a finite score
  uint64_t positives = 0;   // label > 0.5
  uint64_t nan_scores = 0;  // skipped: score was NaN or infinite
  double auc = 0;           // NaN when there are no positives or no negatives
  double logloss = 0;       // mean, probabilities clipped to [1e-7, 1 - 1e-7]; NaN for count 0
  double accuracy = 0;      // predicted positive iff score >= threshold; NaN for count 0
  double precision = 0;     // 0 when nothing is predicted positive
  double recall = 0;        // 0 when there are no positives
  double f1 = 0;
};

// `score` is a predicted probability (logloss needs [0, 1]; AUC only the order).
class BinaryMetricsAccumulator {
 public:
  explicit BinaryMetricsAccumulator(double threshold = 0.5) : threshold_(threshold) {}

  void Add(double score, float label);
  void AddBatch(const float* scores, const float* labels, size_t n);
  // InvalidArgument if the thresholds differ.
  Status Merge(const BinaryMetricsAccumulator& other);
  BinaryMetrics Result() const;

  std::vector<uint8_t> Serialize() const;
  static StatusOr<BinaryMetricsAccumulator> Deserialize(const uint8_t* data, size_t size);

  double threshold() const { return threshold_; }

 private:
  struct ScoreCount {
    double score;
    uint64_t pos, neg;
  };
  // Folds pending_ into the sorted histogram.
  void Compact() const;
  // *histogram += other, both sorted by distinct score.
  static void MergeSorted(const std::vector<ScoreCount>& other, std::vector<ScoreCount>* histogram);

  double threshold_;
  uint64_t tp_ = 0, fp_ = 0, tn_ = 0, fn_ = 0, nan_scores_ = 0;
  ExactSum logloss_sum_;
  // Histogram sorted by score, distinct scores; pending_ holds unsorted adds.
  mutable std::vector<ScoreCount> histogram_;
  mutable std::vector<std::pair<double, bool>> pending_;
};

// Exact AUC of one set of predictions (ties count one half).
double ComputeAuc(const std::vector<double>& scores, const std::vector<float>& labels);

// ---- Regression -----------------------------------------------------------------------
struct RegressionMetrics {
  uint64_t count = 0;            // examples with a finite prediction and label
  uint64_t nan_predictions = 0;  // skipped: prediction or label NaN or infinite
  double mae = 0;                // mae, mse and rmse are NaN for count 0 (printed as null)
  double mse = 0;
  double rmse = 0;
};

class RegressionMetricsAccumulator {
 public:
  void Add(double prediction, double label);
  void AddBatch(const float* predictions, const float* labels, size_t n);
  void Merge(const RegressionMetricsAccumulator& other);
  RegressionMetrics Result() const;

  std::vector<uint8_t> Serialize() const;
  static StatusOr<RegressionMetricsAccumulator> Deserialize(const uint8_t* data, size_t size);

 private:
  uint64_t count_ = 0, nan_predictions_ = 0;
  ExactSum abs_error_, squared_error_;
};

// ---- Ranking, per user -----------------------------------------------------------------
struct RankingMetrics {
  uint64_t users = 0;          // users with at least one relevant item (averaged over)
  uint64_t skipped_users = 0;  // users without a relevant item
  uint64_t candidates = 0;     // items ranked, summed over the averaged users
  double precision = 0;        // hits in top k / k
  double recall = 0;           // hits in top k / relevant items of the user
  double ndcg = 0;             // binary gain, DCG = sum 1/log2(rank + 1)
  double hit_rate = 0;         // 1 if any relevant item is in the top k
};

// Items are ranked per user by score, descending; equal scores are broken
// pessimistically (non-relevant first, then by label ascending) so the result
// does not depend on input order. An item is relevant iff label >= threshold.
class RankingMetricsAccumulator {
 public:
  RankingMetricsAccumulator(int k, double relevance_threshold)
      : k_(k), relevance_threshold_(relevance_threshold) {}

  void Add(uint64_t user_id, double score, float label);
  void AddBatch(const uint64_t* user_ids, const float* scores, const float* labels, size_t n);
  // InvalidArgument if k or the threshold differ.
  Status Merge(const RankingMetricsAccumulator& other);
  RankingMetrics Result() const;

  std::vector<uint8_t> Serialize() const;
  static StatusOr<RankingMetricsAccumulator> Deserialize(const uint8_t* data, size_t size);

  int k() const { return k_; }
  double relevance_threshold() const { return relevance_threshold_; }

 private:
  struct ScoredItem {
    double score;
    float label;
  };
  int k_;
  double relevance_threshold_;
  std::unordered_map<uint64_t, std::vector<ScoredItem>> items_by_user_;
};

// One user's ranking. Candidates are ordered by score, descending; equal
// scores put the non-relevant first (pessimistic, independent of input order);
// a NaN score ranks below every number.
struct RankedCandidate {
  double score;
  bool relevant;
};
struct UserRanking {
  double precision = 0, recall = 0, ndcg = 0, hit_rate = 0;
  uint64_t candidates = 0;
};
// False (and *out untouched) when no candidate is relevant. Reorders *candidates.
bool RankUser(std::vector<RankedCandidate>* candidates, size_t k, UserRanking* out);

// Ranking metrics from per-user results (each user ranked whole on one
// worker, e.g. against every item the user did not rate in training). Merging
// unions the users; Result() averages them in user-id order, so it is the same
// bit for bit however the users were spread over workers. `protocol` names how
// the candidates were chosen ("all_unrated", "sampled_100", ...).
class UserRankingAccumulator {
 public:
  UserRankingAccumulator(int k, std::string protocol) : k_(k), protocol_(std::move(protocol)) {}

  void Add(uint64_t user_id, const UserRanking& ranking) { users_[user_id] = ranking; }
  void AddSkipped(uint64_t user_id) { skipped_.push_back(user_id); }
  // InvalidArgument if k or the protocol differ, or a user is in both.
  Status Merge(const UserRankingAccumulator& other);
  RankingMetrics Result() const;

  std::vector<uint8_t> Serialize() const;
  static StatusOr<UserRankingAccumulator> Deserialize(const uint8_t* data, size_t size);

  int k() const { return k_; }
  const std::string& protocol() const { return protocol_; }

 private:
  int k_;
  std::string protocol_;
  std::map<uint64_t, UserRanking> users_;
  std::vector<uint64_t> skipped_;
};

// ---- Group AUC -------------------------------------------------------------------------
// GAUC = sum_u n_u * AUC_u / sum_u n_u over the users u that have at least one
// positive (label > 0.5) and one negative example, where n_u is the user's
// number of examples (impressions) and AUC_u the exact AUC of the user's
// examples (ties count one half). User id 0 means "unknown" and is left out,
// as are NaN scores. Keeps every (user, score, label): 16 bytes an example.
struct GaucMetrics {
  double gauc = 0;           // NaN when no user has both classes
  uint64_t users = 0;        // users with both classes (weighted over)
  uint64_t impressions = 0;  // their examples
  uint64_t all_users = 0;    // distinct known users seen
};

class GaucAccumulator {
 public:
  void Add(uint64_t user_id, double score, float label);
  void AddBatch(const uint64_t* user_ids, const float* scores, const float* labels, size_t n);
  void Merge(const GaucAccumulator& other);
  GaucMetrics Result() const;
  bool empty() const { return by_user_.empty(); }

  std::vector<uint8_t> Serialize() const;
  static StatusOr<GaucAccumulator> Deserialize(const uint8_t* data, size_t size);

 private:
  std::unordered_map<uint64_t, std::vector<std::pair<double, bool>>> by_user_;
};

// ---- Per scenario ------------------------------------------------------------------------
// Binary (logistic) or regression metrics per scenario id, merged exactly.
class ScenarioMetricsAccumulator {
 public:
  explicit ScenarioMetricsAccumulator(bool logistic, double threshold = 0.5)
      : logistic_(logistic), threshold_(threshold) {}

  void AddBatch(const uint32_t* scenario_ids, const float* scores, const float* labels, size_t n);
  // InvalidArgument if the kinds or thresholds differ.
  Status Merge(const ScenarioMetricsAccumulator& other);
  std::map<uint32_t, BinaryMetrics> BinaryResults() const;
  std::map<uint32_t, RegressionMetrics> RegressionResults() const;
  size_t num_scenarios() const { return logistic_ ? binary_.size() : regression_.size(); }
  bool logistic() const { return logistic_; }

  // Every scenario merged: the accumulator of the whole split.
  BinaryMetricsAccumulator MergedBinary() const;
  RegressionMetricsAccumulator MergedRegression() const;

  // With `overall` (this accumulator's merged state, sent beside it), a single
  // scenario is written as a reference to it instead of a second copy.
  std::vector<uint8_t> Serialize(bool single_refers_to_overall = false) const;
  // `overall`: the merged state the sender referred to (may be null when it did not).
  static StatusOr<ScenarioMetricsAccumulator> Deserialize(const uint8_t* data, size_t size,
                                                          const uint8_t* overall = nullptr,
                                                          size_t overall_size = 0);

 private:
  bool logistic_;
  double threshold_;
  std::map<uint32_t, BinaryMetricsAccumulator> binary_;
  std::map<uint32_t, RegressionMetricsAccumulator> regression_;
};

}  // namespace metaps
