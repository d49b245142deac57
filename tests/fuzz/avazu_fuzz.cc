// Fuzzes the Avazu reader (header-defined CSV schema, hour split into two
// slots): the input is the file; read once plainly and once with a scenario
// column mapped by values.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/avazu_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  const std::string path = metaps::fuzz::WriteScratch(
      "avazu.csv", std::string_view(reinterpret_cast<const char*>(data), size));
  metaps::ReaderOptions options = metaps::fuzz::FuzzReaderOptions();
  auto plain = metaps::OpenAvazuReader({path}, options);
  if (plain.ok()) metaps::fuzz::Drain(plain.value().get());
  metaps::ScenarioMapSpec spec;
  spec.column = "C1";
  spec.values = {"1005", "1002|1010", "*"};
  options.num_scenarios = 3;
  auto by_scenario = metaps::OpenAvazuReader({path}, options, metaps::ScenarioMap(spec));
  if (by_scenario.ok()) metaps::fuzz::Drain(by_scenario.value().get());
  return 0;
}
