// Fuzzes the MovieLens side-file parsers (users and items files in the three
// layouts). Input: one byte (flavour = byte % 3; bit 2: items file, else users
// file; bits 3-4 for users: scenario from none, gender, age, occupation), then
// the side file.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/movielens_reader.h"
#include "worker/data/movielens_side.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const auto flavor = static_cast<metaps::MovieLensFlavor>(mode % 3);
  const std::string path = metaps::fuzz::WriteScratch(
      "side.txt", std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  metaps::MovieLensSideData side;
  if ((mode & 4) != 0) {
    (void)metaps::LoadMovieLensItems(flavor, path, 2, &side);
    return 0;
  }
  metaps::ScenarioMapSpec spec;
  switch ((mode >> 3) & 3) {
    case 1:
      spec.column = "gender";
      spec.values = {"M", "F"};
      break;
    case 2:
      spec.column = "age";
      spec.bounds = {18, 35, 50};
      break;
    case 3:
      spec.column = "occupation";
      break;
    default:
      break;
  }
  (void)metaps::LoadMovieLensUsers(flavor, path, 2, &side, metaps::ScenarioMap(spec));
  return 0;
}
