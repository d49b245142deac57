#include "ps/key_index.h"

#include <algorithm>
#include <utility>

namespace metaps {

bool KeyIndex::Erase(uint64_t key, uint64_t hash) {
  if (entries_ == nullptr) return false;
  size_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    if (entries_[i].value == kAbsent) return false;
    if (entries_[i].key == key) break;
  }
  // Backward shift: pull later entries of the run into the hole when the hole
  // lies on their probe path (between their home slot and where they sit).
  for (size_t j = (i + 1) & mask_; entries_[j].value != kAbsent; j = (j + 1) & mask_) {
    const size_t home = Hash(entries_[j].key) & mask_;
    if (((j - home) & mask_) >= ((j - i) & mask_)) {
      entries_[i] = entries_[j];
      i = j;
    }
  }
  entries_[i].value = kAbsent;
  --size_;
  return true;
}

Status KeyIndex::Reserve(size_t n) {
  size_t capacity = std::max<size_t>(this->capacity(), 16);
  while (n * 10 > capacity * 7) capacity *= 2;
  if (entries_ != nullptr && capacity == this->capacity()) return Status::Ok();
  return Rehash(capacity);
}

Status KeyIndex::Rehash(size_t new_capacity) {
  new_capacity = std::max<size_t>(new_capacity, 16);
  ASSIGN_OR_RETURN(PageMemory memory, PageMemory::Allocate(new_capacity * sizeof(Entry)));
  auto* entries = static_cast<Entry*>(memory.data());
  for (size_t i = 0; i < new_capacity; ++i) entries[i].value = kAbsent;
  const size_t mask = new_capacity - 1;
  for (size_t i = 0; entries_ != nullptr && i <= mask_; ++i) {
    const Entry& e = entries_[i];
    if (e.value == kAbsent) continue;
    size_t j = Hash(e.key) & mask;
    while (entries[j].value != kAbsent) j = (j + 1) & mask;
    entries[j] = e;
  }
  memory_ = std::move(memory);
  entries_ = entries;
  mask_ = mask;
  return Status::Ok();
}

}  // namespace metaps
