// Row copies into large output buffers with non-temporal (streaming) stores.
//
// A gather or scatter of rows into a buffer much larger than the cache (a
// 65,536-row pull is 16 MiB at dim 64) spends about half its memory traffic
// reading destination lines before overwriting them (the read-for-ownership
// of an ordinary store). Streaming stores skip that read: on the 2-core VMs
// this project runs on, a 16 MiB scatter of 256-byte rows takes 1.3-1.4 ms
// instead of 2.7-3.6 ms. They also leave the destination out of the cache, so
// they only pay where the buffer is too large to stay there anyway: use
// ShouldStream to decide, and call StreamFence once after the copies, before
// the buffer is handed to another thread (or socket).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace metaps {

// Outputs at least this large are written with streaming stores (twice the
// per-core L2 of the machines measured).
constexpr size_t kStreamMinBytes = size_t{4} << 20;

// True when rows of `row_bytes` written to `dst` can use StreamRow: every
// row starts 16-byte aligned.
inline bool CanStream(const void* dst, size_t row_bytes) {
#if defined(__SSE2__)
  return row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0;
#else
  (void)dst, (void)row_bytes;
  return false;
#endif
}

// True when they also should: the output (`total_bytes` in all) is large.
inline bool ShouldStream(const void* dst, size_t row_bytes, size_t total_bytes) {
  return total_bytes >= kStreamMinBytes && CanStream(dst, row_bytes);
}

// Copies one row with streaming stores. REQUIRES: CanStream was true for this
// destination buffer (dst 16-byte aligned, bytes a multiple of 16).
inline void StreamRow(void* __restrict dst, const void* __restrict src, size_t bytes) {
#if defined(__SSE2__)
  auto* d = static_cast<__m128i*>(dst);
  const auto* s = static_cast<const __m128i*>(src);
  for (size_t i = 0; i < bytes / 16; ++i) _mm_stream_si128(d + i, _mm_loadu_si128(s + i));
#else
  std::memcpy(dst, src, bytes);
#endif
}

// Orders the streaming stores before any later store (they are weakly ordered).
inline void StreamFence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace metaps
