// Zeroed memory blocks for slabs and indexes. Blocks of 2 MiB and more come
// straight from mmap, 2 MiB-aligned, backed by transparent huge pages where the
// kernel allows and pre-faulted at allocation: on this machine the first touch of
// a 4 KiB page costs ~10 us, so big slabs are faulted in bulk once rather than
// page by page on the hot path. Smaller blocks come from malloc. Move-only.
#pragma once

#include <cstddef>

#include "common/status.h"

namespace metaps {

class PageMemory {
 public:
  PageMemory() = default;
  ~PageMemory();
  PageMemory(PageMemory&& other) noexcept;
  PageMemory& operator=(PageMemory&& other) noexcept;
  PageMemory(const PageMemory&) = delete;
  PageMemory& operator=(const PageMemory&) = delete;

  // Returns `bytes` (rounded up to the page size) of zeroed, pre-faulted memory.
  static StatusOr<PageMemory> Allocate(size_t bytes);

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  PageMemory(void* data, size_t size, bool mapped) : data_(data), size_(size), mapped_(mapped) {}
  void Release();

  void* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;  // from mmap (else malloc)
};

}  // namespace metaps
