#include "worker/data/scenario_map.h"

#include <algorithm>
#include <limits>

#include "worker/data/text_fields.h"

namespace metaps {

ScenarioMap::ScenarioMap(const ScenarioMapSpec& spec)
    : column_(spec.column), by_values_(!spec.values.empty()), bounds_(spec.bounds) {
  std::vector<std::string_view> parts;
  for (size_t k = 0; k < spec.values.size(); ++k) {
    SplitFields(spec.values[k], '|', &parts);
    for (std::string_view part : parts) {
      if (part == "*") {
        catch_all_ = static_cast<int64_t>(k);
      } else {
        values_.emplace(std::string(part), static_cast<uint32_t>(k));
      }
    }
  }
}

bool ScenarioMap::Map(std::string_view value, uint32_t* id, std::string* reason) const {
  const std::string shown = std::string(value.substr(0, 64));
  if (by_values_) {
    auto it = values_.find(std::string(value));
    if (it != values_.end()) {
      *id = it->second;
      return true;
    }
    if (catch_all_ >= 0) {
      *id = static_cast<uint32_t>(catch_all_);
      return true;
    }
    *reason =
        column_ + " '" + shown + "' is in no entry of data.scenario_values (add it, or \"*\")";
    return false;
  }
  if (!bounds_.empty()) {
    double x;
    if (!ParseDouble(TrimSpaces(value), &x)) {
      *reason = column_ + " '" + shown + "' is not a number (data.scenario_bounds)";
      return false;
    }
    *id = static_cast<uint32_t>(std::upper_bound(bounds_.begin(), bounds_.end(), x) -
                                bounds_.begin());
    return true;
  }
  uint64_t raw;
  if (!ParseUint64(TrimSpaces(value), &raw) || raw > std::numeric_limits<uint32_t>::max()) {
    *reason = column_ + " '" + shown + "' is not a 32-bit scenario id";
    return false;
  }
  *id = static_cast<uint32_t>(raw);
  return true;
}

}  // namespace metaps
