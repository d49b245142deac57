// Row copies into large output buffers with non-temporal (streaming) stores.
//
// A gather or scatter of rows into a buffer much larger than the cache (a
// 65,536-row pull is 16 MiB at dim 64) spends about half its memory traffic
// reading destination lines before overwriting them (the read-for-ownership
// of an ordinary store). Streaming stores skip that read: on the 2-core VMs
// this project runs on, a 16 MiB scatter of 256-byte rows took 1.1-2.0 ms
// instead of 2.7-3.6 ms (a microbenchmark). They also leave the destination
// out of the cache, so they only pay where the buffer is too large to stay
// there anyway: use
// ShouldStream to decide, and call StreamFence once after the copies, before
// the buffer is handed to another thread (or socket).
//
// Only whole 64-byte lines are streamed: a partial line written with
// streaming stores and not completed at once (rows written out of order)
// costs the memory controller a read-modify-write, so the bytes of a row
// before its first line boundary and after its last go through the cache.
#pragma once

#include <algorithm>
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

// True when rows of `row_bytes` (`total_bytes` in all) should go through
// StreamRow: the output is large and a row can hold a whole line.
inline bool ShouldStream(size_t row_bytes, size_t total_bytes) {
#if defined(__SSE2__)
  return total_bytes >= kStreamMinBytes && row_bytes >= 64;
#else
  (void)row_bytes, (void)total_bytes;
  return false;
#endif
}

// Copies one row, its whole 64-byte lines of `dst` with streaming stores and
// the partial lines at either end with ordinary ones. Any alignment.
using RowCopyFn = void (*)(void* __restrict dst, const void* __restrict src, size_t bytes);
// One 64-byte store a line (AVX-512, where the CPU has it) or four 16-byte
// ones (SSE2). The first is preferred: the core then writes a whole line at
// once instead of combining four partial writes, about twice as fast in a
// scatter of rows (docs/benchmarks.md).
void StreamRowSse2(void* __restrict dst, const void* __restrict src, size_t bytes);
void StreamRowAvx512(void* __restrict dst, const void* __restrict src, size_t bytes);
bool CpuHasAvx512();
// The widest of the two this CPU runs; callers copying many rows keep it.
RowCopyFn StreamRowFn();
inline void StreamRow(void* __restrict dst, const void* __restrict src, size_t bytes) {
  StreamRowFn()(dst, src, bytes);
}

// Orders the streaming stores before any later store (they are weakly ordered).
inline void StreamFence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

}  // namespace metaps
