// Fuzzes the multi-scenario CSV reader ("label,scenario,user,item,..."): the
// input is the file; read once with the file's scenario column and once with
// the scenario taken from the "age" column by bounds.
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "worker/data/scenario_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (metaps::fuzz::QuietLogs(), true);
  (void)quiet;
  const std::string path = metaps::fuzz::WriteScratch(
      "scenarios.csv", std::string_view(reinterpret_cast<const char*>(data), size));
  metaps::ReaderOptions options = metaps::fuzz::FuzzReaderOptions();
  options.num_scenarios = 4;
  auto plain = metaps::OpenScenarioReader({path}, options);
  if (plain.ok()) metaps::fuzz::Drain(plain.value().get());
  metaps::ScenarioMapSpec spec;
  spec.column = "age";
  spec.bounds = {25, 45};
  auto by_age = metaps::OpenScenarioReader({path}, options, metaps::ScenarioMap(spec));
  if (by_age.ok()) metaps::fuzz::Drain(by_age.value().get());
  return 0;
}
