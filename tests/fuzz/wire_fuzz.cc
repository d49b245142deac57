// Fuzzes DecodeMessage and ValidateHeader with arbitrary multipart messages.
// Input: u8 flags, u8 part count, then per part a u32 little-endian length and
// that many bytes (clamped to what is left). Seeds: wire_seeds.cc.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/wire.h"
#include "tests/fuzz/multipart_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  metaps::fuzz::MultipartInput input;
  if (!metaps::fuzz::ParseMultipartInput(data, size, &input)) return 0;
  const uint8_t flags = input.flags;
  metaps::StatusOr<metaps::Message> decoded = metaps::DecodeMessage(std::move(input.parts));
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
