// Fuzzes DataOpener::Open (common/data_seal.h) with arbitrary multipart
// messages, and checks that sealing any message and opening it restores it.
// Input: u8 flags, u8 part count, then per part a u32 little-endian length and
// that many bytes (clamped to what is left), as in wire_fuzz.
// flags & 1: the envelope's session id is set to the opener's, so the input
// reaches the tag checks. A forged input must never open.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/data_seal.h"
#include "common/wire.h"
#include "tests/fuzz/multipart_input.h"

namespace {

constexpr uint64_t kSession = 0x1234567890abcdefull;

metaps::DataKey FixedKey(uint8_t seed) {
  metaps::DataKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(seed + 7 * i);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  metaps::fuzz::MultipartInput input;
  if (!metaps::fuzz::ParseMultipartInput(data, size, &input)) return 0;
  const uint8_t flags = input.flags;
  std::vector<zmq::message_t>& parts = input.parts;
  std::vector<zmq::message_t> plain;
  for (const zmq::message_t& p : parts) plain.emplace_back(p.data(), p.size());
  if ((flags & 1) && !parts.empty() && parts[0].size() >= metaps::kEnvelopeFixedBytes) {
    auto* env = static_cast<uint8_t*>(parts[0].data());
    for (int i = 0; i < 8; ++i) env[8 + i] = static_cast<uint8_t>(kSession >> (8 * i));
  }
  auto opener = metaps::DataOpener::Create(kSession, FixedKey(1)).value();
  // Without the key nothing opens (a forgery would need a GCM tag collision).
  if (opener->Open(&parts).ok()) std::abort();
  if (opener->last_counter() != 0) std::abort();

  // Round trip: whatever is sealed opens to the same bytes.
  auto sealer = metaps::DataSealer::Create(kSession, FixedKey(1)).value();
  std::vector<zmq::message_t> sealed;
  for (const auto& p : plain) sealed.emplace_back(p.data(), p.size());
  if (!sealer->Seal(&sealed).ok()) {
    if (!plain.empty() && plain.size() <= static_cast<size_t>(metaps::kMaxFrames) + 1) std::abort();
    return 0;
  }
  if (!opener->Open(&sealed).ok() || sealed.size() != plain.size()) std::abort();
  for (size_t i = 0; i < plain.size(); ++i) {
    if (sealed[i].size() != plain[i].size() ||
        std::memcmp(sealed[i].data(), plain[i].data(), plain[i].size()) != 0) {
      std::abort();
    }
  }
  return 0;
}
