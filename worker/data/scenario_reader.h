// Multi-scenario click logs, as written by `metaps datagen --kind scenarios`:
// CSV whose header starts "label,scenario,user,item", e.g.
//   label,scenario,user,item,age,gender,occupation,genres
//   1,0,17,203,25,M,7,Action|Comedy
// label 0/1; scenario an integer < 2^32; user and item unsigned ids. Every
// further column is a categorical slot named by its header, holding zero or
// more '|'-separated tokens (empty: no key).
//
// Output: slots "user" and "item" (HashId of the ids), then one slot per
// further column (HashToken, one key per token); scenario_ids, user_ids and
// item_ids hold the raw values. Every file must begin with the same header
// (InvalidArgument naming the file otherwise).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/data/reader.h"
#include "worker/data/scenario_map.h"

namespace metaps {

// Reads the first file's header to build the schema: NotFound / InvalidArgument
// naming the file if it cannot be read or does not start as above.
// With `scenario` enabled, its column (any but label; "scenario" itself with
// value groups or bounds) gives the scenario id instead of the scenario
// column; InvalidArgument naming the file if the header lacks it.
StatusOr<std::unique_ptr<Reader>> OpenScenarioReader(std::vector<std::string> files,
                                                     const ReaderOptions& options,
                                                     const ScenarioMap& scenario = ScenarioMap());

}  // namespace metaps
