// Nearest-rank percentile of a sample, for the figures jobs report.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace metaps {

// The q-quantile (0 < q <= 1) by nearest rank; 0 for no samples. Sorts `v`.
inline double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace metaps
