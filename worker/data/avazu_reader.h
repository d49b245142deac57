// Avazu CTR data: CSV with a header naming the columns, e.g.
//   id,click,hour,C1,banner_pos,site_id,...,C21
// `click` is the 0/1 label (absent in the test set: label 0), `id` is skipped,
// and every other column is a categorical slot named after it, keyed by
// HashToken(slot, token); an empty field gives no key. `hour` (YYMMDDHH) is
// replaced by two slots, "hour_of_day" (00..23) and "weekday" (0 = Sunday).
// The schema comes from the first file's header; every file must start with
// the same header.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/data/reader.h"
#include "worker/data/scenario_map.h"

namespace metaps {

// Reads the first file's header to build the schema; NotFound or
// InvalidArgument (empty file, no columns) on failure.
// With `scenario` enabled, its column (any but click; the text as written)
// gives each example's scenario id; InvalidArgument if the header lacks it.
StatusOr<std::unique_ptr<Reader>> OpenAvazuReader(std::vector<std::string> files,
                                                  const ReaderOptions& options,
                                                  const ScenarioMap& scenario = ScenarioMap());

}  // namespace metaps
