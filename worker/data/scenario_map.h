// The scenario id of an example from one of its columns (or, for MovieLens, a
// users side-file attribute): data.scenario_from, data.scenario_values and
// data.scenario_bounds of the job config.
//   values: scenario k takes the values of entry k, '|'-separated; an entry
//           "*" takes every value no entry lists (the catch-all).
//   bounds: scenario = how many bounds are <= the value (a number).
//   neither: the value itself, an unsigned integer below 2^32.
// A value that maps to nothing is a malformed line (the reason names it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace metaps {

struct ScenarioMapSpec {
  std::string column;  // empty: no mapping (scenario 0, or the format's own)
  std::vector<std::string> values;
  std::vector<double> bounds;
};

class ScenarioMap {
 public:
  ScenarioMap() = default;
  explicit ScenarioMap(const ScenarioMapSpec& spec);

  bool enabled() const { return !column_.empty(); }
  const std::string& column() const { return column_; }
  // The id of `value`, or false with *reason set.
  bool Map(std::string_view value, uint32_t* id, std::string* reason) const;

 private:
  std::string column_;
  bool by_values_ = false;
  std::unordered_map<std::string, uint32_t> values_;
  int64_t catch_all_ = -1;  // scenario of "*", or -1
  std::vector<double> bounds_;
};

}  // namespace metaps
