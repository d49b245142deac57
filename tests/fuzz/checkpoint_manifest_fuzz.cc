// Fuzzes ParseManifest. The input is parsed as it is (mostly rejected by the
// trailing CRC32C) and again with a correct "end <crc32c>" line appended, so
// the record parser and validation see arbitrary bodies. A manifest that
// parses must serialize to text that parses to the same manifest.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/hash.h"
#include "ps/checkpoint_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  (void)metaps::ParseManifest(body, "MANIFEST");
  char end[32];
  std::snprintf(end, sizeof(end), "end %08x\n", metaps::Crc32c(body.data(), body.size()));
  metaps::StatusOr<metaps::Manifest> m = metaps::ParseManifest(body + end, "MANIFEST");
  if (!m.ok()) return 0;
  const std::string text = metaps::SerializeManifest(m.value());
  metaps::StatusOr<metaps::Manifest> again = metaps::ParseManifest(text, "MANIFEST.again");
  if (!again.ok() || metaps::SerializeManifest(again.value()) != text) {
    std::fprintf(stderr, "manifest does not round-trip:\n%s\n", text.c_str());
    std::abort();
  }
  return 0;
}
