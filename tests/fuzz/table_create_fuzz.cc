// Fuzzes DecodeTableCreate (ps/table_spec.h), TABLE_CREATE's payload, with
// arbitrary bytes: it must return a valid request or an InvalidArgument, and
// a request it accepts must encode back to one it accepts with every field
// equal.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ps/table_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  auto create = metaps::DecodeTableCreate(payload, "fuzz");
  if (!create.ok()) {
    if (create.status().code() != metaps::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (!metaps::ValidateTableSpec(create->spec).ok()) std::abort();
  auto again = metaps::DecodeTableCreate(metaps::EncodeTableCreate(*create), "again");
  if (!again.ok() || !metaps::SameTableSpec(again->spec, create->spec) ||
      again->job_seed != create->job_seed || again->clock_origin != create->clock_origin) {
    std::abort();
  }
  return 0;
}
