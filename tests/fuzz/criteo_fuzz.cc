// Fuzzes the Criteo reader's line parsing (TSV or CSV, detected per file): the
// input is the file; read once plainly and once with a scenario column.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/criteo_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  const std::string path = metaps::fuzz::WriteScratch(
      "criteo.txt", std::string_view(reinterpret_cast<const char*>(data), size));
  metaps::ReaderOptions options = metaps::fuzz::FuzzReaderOptions();
  auto plain = metaps::OpenCriteoReader({path}, options);
  if (plain.ok()) metaps::fuzz::Drain(plain.value().get());
  metaps::ScenarioMapSpec spec;
  spec.column = "I1";
  spec.bounds = {1.0, 10.0};
  options.num_scenarios = 3;
  auto by_scenario = metaps::OpenCriteoReader({path}, options, metaps::ScenarioMap(spec));
  if (by_scenario.ok()) metaps::fuzz::Drain(by_scenario.value().get());
  return 0;
}
