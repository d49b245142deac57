#include "common/json.h"

#include <cmath>
#include <cstdint>

namespace metaps {

std::string JsonText(const OrderedJson& value) {
  return value.dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
}

OrderedJson JsonCount(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return static_cast<int64_t>(v);
  }
  return v;
}

OrderedJson JsonRounded(double v, int digits) {
  if (!std::isfinite(v)) return v;
  if (digits <= 0) return JsonCount(std::round(v));
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

}  // namespace metaps
