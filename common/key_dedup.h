// Distinct keys of a request, with each input position's index among them.
// Open addressing over a power-of-two table at most half full; the buffers are
// kept between calls, so a reused KeyDedup allocates nothing in steady state.
// Not thread-safe: one per caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/hash.h"

namespace metaps {

class KeyDedup {
 public:
  // Appends keys[0..n) to the distinct keys seen since Reset (in first-seen
  // order) and writes each key's index among them to index[0..n).
  void Add(const uint64_t* keys, size_t n, uint32_t* index) {
    Reserve(unique_.size() + n);
    for (size_t i = 0; i < n; ++i) {
      size_t s = Mix64(keys[i]) & mask_;
      while (slots_[s] != kEmpty && unique_[slots_[s]] != keys[i]) s = (s + 1) & mask_;
      if (slots_[s] == kEmpty) {
        slots_[s] = static_cast<uint32_t>(unique_.size());
        unique_.push_back(keys[i]);
      }
      index[i] = slots_[s];
    }
  }
  // Forgets every key. `expected` sizes the table for the next Adds.
  void Reset(size_t expected) {
    unique_.clear();
    size_t capacity = 16;
    while (capacity < 2 * expected) capacity <<= 1;
    slots_.assign(capacity, kEmpty);
    mask_ = capacity - 1;
  }
  const std::vector<uint64_t>& unique() const { return unique_; }
  std::vector<uint64_t>& unique() { return unique_; }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  // Rehashes when more than half full (Add never probes a full table).
  void Reserve(size_t keys) {
    if (2 * keys <= slots_.size()) return;
    std::vector<uint64_t> keep;
    keep.swap(unique_);
    Reset(keys);
    std::vector<uint32_t> ignored(keep.size());
    Add(keep.data(), keep.size(), ignored.data());
  }

  std::vector<uint32_t> slots_;
  std::vector<uint64_t> unique_;
  size_t mask_ = 0;
};

}  // namespace metaps
