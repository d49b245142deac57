// Fuzzes ParseJobConfig and its --set overrides. Input: the job text, then
// optionally NUL-separated overrides ("path.to.field=value"), at most 16.
// A config that parses must print (JobConfigToText) as text that parses again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/job_config.h"
#include "common/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    metaps::SetLogLevel(metaps::LogLevel::kFatal);
    return true;
  }();
  (void)quiet;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> pieces;
  size_t begin = 0;
  while (pieces.size() < 17) {
    const size_t nul = input.find('\0', begin);
    pieces.emplace_back(input.substr(begin, nul == std::string_view::npos ? nul : nul - begin));
    if (nul == std::string_view::npos) break;
    begin = nul + 1;
  }
  const std::string text = pieces[0];
  const std::vector<std::string> overrides(pieces.begin() + 1, pieces.end());
  metaps::StatusOr<metaps::config::JobConfig> job =
      metaps::ParseJobConfig(text, "fuzz.pbtxt", overrides);
  if (!job.ok()) return 0;
  const std::string printed = metaps::JobConfigToText(job.value());
  metaps::StatusOr<metaps::config::JobConfig> reparsed =
      metaps::ParseJobConfig(printed, "printed.pbtxt");
  if (!reparsed.ok()) {
    std::fprintf(stderr, "parsed config does not reparse: %s\n%s\n",
                 reparsed.status().ToString().c_str(), printed.c_str());
    std::abort();
  }
  return 0;
}
