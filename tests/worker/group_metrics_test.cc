// Per-user ranking, GAUC and per-scenario accumulators: hand-computed values,
// and merges of any split equal to one accumulator fed everything.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/metrics.h"

namespace metaps {
namespace {

TEST(RankUserTest, TiesArePessimisticAndNanRanksLast) {
  // Relevant item tied with two non-relevant at the top: it ranks third.
  std::vector<RankedCandidate> c = {{0.9, false}, {0.9, true}, {0.9, false}, {NAN, false}};
  UserRanking u;
  ASSERT_TRUE(RankUser(&c, 2, &u));
  EXPECT_EQ(u.hit_rate, 0.0);
  ASSERT_TRUE(RankUser(&c, 3, &u));
  EXPECT_DOUBLE_EQ(u.ndcg, 1.0 / std::log2(4.0));  // rank 3, ideal rank 1
  EXPECT_DOUBLE_EQ(u.precision, 1.0 / 3.0);
  EXPECT_EQ(u.candidates, 4u);
  std::vector<RankedCandidate> nan_relevant = {{NAN, true}, {0.1, false}};
  ASSERT_TRUE(RankUser(&nan_relevant, 1, &u));
  EXPECT_EQ(u.hit_rate, 0.0);
  std::vector<RankedCandidate> none = {{0.5, false}};
  EXPECT_FALSE(RankUser(&none, 1, &u));
}

TEST(UserRankingAccumulatorTest, MergeOfAnySplitIsExactAndUsersAreUnique) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> unit(0, 1);
  UserRankingAccumulator whole(5, "all_unrated"), a(5, "all_unrated"), b(5, "all_unrated");
  for (uint64_t user = 1; user <= 200; ++user) {
    std::vector<RankedCandidate> c;
    for (int i = 0; i < 30; ++i) c.push_back({unit(rng), unit(rng) < 0.1});
    UserRanking u;
    UserRankingAccumulator& part = rng() % 2 ? a : b;
    if (RankUser(&c, 5, &u)) {
      whole.Add(user, u);
      part.Add(user, u);
    } else {
      whole.AddSkipped(user);
      part.AddSkipped(user);
    }
  }
  auto b_bytes = b.Serialize();
  auto b2 = UserRankingAccumulator::Deserialize(b_bytes.data(), b_bytes.size());
  ASSERT_TRUE(b2.ok()) << b2.status();
  UserRankingAccumulator merged = b2.value();
  ASSERT_TRUE(merged.Merge(a).ok());
  const RankingMetrics want = whole.Result(), got = merged.Result();
  EXPECT_GT(want.users, 100u);
  EXPECT_GT(want.skipped_users, 0u);
  EXPECT_EQ(got.users, want.users);
  EXPECT_EQ(got.skipped_users, want.skipped_users);
  EXPECT_EQ(got.candidates, want.candidates);
  EXPECT_EQ(got.ndcg, want.ndcg);  // bit for bit
  EXPECT_EQ(got.recall, want.recall);
  EXPECT_EQ(got.precision, want.precision);
  EXPECT_EQ(got.hit_rate, want.hit_rate);
  EXPECT_EQ(merged.protocol(), "all_unrated");
  // A user ranked by two workers, or another protocol, is refused.
  EXPECT_EQ(merged.Merge(a).code(), StatusCode::kInvalidArgument);
  UserRankingAccumulator sampled(5, "sampled_100");
  EXPECT_EQ(merged.Merge(sampled).code(), StatusCode::kInvalidArgument);
  auto truncated = UserRankingAccumulator::Deserialize(b_bytes.data(), b_bytes.size() - 1);
  EXPECT_EQ(truncated.status().code(), StatusCode::kDataLoss);
}

TEST(GaucTest, HandComputed) {
  GaucAccumulator acc;
  // User 1: pos 0.8, 0.4; neg 0.5, 0.1 -> pairs won: (0.8>0.5, 0.8>0.1, 0.4>0.1) = 3 of 4.
  for (auto [s, l] :
       std::vector<std::pair<double, float>>{{0.8, 1}, {0.4, 1}, {0.5, 0}, {0.1, 0}}) {
    acc.Add(1, s, l);
  }
  // User 2: pos 0.3; negs 0.3 (a tie: one half) and 0.6 -> 0.5 of 2 pairs = 0.25.
  acc.Add(2, 0.3, 1);
  acc.Add(2, 0.3, 0);
  acc.Add(2, 0.6, 0);
  // User 3: only positives (left out); user 0: unknown (left out).
  acc.Add(3, 0.9, 1);
  acc.Add(0, 0.1, 1);
  acc.Add(0, 0.9, 0);
  const GaucMetrics m = acc.Result();
  EXPECT_EQ(m.users, 2u);
  EXPECT_EQ(m.impressions, 7u);
  EXPECT_EQ(m.all_users, 3u);
  EXPECT_DOUBLE_EQ(m.gauc, (4 * 0.75 + 3 * 0.25) / 7);
  EXPECT_TRUE(std::isnan(GaucAccumulator().Result().gauc));
}

TEST(GaucTest, MergeOfSplitUsersIsExact) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> unit(0, 1);
  GaucAccumulator whole, parts[3];
  for (int i = 0; i < 3000; ++i) {
    const uint64_t user = 1 + rng() % 100;
    const double score = std::round(unit(rng) * 50) / 50;  // ties
    const float label = unit(rng) < score ? 1.0f : 0.0f;
    whole.Add(user, score, label);
    parts[rng() % 3].Add(user, score, label);  // a user's examples on several workers
  }
  GaucAccumulator merged;
  for (auto& p : parts) {
    auto bytes = p.Serialize();
    auto back = GaucAccumulator::Deserialize(bytes.data(), bytes.size());
    ASSERT_TRUE(back.ok()) << back.status();
    merged.Merge(back.value());
  }
  EXPECT_EQ(merged.Result().gauc, whole.Result().gauc);
  EXPECT_EQ(merged.Result().users, whole.Result().users);
  EXPECT_GT(whole.Result().gauc, 0.6);
}

TEST(ScenarioMetricsTest, SplitMergeEqualsOneAccumulator) {
  for (bool logistic : {true, false}) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> unit(0, 1);
    ScenarioMetricsAccumulator whole(logistic), a(logistic), b(logistic);
    BinaryMetricsAccumulator scenario1_binary;
    RegressionMetricsAccumulator scenario1_regression;
    for (int i = 0; i < 2000; ++i) {
      const uint32_t id = rng() % 3;
      const float score = unit(rng);
      const float label = logistic ? (unit(rng) < score ? 1.0f : 0.0f) : 5 * unit(rng);
      whole.AddBatch(&id, &score, &label, 1);
      (i % 2 ? a : b).AddBatch(&id, &score, &label, 1);
      if (id == 1) {
        scenario1_binary.Add(score, label);
        scenario1_regression.Add(score, label);
      }
    }
    auto bytes = a.Serialize();
    auto merged = ScenarioMetricsAccumulator::Deserialize(bytes.data(), bytes.size());
    ASSERT_TRUE(merged.ok()) << merged.status();
    ASSERT_TRUE(merged.value().Merge(b).ok());
    ASSERT_EQ(merged.value().num_scenarios(), 3u);
    if (logistic) {
      auto got = merged.value().BinaryResults(), want = whole.BinaryResults();
      for (uint32_t id = 0; id < 3; ++id) {
        EXPECT_EQ(got[id].count, want[id].count);
        EXPECT_EQ(got[id].auc, want[id].auc);
        EXPECT_EQ(got[id].logloss, want[id].logloss);
      }
      EXPECT_EQ(want[1].auc, scenario1_binary.Result().auc);
      EXPECT_EQ(merged.value().MergedBinary().Result().auc, [&] {
        BinaryMetricsAccumulator all = whole.MergedBinary();
        return all.Result().auc;
      }());
    } else {
      auto got = merged.value().RegressionResults(), want = whole.RegressionResults();
      for (uint32_t id = 0; id < 3; ++id) {
        EXPECT_EQ(got[id].count, want[id].count);
        EXPECT_EQ(got[id].rmse, want[id].rmse);
        EXPECT_EQ(got[id].mae, want[id].mae);
      }
      EXPECT_EQ(want[1].rmse, scenario1_regression.Result().rmse);
    }
  }
}

TEST(ScenarioMetricsTest, OneScenarioRefersToTheOverallState) {
  ScenarioMetricsAccumulator acc(true);
  const uint32_t ids[3] = {7, 7, 7};
  const float scores[3] = {0.2f, 0.7f, 0.4f}, labels[3] = {0, 1, 1};
  acc.AddBatch(ids, scores, labels, 3);
  const auto overall = acc.MergedBinary().Serialize();
  const auto bytes = acc.Serialize(/*single_refers_to_overall=*/true);
  EXPECT_LT(bytes.size(), overall.size());  // no second copy of the histogram
  auto back = ScenarioMetricsAccumulator::Deserialize(bytes.data(), bytes.size(), overall.data(),
                                                      overall.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back.value().BinaryResults().at(7).auc, 1.0);
  EXPECT_EQ(ScenarioMetricsAccumulator::Deserialize(bytes.data(), bytes.size()).status().code(),
            StatusCode::kDataLoss);
}

}  // namespace
}  // namespace metaps
