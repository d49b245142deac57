// Hashing shared by the whole system: a 64-bit mixer, a counter-based random
// generator for deterministic initialization, and CRC32C for file checksums.
// All functions are pure and thread-safe.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace metaps {

// The splitmix64 / murmur3-style finalizer: a bijection on 64 bits with full
// avalanche. Used for key partitioning and hash-table placement.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Counter-based generator: the stream of (seed, table_id, key) is a splitmix64
// sequence whose element i depends on nothing else, so a row's initial values are
// the same whichever server or thread creates it, and in whatever order.
inline uint64_t RowStreamSeed(uint64_t seed, uint32_t table_id, uint64_t key) {
  return Mix64(Mix64(seed ^ Mix64(0x5eedULL + table_id)) ^ key);
}
inline uint64_t StreamBits(uint64_t stream_seed, uint64_t index) {
  return Mix64(stream_seed + (index + 1) * 0x9e3779b97f4a7c15ULL);
}
// Uniform in [0, 1) with 24 random bits (every value exactly representable).
inline float BitsToUniform(uint64_t bits) {
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}
// Standard normal by Box-Muller on the two 32-bit halves, computed in double.
inline float BitsToNormal(uint64_t bits) {
  const double u1 = (static_cast<double>(bits >> 32) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  const double u2 = static_cast<double>(bits & 0xffffffffULL) * (1.0 / 4294967296.0);
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

inline float CounterUniform(uint64_t seed, uint32_t table_id, uint64_t key, uint64_t index) {
  return BitsToUniform(StreamBits(RowStreamSeed(seed, table_id, key), index));
}
inline float CounterNormal(uint64_t seed, uint32_t table_id, uint64_t key, uint64_t index) {
  return BitsToNormal(StreamBits(RowStreamSeed(seed, table_id, key), index));
}

// CRC32C (Castagnoli): the CPU's CRC32 instruction (SSE4.2) where the CPU
// has it, else software slicing-by-8; both give the same values.
// Crc32cExtend(0, ...) == Crc32c(...); Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
// The two implementations, for tests and benchmarks. Crc32cExtendHardware
// REQUIRES Crc32cHardwareAvailable().
uint32_t Crc32cExtendSoftware(uint32_t crc, const void* data, size_t n);
uint32_t Crc32cExtendHardware(uint32_t crc, const void* data, size_t n);
bool Crc32cHardwareAvailable();
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace metaps
