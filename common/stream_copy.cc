#include "common/stream_copy.h"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace metaps {
namespace {

// The bytes before dst's first line boundary (at most `bytes`).
inline size_t HeadBytes(const void* dst, size_t bytes) {
  return std::min(bytes, (64 - reinterpret_cast<uintptr_t>(dst) % 64) % 64);
}

}  // namespace

void StreamRowSse2(void* __restrict dst, const void* __restrict src, size_t bytes) {
#if defined(__SSE2__)
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  const size_t head = HeadBytes(d, bytes);
  std::memcpy(d, s, head);
  size_t done = head;
  for (; done + 64 <= bytes; done += 64) {
    auto* line = reinterpret_cast<__m128i*>(d + done);
    const auto* from = reinterpret_cast<const __m128i*>(s + done);
    _mm_stream_si128(line, _mm_loadu_si128(from));
    _mm_stream_si128(line + 1, _mm_loadu_si128(from + 1));
    _mm_stream_si128(line + 2, _mm_loadu_si128(from + 2));
    _mm_stream_si128(line + 3, _mm_loadu_si128(from + 3));
  }
  std::memcpy(d + done, s + done, bytes - done);
#else
  std::memcpy(dst, src, bytes);
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) void StreamRowAvx512(void* __restrict dst,
                                                        const void* __restrict src, size_t bytes) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  const size_t head = HeadBytes(d, bytes);
  std::memcpy(d, s, head);
  size_t done = head;
  for (; done + 64 <= bytes; done += 64) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d + done), _mm512_loadu_si512(s + done));
  }
  std::memcpy(d + done, s + done, bytes - done);
}

bool CpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#else
void StreamRowAvx512(void* __restrict dst, const void* __restrict src, size_t bytes) {
  StreamRowSse2(dst, src, bytes);
}
bool CpuHasAvx512() { return false; }
#endif

RowCopyFn StreamRowFn() {
  static const RowCopyFn fn = CpuHasAvx512() ? &StreamRowAvx512 : &StreamRowSse2;
  return fn;
}

}  // namespace metaps
