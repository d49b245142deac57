#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace metaps {
namespace {

BinaryMetrics Binary(const std::vector<double>& scores, const std::vector<float>& labels,
                     double threshold = 0.5) {
  BinaryMetricsAccumulator acc(threshold);
  for (size_t i = 0; i < scores.size(); ++i) acc.Add(scores[i], labels[i]);
  return acc.Result();
}

TEST(AucTest, HandComputedWithoutTies) {
  EXPECT_DOUBLE_EQ(ComputeAuc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
}

TEST(AucTest, TiesCountHalf) {
  // Positives 0.5 and 0.9; negatives 0.5, 0.5: 0.5+0.5 (ties) + 2 wins = 3 of 4 pairs.
  EXPECT_DOUBLE_EQ(ComputeAuc({0.5, 0.5, 0.5, 0.9}, {0, 1, 0, 1}), 0.75);
  // Positive 0.6 beats 0.2 and ties two 0.6 (1 + 0.5 + 0.5); positive 0.9 beats all 3.
  EXPECT_DOUBLE_EQ(ComputeAuc({0.2, 0.6, 0.6, 0.6, 0.9}, {0, 1, 0, 0, 1}), 5.0 / 6.0);
}

TEST(AucTest, PerfectInverseAndConstant) {
  EXPECT_DOUBLE_EQ(ComputeAuc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(ComputeAuc({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(ComputeAuc({0.3, 0.3, 0.3, 0.3, 0.3}, {0, 1, 1, 0, 1}), 0.5);
}

TEST(AucTest, UndefinedWithOneClassIsNan) {
  EXPECT_TRUE(std::isnan(ComputeAuc({0.1, 0.2}, {1, 1})));
  EXPECT_TRUE(std::isnan(ComputeAuc({}, {})));
}

TEST(BinaryMetricsTest, LoglossHandValues) {
  BinaryMetrics m = Binary({0.9, 0.2}, {1, 0});
  EXPECT_NEAR(m.logloss, -(std::log(0.9) + std::log(0.8)) / 2, 1e-11);
  // Clipped to [1e-7, 1 - 1e-7]: a confident mistake costs -log(1e-7), not infinity.
  EXPECT_NEAR(Binary({0.0}, {1}).logloss, -std::log(1e-7), 1e-9);
  EXPECT_NEAR(Binary({1.0}, {0}).logloss, -std::log(1e-7), 1e-9);
  EXPECT_NEAR(Binary({1.0}, {1}).logloss, 1e-7, 1e-9);
}

TEST(BinaryMetricsTest, ConfusionMetricsAtThreshold) {
  BinaryMetrics m = Binary({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(m.positives, 2u);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.precision, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 0.5);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / 3.0);
  BinaryMetrics low = Binary({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}, /*threshold=*/0.3);
  EXPECT_DOUBLE_EQ(low.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(low.recall, 1.0);
  // Nothing predicted positive: precision and F1 are 0, not NaN.
  BinaryMetrics none = Binary({0.1, 0.2}, {1, 0});
  EXPECT_EQ(none.precision, 0.0);
  EXPECT_EQ(none.f1, 0.0);
}

TEST(BinaryMetricsTest, NanScoresAreCountedAndSkipped) {
  BinaryMetrics m = Binary({0.1, std::nan(""), 0.9}, {0, 1, 1});
  EXPECT_EQ(m.nan_scores, 1u);
  EXPECT_EQ(m.count, 2u);
  EXPECT_DOUBLE_EQ(m.auc, 1.0);
}

TEST(RegressionMetricsTest, HandValues) {
  RegressionMetricsAccumulator acc;
  const float predictions[] = {1, 2, 3};
  const float labels[] = {2, 2, 5};
  acc.AddBatch(predictions, labels, 3);
  RegressionMetrics m = acc.Result();
  EXPECT_EQ(m.count, 3u);
  EXPECT_NEAR(m.mae, 1.0, 1e-12);
  EXPECT_NEAR(m.mse, 5.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.rmse, std::sqrt(5.0 / 3.0), 1e-12);
  acc.Add(std::nan(""), 1.0);
  acc.Add(1.0, INFINITY);
  EXPECT_EQ(acc.Result().nan_predictions, 2u);
  EXPECT_EQ(acc.Result().count, 3u);
  EXPECT_EQ(acc.Result().mae, m.mae);
}

TEST(ExactSumTest, SignedAndOrderIndependent) {
  ExactSum a, b;
  a.Add(-1.5);
  a.Add(1.0);
  EXPECT_EQ(a.Value(), -0.5);
  for (double x : {1e10, 1e-3, -1e10, 0.1}) b.Add(x);
  ExactSum c;
  for (double x : {0.1, -1e10, 1e-3, 1e10}) c.Add(x);
  EXPECT_EQ(b.Value(), c.Value());
  EXPECT_NEAR(b.Value(), 0.101, 1e-11);
  ExactSum huge;  // saturates instead of overflowing
  huge.Add(1e300);
  EXPECT_GT(huge.Value(), 7e25);
}

TEST(RankingMetricsTest, HandComputedNdcgPrecisionRecall) {
  RankingMetricsAccumulator acc(/*k=*/3, /*relevance_threshold=*/1.0);
  // User 1: ranking 0.9(-), 0.8(+), 0.7(-), 0.6(+); one hit at rank 2 of top 3.
  acc.Add(1, 0.9, 0);
  acc.Add(1, 0.6, 1);
  acc.Add(1, 0.8, 1);
  acc.Add(1, 0.7, 0);
  // User 2: the relevant item first: perfect.
  acc.Add(2, 0.5, 1);
  acc.Add(2, 0.1, 0);
  // User 3: nothing relevant, left out of the averages.
  acc.Add(3, 0.5, 0);
  RankingMetrics m = acc.Result();
  EXPECT_EQ(m.users, 2u);
  EXPECT_EQ(m.skipped_users, 1u);
  const double user1_ndcg = (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0));  // 0.386853
  EXPECT_NEAR(user1_ndcg, 0.386853, 1e-6);
  EXPECT_NEAR(m.ndcg, (user1_ndcg + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.precision, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.recall, (0.5 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.hit_rate, 1.0, 1e-12);
}

TEST(RankingMetricsTest, TiesArePessimisticAndLabelsGraded) {
  RankingMetricsAccumulator acc(/*k=*/1, /*relevance_threshold=*/4.0);
  acc.Add(7, 0.5, 5.0);  // relevant, tied with an irrelevant one
  acc.Add(7, 0.5, 2.0);
  acc.Add(7, 0.1, 3.9);  // below the threshold: not relevant
  RankingMetrics m = acc.Result();
  EXPECT_EQ(m.users, 1u);
  EXPECT_EQ(m.hit_rate, 0.0);
  EXPECT_EQ(m.ndcg, 0.0);
}

TEST(MetricsMergeTest, ThreeWaySplitEqualsWhole) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> bucket(0, 50);  // coarse scores: many ties
  std::uniform_real_distribution<double> uniform(0, 1);
  BinaryMetricsAccumulator whole_binary(0.4);
  std::vector<BinaryMetricsAccumulator> parts_binary(3, BinaryMetricsAccumulator(0.4));
  RankingMetricsAccumulator whole_ranking(5, 1.0);
  std::vector<RankingMetricsAccumulator> parts_ranking(3, RankingMetricsAccumulator(5, 1.0));
  for (int i = 0; i < 20000; ++i) {
    const double score = bucket(rng) / 50.0;
    const float label = uniform(rng) < score ? 1.0f : 0.0f;
    const uint64_t user = rng() % 300;
    const int part = static_cast<int>(rng() % 3);  // a user's items land on every worker
    whole_binary.Add(score, label);
    parts_binary[part].Add(score, label);
    whole_ranking.Add(user, score, label);
    parts_ranking[part].Add(user, score, label);
  }
  RegressionMetricsAccumulator whole_r, parts_r[3];
  std::mt19937_64 rng2(7);
  for (int i = 0; i < 20000; ++i) {
    const double p = uniform(rng2) * 5, y = uniform(rng2) * 5;
    whole_r.Add(p, y);
    parts_r[i % 3].Add(p, y);
  }

  // Serialize every part, merge on the "scheduler" in a different order.
  BinaryMetricsAccumulator merged_binary(0.4);
  RegressionMetricsAccumulator merged_r;
  RankingMetricsAccumulator merged_ranking(5, 1.0);
  for (int part : {2, 0, 1}) {
    std::vector<uint8_t> b = parts_binary[part].Serialize();
    auto binary = BinaryMetricsAccumulator::Deserialize(b.data(), b.size());
    ASSERT_TRUE(binary.ok()) << binary.status();
    ASSERT_TRUE(merged_binary.Merge(*binary).ok());
    std::vector<uint8_t> r = parts_r[part].Serialize();
    auto regression = RegressionMetricsAccumulator::Deserialize(r.data(), r.size());
    ASSERT_TRUE(regression.ok()) << regression.status();
    merged_r.Merge(*regression);
    std::vector<uint8_t> k = parts_ranking[part].Serialize();
    auto ranking = RankingMetricsAccumulator::Deserialize(k.data(), k.size());
    ASSERT_TRUE(ranking.ok()) << ranking.status();
    ASSERT_TRUE(merged_ranking.Merge(*ranking).ok());
  }

  const BinaryMetrics want_b = whole_binary.Result(), got_b = merged_binary.Result();
  EXPECT_EQ(got_b.count, want_b.count);
  EXPECT_EQ(got_b.positives, want_b.positives);
  EXPECT_EQ(got_b.auc, want_b.auc);
  EXPECT_EQ(got_b.logloss, want_b.logloss);
  EXPECT_EQ(got_b.accuracy, want_b.accuracy);
  EXPECT_EQ(got_b.precision, want_b.precision);
  EXPECT_EQ(got_b.recall, want_b.recall);
  EXPECT_EQ(got_b.f1, want_b.f1);
  EXPECT_GT(want_b.auc, 0.6);

  const RegressionMetrics want_r = whole_r.Result(), got_r = merged_r.Result();
  EXPECT_EQ(got_r.count, want_r.count);
  EXPECT_EQ(got_r.mae, want_r.mae);
  EXPECT_EQ(got_r.mse, want_r.mse);
  EXPECT_EQ(got_r.rmse, want_r.rmse);

  const RankingMetrics want_k = whole_ranking.Result(), got_k = merged_ranking.Result();
  EXPECT_EQ(got_k.users, want_k.users);
  EXPECT_EQ(got_k.precision, want_k.precision);
  EXPECT_EQ(got_k.recall, want_k.recall);
  EXPECT_EQ(got_k.ndcg, want_k.ndcg);
  EXPECT_EQ(got_k.hit_rate, want_k.hit_rate);
  EXPECT_GT(want_k.users, 250u);
}

TEST(MetricsSerializationTest, RejectsCorruptOrMismatchedStates) {
  BinaryMetricsAccumulator acc;
  acc.Add(0.3, 1);
  acc.Add(0.7, 0);
  std::vector<uint8_t> bytes = acc.Serialize();
  auto truncated = BinaryMetricsAccumulator::Deserialize(bytes.data(), bytes.size() - 1);
  EXPECT_EQ(truncated.status().code(), StatusCode::kDataLoss);
  auto wrong_kind = RegressionMetricsAccumulator::Deserialize(bytes.data(), bytes.size());
  EXPECT_EQ(wrong_kind.status().code(), StatusCode::kDataLoss);
  BinaryMetricsAccumulator other(0.9);
  EXPECT_EQ(acc.Merge(other).code(), StatusCode::kInvalidArgument);
  RankingMetricsAccumulator k5(5, 1.0), k10(10, 1.0);
  EXPECT_EQ(k5.Merge(k10).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace metaps
