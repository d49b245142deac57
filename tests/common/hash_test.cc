#include "common/hash.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

namespace metaps {
namespace {

// Bit-at-a-time CRC32C, the definition the sliced version must agree with.
uint32_t ReferenceCrc32c(const uint8_t* p, size_t n) {
  uint32_t c = ~0u;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32cTest, KnownVector) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  const std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
}

// The CPU's CRC32 instruction and the software tables agree everywhere
// (Crc32c uses the first where the CPU has it).
TEST(Crc32cTest, HardwareAndSoftwareAgree) {
  if (!Crc32cHardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::vector<uint8_t> data(4096 + 16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(Mix64(i * 31));
  for (size_t start = 0; start < 16; ++start) {
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
      for (uint32_t seed : {0u, 0xdeadbeefu}) {
        ASSERT_EQ(Crc32cExtendHardware(seed, data.data() + start, n),
                  Crc32cExtendSoftware(seed, data.data() + start, n))
            << "start " << start << " n " << n;
      }
    }
  }
  EXPECT_EQ(Crc32cExtendHardware(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, MatchesBitwiseReferenceAtEveryLengthAndAlignment) {
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(Mix64(i));
  for (size_t start = 0; start < 8; ++start) {
    for (size_t n = 0; start + n <= data.size(); n += 7) {
      ASSERT_EQ(Crc32c(data.data() + start, n), ReferenceCrc32c(data.data() + start, n))
          << "start " << start << " n " << n;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string text = "the quick brown fox jumps over the lazy dog, twice over";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    const uint32_t first = Crc32c(text.data(), cut);
    EXPECT_EQ(Crc32cExtend(first, text.data() + cut, text.size() - cut),
              Crc32c(text.data(), text.size()));
  }
}

TEST(Mix64Test, IsInjectiveOnASampleAndAvalanches) {
  std::unordered_set<uint64_t> seen;
  for (uint64_t i = 0; i < 100000; ++i) ASSERT_TRUE(seen.insert(Mix64(i)).second);
  // Flipping one input bit flips about half of the output bits.
  double total = 0;
  int trials = 0;
  for (uint64_t x = 1; x < 2000; x += 7) {
    for (int bit = 0; bit < 64; ++bit) {
      total += __builtin_popcountll(Mix64(x) ^ Mix64(x ^ (uint64_t{1} << bit)));
      ++trials;
    }
  }
  EXPECT_NEAR(total / trials, 32.0, 0.5);
}

TEST(CounterRandomTest, DependsOnEveryArgumentAndNothingElse) {
  const float a = CounterUniform(7, 3, 12345, 0);
  EXPECT_EQ(a, CounterUniform(7, 3, 12345, 0));
  EXPECT_NE(a, CounterUniform(8, 3, 12345, 0));
  EXPECT_NE(a, CounterUniform(7, 4, 12345, 0));
  EXPECT_NE(a, CounterUniform(7, 3, 12346, 0));
  EXPECT_NE(a, CounterUniform(7, 3, 12345, 1));
  EXPECT_EQ(CounterNormal(1, 2, 3, 4), CounterNormal(1, 2, 3, 4));
}

TEST(CounterRandomTest, UniformAndNormalMoments) {
  const int n = 200000;
  double sum_u = 0, sum_z = 0, sum_z2 = 0;
  for (int i = 0; i < n; ++i) {
    const float u = CounterUniform(42, 1, static_cast<uint64_t>(i), i % 16);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum_u += u;
    const float z = CounterNormal(42, 1, static_cast<uint64_t>(i), i % 16);
    ASSERT_TRUE(std::isfinite(z));
    sum_z += z;
    sum_z2 += static_cast<double>(z) * z;
  }
  EXPECT_NEAR(sum_u / n, 0.5, 0.005);
  EXPECT_NEAR(sum_z / n, 0.0, 0.01);
  EXPECT_NEAR(sum_z2 / n, 1.0, 0.02);
}

}  // namespace
}  // namespace metaps
