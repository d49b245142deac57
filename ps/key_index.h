// An open-addressing hash map from 64-bit key to 32-bit value, written for the
// embedding table's key -> row-slot index and its admission counters: linear
// probing, power-of-two capacity, growth at load > 0.7, backward-shift deletion
// (no tombstones). Callers pass the key's hash (KeyIndex::Hash) so that it is
// computed once per key per request. Not thread-safe: the owner locks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/hash.h"
#include "common/status.h"
#include "ps/page_memory.h"

namespace metaps {

class KeyIndex {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;  // not a storable value

  // Placement hash. Salted so that it is independent of KeyToServer's, whose
  // top bits are the same for every key of one server.
  static uint64_t Hash(uint64_t key) { return Mix64(key ^ 0x6a09e667f3bcc909ULL); }

  KeyIndex() = default;

  size_t size() const { return size_; }
  size_t capacity() const { return mask_ + (entries_ ? 1 : 0); }
  size_t bytes() const { return memory_.size(); }

  // Returns the value stored for `key`, or kAbsent.
  uint32_t Find(uint64_t key, uint64_t hash) const {
    if (entries_ == nullptr) return kAbsent;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.value == kAbsent) return kAbsent;
      if (e.key == key) return e.value;
    }
  }

  // Returns the value of `key`, inserting `value` first if the key is absent.
  // The pointer is valid until the next insertion or erase.
  // REQUIRES: value != kAbsent.
  StatusOr<uint32_t*> FindOrInsert(uint64_t key, uint64_t hash, uint32_t value) {
    if ((size_ + 1) * 10 > capacity() * 7) RETURN_IF_ERROR(Rehash(capacity() * 2));
    size_t i = hash & mask_;
    for (;; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.value == kAbsent) break;
      if (e.key == key) return &e.value;
    }
    entries_[i].key = key;
    entries_[i].value = value;
    ++size_;
    return &entries_[i].value;
  }

  // Removes `key`; returns false if it was absent.
  bool Erase(uint64_t key, uint64_t hash);

  // Grows so that `n` keys fit without a rehash.
  Status Reserve(size_t n);

  void Prefetch(uint64_t hash) const {
    if (entries_ != nullptr) __builtin_prefetch(&entries_[hash & mask_]);
  }

 private:
  struct Entry {
    uint64_t key;
    uint32_t value;  // kAbsent marks an empty slot
    uint32_t unused;
  };

  Status Rehash(size_t new_capacity);

  PageMemory memory_;
  Entry* entries_ = nullptr;
  size_t mask_ = 0;  // capacity - 1
  size_t size_ = 0;
};

}  // namespace metaps
