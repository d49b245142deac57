#include "ps/row_slab.h"

#include <string>

namespace metaps {
namespace {

constexpr size_t kFirstChunkBytes = size_t{64} << 10;
constexpr size_t kMaxChunkBytes = size_t{2} << 20;

int Log2Ceil(uint64_t x) {
  int lg = 0;
  while ((uint64_t{1} << lg) < x) ++lg;
  return lg;
}

}  // namespace

RowSlab::RowSlab(int row_floats) : row_bytes_(static_cast<size_t>(row_floats) * sizeof(float)) {
  // 16-byte rows for SIMD; rows above 256 bytes start on a cache line.
  const size_t align = row_bytes_ > 256 ? 64 : 16;
  stride_ = (row_bytes_ + align - 1) / align * align;
  log2_max_ = Log2Ceil((kMaxChunkBytes + stride_ - 1) / stride_);
  log2_first_ = Log2Ceil((kFirstChunkBytes + stride_ - 1) / stride_);
  if (log2_first_ > log2_max_) log2_first_ = log2_max_;
  first_rows_ = uint64_t{1} << log2_first_;
  max_rows_ = uint64_t{1} << log2_max_;
  geometric_chunks_ = static_cast<size_t>(log2_max_ - log2_first_);
}

Status RowSlab::AddChunk() {
  const size_t c = chunks_.size();
  const uint64_t rows = c < geometric_chunks_ ? first_rows_ << c : max_rows_;
  if (capacity_ + rows > UINT32_MAX) {
    return Internal("table stripe is full: " + std::to_string(capacity_) + " rows");
  }
  const size_t rows_bytes = rows * stride_;
  ASSIGN_OR_RETURN(PageMemory memory, PageMemory::Allocate(rows_bytes + rows * sizeof(SlotMeta)));
  char* base = static_cast<char*>(memory.data());
  auto* meta = reinterpret_cast<SlotMeta*>(base + rows_bytes);
  for (uint64_t i = 0; i < rows; ++i) meta[i].last_step = kFreeSlot;
  bytes_ += memory.size();
  chunks_.push_back(Chunk{std::move(memory), base, meta});
  capacity_ += rows;
  return Status::Ok();
}

StatusOr<uint32_t> RowSlab::Allocate() {
  if (!free_.empty()) {
    const uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  if (high_water_ == capacity_) RETURN_IF_ERROR(AddChunk());
  return high_water_++;
}

void RowSlab::Free(uint32_t slot) {
  Meta(slot).last_step = kFreeSlot;
  free_.push_back(slot);
}

Status RowSlab::Reserve(size_t rows) {
  if (chunks_.empty() && rows >= max_rows_) {
    // Big from the start: skip the small chunks, which sit on 4 KiB pages (each
    // random access to them is a TLB miss, costly under nested paging).
    first_rows_ = max_rows_;
    log2_first_ = log2_max_;
    geometric_chunks_ = 0;
  }
  while (capacity_ < rows) RETURN_IF_ERROR(AddChunk());
  return Status::Ok();
}

}  // namespace metaps
