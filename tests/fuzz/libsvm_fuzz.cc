// Fuzzes the libsvm / libFM / FFM reader and the libFM --meta field map.
// Input: one mode byte, then the file. Mode bits 0-1: 0 libsvm, 1 libsvm with
// fields (the fuzzed file's first lines double as a --meta map when it parses,
// else fixed ranges), 2-3 FFM with 1 + (bits 4-6) fields; bit 7 raw_keys.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/libsvm_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string path = metaps::fuzz::WriteScratch(
      "data.libfm", std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  metaps::LibsvmOptions format;
  format.raw_keys = (mode & 0x80) != 0;
  format.binary_label = (mode & 0x08) == 0;
  switch (mode & 3) {
    case 0:
      break;
    case 1: {
      auto fields = metaps::LoadLibsvmFieldMap(path);
      if (fields.ok() && !fields.value().empty()) {
        format.fields = fields.value();
      } else {
        format.fields = {{"a", 0, 9}, {"b", 10, 99}, {"c", 1000, 1u << 30}};
      }
      break;
    }
    default: {
      format.ffm = true;
      auto inferred = metaps::InferFfmNumFields({path});
      format.num_fields = (mode & 4) != 0 && inferred.ok() && inferred.value() <= 64
                              ? inferred.value()
                              : 1 + ((mode >> 4) & 7);
      break;
    }
  }
  auto reader = metaps::OpenLibsvmReader({path}, format, metaps::fuzz::FuzzReaderOptions());
  if (reader.ok()) metaps::fuzz::Drain(reader.value().get());
  return 0;
}
