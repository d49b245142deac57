// The input layout of the multipart fuzz targets (wire_fuzz, data_open_fuzz):
// u8 flags, u8 part count (modulo kMaxFrames + 4), then per part a u32
// little-endian length and that many bytes (clamped to what is left).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>
#include <zmq.hpp>

#include "common/wire.h"

namespace metaps::fuzz {

struct MultipartInput {
  uint8_t flags = 0;
  std::vector<zmq::message_t> parts;
};

// False when the input is too short to hold the flags and the count.
inline bool ParseMultipartInput(const uint8_t* data, size_t size, MultipartInput* out) {
  if (size < 2) return false;
  out->flags = data[0];
  const int num_parts = data[1] % (kMaxFrames + 4);
  data += 2;
  size -= 2;
  for (int i = 0; i < num_parts; ++i) {
    uint32_t len = 0;
    const size_t n = size < 4 ? size : 4;
    std::memcpy(&len, data, n);
    data += n;
    size -= n;
    const size_t take = len > size ? size : len;
    out->parts.emplace_back(data, take);
    data += take;
    size -= take;
  }
  return true;
}

}  // namespace metaps::fuzz
