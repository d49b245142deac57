#include "common/aligned_vector.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace metaps {
namespace {

bool OnALine(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(AlignedVectorTest, StorageStartsOnACacheLineAtEverySize) {
  // Sizes that malloc serves from its heap (16-byte aligned) and from mmap
  // (page + 16 bytes): neither is a cache line without the allocator.
  for (size_t n : {1u, 3u, 17u, 1000u, 65536u * 64u}) {
    AlignedVector<float> v(n, 1.0f);
    EXPECT_TRUE(OnALine(v.data())) << n << " floats";
    EXPECT_EQ(v.size(), n);
    EXPECT_EQ(v[n - 1], 1.0f);
  }
  AlignedVector<uint64_t> keys;
  for (uint64_t k = 0; k < 5000; ++k) {  // every reallocation as it grows
    keys.push_back(k);
    ASSERT_TRUE(OnALine(keys.data())) << "after " << k + 1 << " push_backs";
  }
  EXPECT_EQ(keys[4999], 4999u);
}

TEST(AlignedVectorTest, CopiesAndMovesKeepTheValuesAndTheAlignment) {
  AlignedVector<float> a(100);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  AlignedVector<float> b = a;
  EXPECT_TRUE(OnALine(b.data()));
  EXPECT_EQ(a, b);
  std::vector<AlignedVector<float>> nested;
  nested.push_back(std::move(b));
  EXPECT_TRUE(OnALine(nested[0].data()));
  EXPECT_EQ(nested[0], a);
}

}  // namespace
}  // namespace metaps
