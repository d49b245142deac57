// Row storage of one table stripe: rows of `row_floats` floats (value followed by
// optimizer state) in chunks of many rows, plus a small metadata record per slot.
// A slot number stays valid, and its row never moves, until the slot is freed.
// Chunks grow geometrically (64 KiB first) up to >= 2 MiB so that tiny tables
// stay small and big ones sit on huge pages. Not thread-safe: the owner locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"
#include "ps/page_memory.h"

namespace metaps {

class RowSlab {
 public:
  struct SlotMeta {
    uint64_t key;
    int64_t last_step;  // kFreeSlot when the slot holds no row
  };
  static constexpr int64_t kFreeSlot = INT64_MIN;

  explicit RowSlab(int row_floats);
  RowSlab(RowSlab&&) = default;

  // A slot for a new row, preferring freed slots. Its contents are unspecified.
  StatusOr<uint32_t> Allocate();
  // Marks `slot` free for reuse. REQUIRES: slot is live.
  void Free(uint32_t slot);
  // Makes room for `rows` slots without further chunk allocation. On an empty
  // slab, a big reservation uses only full-size (huge-page) chunks.
  Status Reserve(size_t rows);

  float* Row(uint32_t slot) const {
    const Location loc = Locate(slot);
    return reinterpret_cast<float*>(chunks_[loc.chunk].rows + loc.offset * stride_);
  }
  SlotMeta& Meta(uint32_t slot) const {
    const Location loc = Locate(slot);
    return chunks_[loc.chunk].meta[loc.offset];
  }
  void PrefetchRow(uint32_t slot, size_t bytes) const {
    const char* row = reinterpret_cast<const char*>(Row(slot));
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(row + off, 1);
  }

  // Slots [0, high_water()) were handed out at least once; some may be free.
  uint32_t high_water() const { return high_water_; }
  size_t free_slots() const { return free_.size(); }
  size_t free_list_bytes() const { return free_.capacity() * sizeof(uint32_t); }
  size_t bytes() const { return bytes_; }
  size_t row_bytes() const { return row_bytes_; }

 private:
  struct Chunk {
    PageMemory memory;
    char* rows;
    SlotMeta* meta;
  };
  struct Location {
    size_t chunk;
    size_t offset;
  };

  // Slot s maps to u = s + first_rows: chunk c < geometric_chunks_ holds
  // u in [first << c, first << (c + 1)); after that chunks hold max_rows each.
  Location Locate(uint32_t slot) const {
    const uint64_t u = uint64_t{slot} + first_rows_;
    if (u < max_rows_) {
      const int lg = 63 - __builtin_clzll(u);
      return {static_cast<size_t>(lg - log2_first_), static_cast<size_t>(u - (uint64_t{1} << lg))};
    }
    return {geometric_chunks_ + static_cast<size_t>((u - max_rows_) >> log2_max_),
            static_cast<size_t>(u & (max_rows_ - 1))};
  }
  Status AddChunk();

  size_t row_bytes_;  // row_floats * 4
  size_t stride_;     // row_bytes_ rounded up for alignment
  uint64_t first_rows_;
  uint64_t max_rows_;
  int log2_first_;
  int log2_max_;
  size_t geometric_chunks_;
  std::vector<Chunk> chunks_;
  uint64_t capacity_ = 0;  // slots covered by chunks_
  uint32_t high_water_ = 0;
  std::vector<uint32_t> free_;
  size_t bytes_ = 0;
};

}  // namespace metaps
