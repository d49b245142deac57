#include "ps/key_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace metaps {
namespace {

TEST(KeyIndexTest, RandomOperationsMatchAReferenceMap) {
  KeyIndex index;
  std::unordered_map<uint64_t, uint32_t> reference;
  std::mt19937_64 rng(1);
  for (int op = 0; op < 200000; ++op) {
    // A small key space forces long probe runs, wrap-around and many erases.
    const uint64_t key = rng() % 5000;
    const uint64_t hash = KeyIndex::Hash(key);
    switch (rng() % 3) {
      case 0: {
        auto value = index.FindOrInsert(key, hash, static_cast<uint32_t>(op));
        ASSERT_TRUE(value.ok());
        auto [it, inserted] = reference.emplace(key, static_cast<uint32_t>(op));
        ASSERT_EQ(**value, it->second);
        break;
      }
      case 1:
        ASSERT_EQ(index.Erase(key, hash), reference.erase(key) == 1);
        break;
      default: {
        auto it = reference.find(key);
        ASSERT_EQ(index.Find(key, hash), it == reference.end() ? KeyIndex::kAbsent : it->second);
      }
    }
    ASSERT_EQ(index.size(), reference.size());
  }
  for (const auto& [key, value] : reference) {
    ASSERT_EQ(index.Find(key, KeyIndex::Hash(key)), value);
  }
  EXPECT_LE(index.size() * 10, index.capacity() * 7);
}

TEST(KeyIndexTest, GrowthKeepsEveryEntry) {
  KeyIndex index;
  for (uint32_t k = 0; k < 100000; ++k) {
    ASSERT_TRUE(index.FindOrInsert(k * 7919ULL, KeyIndex::Hash(k * 7919ULL), k).ok());
  }
  EXPECT_EQ(index.size(), 100000u);
  EXPECT_GE(index.capacity(), 131072u);
  for (uint32_t k = 0; k < 100000; ++k) {
    ASSERT_EQ(index.Find(k * 7919ULL, KeyIndex::Hash(k * 7919ULL)), k);
  }
  EXPECT_EQ(index.Find(3, KeyIndex::Hash(3)), KeyIndex::kAbsent);
}

}  // namespace
}  // namespace metaps
