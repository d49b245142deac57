// Fuzzes DecodeMessage and ValidateHeader with arbitrary multipart messages.
// Input: u8 flags, u8 part count, then per part a u32 little-endian length and
// that many bytes (clamped to what is left). Seeds: wire_seeds.cc.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/wire.h"

namespace {

uint32_t TakeU32(const uint8_t*& data, size_t& size) {
  uint32_t v = 0;
  const size_t n = size < 4 ? size : 4;
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const int num_parts = data[1] % (metaps::kMaxFrames + 4);
  data += 2;
  size -= 2;
  std::vector<zmq::message_t> parts;
  for (int i = 0; i < num_parts; ++i) {
    size_t len = TakeU32(data, size);
    if (len > size) len = size;
    parts.emplace_back(data, len);
    data += len;
    size -= len;
  }
  metaps::StatusOr<metaps::Message> decoded = metaps::DecodeMessage(std::move(parts));
  if (!decoded.ok()) return 0;
  metaps::Message& m = decoded.value();
  const int world_size = 1 + (flags & 7);
  const int authenticated = static_cast<int>((flags >> 3) & 7) - 1;
  const bool expect_reply = (flags & 0x40) != 0;
  (void)metaps::ValidateHeader(m.header, world_size, authenticated, expect_reply);
  (void)metaps::ReplyStatus(m.header);
  (void)metaps::MessageTypeName(m.header.type());
  for (size_t i = 0; i < m.frames.size(); ++i) {
    if (m.frames[i].size() != m.header.frame_bytes(static_cast<int>(i))) std::abort();
    (void)m.FrameCount<uint64_t>(i);
  }
  // A decoded message re-encodes into one that decodes the same.
  const size_t frames = m.frames.size();
  metaps::StatusOr<metaps::Message> again =
      metaps::DecodeMessage(metaps::EncodeMessage(std::move(m)));
  if (!again.ok() || again.value().frames.size() != frames) std::abort();
  return 0;
}
