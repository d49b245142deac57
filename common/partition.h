// Key-to-server routing: the one function used by clients (to slice requests),
// servers (to check ownership) and checkpoint restore (to reshard onto any server
// count). Keys are hashed, not ranged, because real ids are skewed.
#pragma once

#include <cstdint>

#include "common/hash.h"

namespace metaps {

// Returns the server index in [0, num_servers) that owns `key`. Inline because
// clients call it once per key. REQUIRES: num_servers >= 1. Pure, thread-safe.
inline int KeyToServer(uint64_t key, int num_servers) {
  // Lemire's fastrange maps the mixed hash onto [0, S) without a division.
  const unsigned __int128 wide =
      static_cast<unsigned __int128>(Mix64(key)) * static_cast<uint64_t>(num_servers);
  return static_cast<int>(static_cast<uint64_t>(wide >> 64));
}

}  // namespace metaps
