// Frame layout of the parameter-server data plane, shared by client and server.
//
//   PULL  request: table_id; frames [keys: uint64 x n].
//         reply:   frames [value chunks]: rows of dim floats, in request order.
//   PUSH  request: table_id, clock; frames [keys: uint64 x n, gradient chunks].
//         reply:   no frames; sent after the gradients were applied.
//
// Value arrays travel in chunks of whole rows of at most kValueChunkBytes, so
// that no frame is large enough for malloc to serve it from fresh mmap'd pages
// (first touch costs ~10 us per page here; see shared/docs/MACHINE.md).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/wire.h"

namespace metaps {

constexpr size_t kValueChunkBytes = 4 << 20;

// Rows per chunk for rows of `dim` floats (at least one).
inline size_t RowsPerChunk(int dim) {
  return std::max<size_t>(1, kValueChunkBytes / (static_cast<size_t>(dim) * sizeof(float)));
}

// The largest frame a parameter server serving tables of at least `min_dim`
// floats a row needs to accept: a value chunk (kValueChunkBytes), or the keys
// frame of the largest request it serves (8 bytes a key, at most
// RowsPerChunk(min_dim) rows in each of kMaxFrames value frames), and never
// under 8 MiB (a monitor's ping payload). A server's socket refuses larger
// frames before allocating them (ZMQ_MAXMSGSIZE).
inline int64_t ServerFrameLimit(int min_dim) {
  const int64_t keys = static_cast<int64_t>(RowsPerChunk(min_dim)) * kMaxFrames;
  return std::max<int64_t>({int64_t{8} << 20, static_cast<int64_t>(kValueChunkBytes),
                            keys * static_cast<int64_t>(sizeof(uint64_t)) + (int64_t{64} << 10)});
}

// Checks that frames[first..] hold exactly `rows` rows of `dim` floats in
// chunks of RowsPerChunk(dim) rows (the last may be short).
inline Status CheckValueChunks(const Message& m, size_t first, size_t rows, int dim,
                               const std::string& what) {
  const size_t per_chunk = RowsPerChunk(dim);
  const size_t chunks = (rows + per_chunk - 1) / per_chunk;
  if (m.frames.size() != first + chunks) {
    return ProtocolError(what + ": " + std::to_string(rows) + " rows of dim " +
                         std::to_string(dim) + " need " + std::to_string(chunks) +
                         " value frames, got " + std::to_string(m.frames.size() - first));
  }
  for (size_t c = 0; c < chunks; ++c) {
    const size_t chunk_rows = std::min(per_chunk, rows - c * per_chunk);
    const size_t bytes = chunk_rows * static_cast<size_t>(dim) * sizeof(float);
    if (m.frames[first + c].size() != bytes) {
      return ProtocolError(what + ": value frame " + std::to_string(c) + " has " +
                           std::to_string(m.frames[first + c].size()) + " bytes, expected " +
                           std::to_string(bytes));
    }
  }
  return Status::Ok();
}

}  // namespace metaps
