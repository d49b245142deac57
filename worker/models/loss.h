// Per-example losses on a model's raw output z (the logit, or the value).
//   logistic: loss = log(1 + e^z) - y z (y in [0, 1]), prediction sigmoid(z),
//             dloss/dz = sigmoid(z) - y
//   squared:  loss = (z - y)^2, prediction z, dloss/dz = 2 (z - y)
// so the mean squared loss of a batch is its MSE.
#pragma once

#include <cmath>
#include <cstddef>

#include "worker/model.h"

namespace metaps {

inline float LossPrediction(LossKind kind, float z) {
  if (kind == LossKind::kSquared) return z;
  return 1.0f / (1.0f + std::exp(-z));
}

// Writes predictions and, when dz != nullptr, scale * dloss/dz; returns the
// summed loss, computed in double. Stable for any z: no exp of a positive argument.
inline double LossAndGrad(LossKind kind, size_t n, const float* z, const float* labels, float scale,
                          float* predictions, float* dz) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float y = labels[i];
    float grad;
    if (kind == LossKind::kSquared) {
      const float diff = z[i] - y;
      predictions[i] = z[i];
      sum += static_cast<double>(diff) * diff;
      grad = 2.0f * diff;
    } else {
      const double zd = z[i];
      const double e = std::exp(-std::fabs(zd));  // in (0, 1]
      const float p = static_cast<float>(zd >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
      predictions[i] = p;
      sum += std::fmax(zd, 0.0) - y * zd + std::log1p(e);
      grad = p - y;
    }
    if (dz != nullptr) dz[i] = scale * grad;
  }
  return sum;
}

}  // namespace metaps
