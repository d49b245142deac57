// std::vector with cache-line-aligned storage: for arrays of embedding rows,
// so that a row of a multiple of 16 floats starts on a 64-byte line and is
// read or written as whole lines (a row of dim 64 then spans 4 lines, not 5).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace metaps {

template <typename T, size_t kAlign = 64>
struct AlignedAllocator {
  static_assert(kAlign >= alignof(T) && (kAlign & (kAlign - 1)) == 0,
                "kAlign: a power of two, at least T's own alignment");
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) {}  // NOLINT: allocator conversion

  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kAlign}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{kAlign}); }

  template <typename U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const AlignedAllocator<U, kAlign>&) const {
    return false;
  }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace metaps
