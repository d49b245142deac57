// Stable 64-bit feature keys for sparse slots.
//
// Keys must be identical across runs, processes and machines (they name rows
// on the parameter servers and in checkpoints), so the hashes below depend only
// on the bytes of their input: FNV-1a over the token, finished with murmur3's
// fmix64 so that nearby inputs spread over the whole key space and over shards.
// The slot is mixed into the seed, so equal tokens in different slots differ.
#pragma once

#include <cstdint>
#include <string_view>

namespace metaps {

inline constexpr uint64_t kFnv64Offset = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kFnv64Prime = 0x100000001b3ULL;

// murmur3 finaliser: a bijection on uint64_t.
inline constexpr uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

inline constexpr uint64_t Fnv1a64(std::string_view bytes, uint64_t h = kFnv64Offset) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnv64Prime;
  }
  return h;
}

// Per-slot seed; slot + 1 so that slot 0 does not map to Fmix64(0) == 0.
inline constexpr uint64_t SlotSeed(uint32_t slot) {
  return Fmix64((static_cast<uint64_t>(slot) + 1) * 0x9e3779b97f4a7c15ULL);
}

// Key of a categorical string token (Criteo C1..C26, Avazu columns, genres).
inline constexpr uint64_t HashToken(uint32_t slot, std::string_view token) {
  return Fmix64(Fnv1a64(token, kFnv64Offset ^ SlotSeed(slot)));
}

// Key of a numeric id (user id, item id, libsvm index). For a fixed slot this
// is a bijection of `id`, so distinct ids of one slot never collide.
inline constexpr uint64_t HashId(uint32_t slot, uint64_t id) { return Fmix64(id ^ SlotSeed(slot)); }

}  // namespace metaps
