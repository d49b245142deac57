// Fuzzes the MovieLens ratings parser in its three layouts. Input: one byte
// (flavour = byte % 3: ml-100k, ml-1m, ml-latest; bit 2: binary label), then
// the ratings file. Side files: movielens_side_fuzz.cc.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/movielens_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  if (size < 1) return 0;
  static const char* const kNames[] = {"u.data", "ratings.dat", "ratings.csv"};
  metaps::MovieLensFiles files;
  files.flavor = static_cast<metaps::MovieLensFlavor>(data[0] % 3);
  files.ratings = metaps::fuzz::WriteScratch(
      kNames[data[0] % 3], std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  metaps::MovieLensOptions format;
  format.binary_label = (data[0] & 4) != 0;
  format.use_side_files = false;
  auto reader = metaps::OpenMovieLensReader(files, format, metaps::fuzz::FuzzReaderOptions());
  if (reader.ok()) metaps::fuzz::Drain(reader.value().get());
  return 0;
}
