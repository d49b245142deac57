#include "common/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace metaps {
namespace {

// Zipf(s) over {1..n} by rejection-inversion (Hoermann & Derflinger 1996), O(1)
// memory, as in Apache Commons' RejectionInversionZipfSampler.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double s) : n_(n), s_(s) {
    h_x1_ = HIntegral(1.5) - 1.0;
    h_n_ = HIntegral(static_cast<double>(n) + 0.5);
    skip_ = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
  }
  template <typename Rng>
  uint64_t operator()(Rng& rng) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    while (true) {
      const double u = h_n_ + uniform(rng) * (h_x1_ - h_n_);
      const double x = HIntegralInverse(u);
      double k = std::floor(x + 0.5);
      k = std::min(std::max(k, 1.0), static_cast<double>(n_));
      if (k - x <= skip_ || u >= HIntegral(k + 0.5) - H(k)) return static_cast<uint64_t>(k);
    }
  }

 private:
  double H(double x) const { return std::exp(-s_ * std::log(x)); }
  double HIntegral(double x) const {
    const double log_x = std::log(x);
    return Helper2((1.0 - s_) * log_x) * log_x;
  }
  double HIntegralInverse(double x) const {
    double t = x * (1.0 - s_);
    if (t < -1.0) t = -1.0;
    return std::exp(Helper1(t) * x);
  }
  static double Helper1(double x) { return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x / 2; }
  static double Helper2(double x) { return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x / 2; }

  uint64_t n_;
  double s_;
  double h_x1_, h_n_, skip_;
};

TEST(PartitionTest, RangeAndDeterminism) {
  for (int servers : {1, 2, 3, 7, 64}) {
    for (uint64_t key = 0; key < 10000; ++key) {
      const int s = KeyToServer(key, servers);
      ASSERT_GE(s, 0);
      ASSERT_LT(s, servers);
      ASSERT_EQ(s, KeyToServer(key, servers));
    }
  }
  EXPECT_EQ(KeyToServer(~uint64_t{0}, 1), 0);
}

TEST(PartitionTest, ZipfKeysAreBalanced) {
  std::mt19937_64 rng(2024);
  ZipfSampler zipf(10000000, 1.1);
  std::vector<uint64_t> samples(1000000);
  for (uint64_t& k : samples) k = zipf(rng);
  std::vector<uint64_t> distinct = samples;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  ASSERT_GT(distinct.size(), 50000u);
  // The hottest key alone: no hash partition can split one key.
  std::vector<uint64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  size_t hottest = 0;
  for (size_t i = 0, j = 0; i < sorted.size(); i = j) {
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    hottest = std::max(hottest, j - i);
  }

  for (int servers : {2, 3, 4, 8}) {
    std::vector<double> by_key(servers, 0), by_use(servers, 0);
    for (uint64_t k : distinct) by_key[KeyToServer(k, servers)] += 1;
    for (uint64_t k : samples) by_use[KeyToServer(k, servers)] += 1;
    const double mean_key = static_cast<double>(distinct.size()) / servers;
    const double max_key = *std::max_element(by_key.begin(), by_key.end());
    EXPECT_LE(max_key, 1.10 * mean_key) << servers << " servers";
    // Weighted by occurrence: balanced up to the one key that cannot be split.
    const double mean_use = static_cast<double>(samples.size()) / servers;
    const double max_use = *std::max_element(by_use.begin(), by_use.end());
    EXPECT_LE(max_use, 1.10 * mean_use + hottest) << servers << " servers";
  }
}

}  // namespace
}  // namespace metaps
