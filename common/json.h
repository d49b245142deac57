// Every JSON line and report metaps writes is built as an OrderedJson
// (nlohmann-json; keys stay in insertion order, so "event" comes first) and
// written with JsonText. Integers stay integers, doubles print as the
// shortest text that reads back the same double, and NaN or infinity print
// as null (JSON has neither).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

namespace metaps {

using OrderedJson = nlohmann::ordered_json;

// One line, no spaces. Invalid UTF-8 in a string is replaced by U+FFFD
// rather than thrown about.
std::string JsonText(const OrderedJson& value);
// The same for a plain nlohmann::json (keys in sorted order); a template so
// that JsonText({{"key", value}, ...}) still means an OrderedJson.
template <typename Json, typename = std::enable_if_t<std::is_same_v<Json, nlohmann::json>>>
std::string JsonText(const Json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A count carried as a double (sums of example counts): an integer while it
// is an exact one below 2^53, else the double itself.
OrderedJson JsonCount(double v);

// `v` rounded to `digits` decimals (figures whose noise past them is not
// worth printing: rates, latencies); an integer when `digits` is 0.
OrderedJson JsonRounded(double v, int digits);

}  // namespace metaps
