// Zipf-distributed ranks from counter-based randomness, shared by the PS
// benchmark's key streams and the synthetic data generator. Pure and
// thread-safe: a sampler holds only constants.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/hash.h"

namespace metaps {

// Uniform double in (0, 1) from 53 bits of element `index` of a StreamBits stream.
inline double StreamUniform53(uint64_t stream, uint64_t index) {
  return (static_cast<double>(StreamBits(stream, index) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Rejection-inversion sampling of Zipf(s) over [1, n] (Hörmann & Derflinger):
// P(k) proportional to k^-s, any s > 0, O(1) per draw with no table.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double s) : n_(static_cast<double>(n)), s_(s) {
    h_x1_ = H(1.5) - 1.0;
    h_n_ = H(n_ + 0.5);
    threshold_ = 2.0 - HInverse(H(2.5) - std::pow(2.0, -s_));
  }

  // Draws a rank in [1, n], consuming uniforms (stream, *counter), (stream,
  // *counter + 1), ... (usually one) and advancing *counter past them.
  uint64_t Sample(uint64_t stream, uint64_t* counter) const {
    while (true) {
      const double u = h_n_ + StreamUniform53(stream, (*counter)++) * (h_x1_ - h_n_);
      const double x = HInverse(u);
      double k = std::floor(x + 0.5);
      if (k < 1) k = 1;
      if (k > n_) k = n_;
      if (k - x <= threshold_ || u >= H(k + 0.5) - std::pow(k, -s_)) {
        return static_cast<uint64_t>(k);
      }
    }
  }

 private:
  // H(x) = integral of x^-s, written to stay accurate near s = 1.
  double H(double x) const { return Helper2((1.0 - s_) * std::log(x)) * std::log(x); }
  double HInverse(double x) const {
    double t = x * (1.0 - s_);
    if (t < -1.0) t = -1.0;  // numerical guard
    return std::exp(Helper1(t) * x);
  }
  static double Helper1(double x) {  // log1p(x) / x
    return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
  }
  static double Helper2(double x) {  // (exp(x) - 1) / x
    return std::fabs(x) > 1e-8 ? std::expm1(x) / x
                               : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
  }

  double n_, s_, h_x1_, h_n_, threshold_;
};

}  // namespace metaps
