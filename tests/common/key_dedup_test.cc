// KeyDedup: first-seen order, indices, growth past the sized capacity, reuse.
#include "common/key_dedup.h"

#include <gtest/gtest.h>

#include <map>

namespace metaps {
namespace {

TEST(KeyDedupTest, DistinctKeysInFirstSeenOrderWithIndices) {
  KeyDedup dedup;
  dedup.Reset(2);  // far fewer than added: exercises the rehash
  std::vector<uint64_t> keys;
  for (uint64_t i = 0; i < 5000; ++i) keys.push_back((i * 7919) % 1300 + (1ULL << 40));
  std::vector<uint32_t> index(keys.size());
  dedup.Add(keys.data(), keys.size(), index.data());
  std::map<uint64_t, uint32_t> first;
  for (uint64_t k : keys) first.emplace(k, static_cast<uint32_t>(first.size()));
  ASSERT_EQ(dedup.unique().size(), first.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(dedup.unique()[index[i]], keys[i]);
    EXPECT_EQ(index[i], first[keys[i]]);
  }
  dedup.Reset(4);
  uint64_t again[3] = {9, 9, 8};
  uint32_t idx[3];
  dedup.Add(again, 3, idx);
  EXPECT_EQ(dedup.unique(), (std::vector<uint64_t>{9, 8}));
  EXPECT_EQ(idx[1], 0u);
  EXPECT_EQ(idx[2], 1u);
}

}  // namespace
}  // namespace metaps
