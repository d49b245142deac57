#include "worker/models/mlp.h"

#include <cmath>
#include <utility>

#include "common/hash.h"
#include "common/logging.h"

namespace metaps {
namespace {

// Counter stream of dense initial values, distinct from the embedding tables'.
constexpr uint32_t kDenseInitStream = 0xde05e000u;

}  // namespace

void FillUniform(uint64_t seed, uint64_t block, float limit, float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    p[i] = limit * (2.0f * CounterUniform(seed, kDenseInitStream, block, i) - 1.0f);
  }
}

Mlp::Mlp(std::vector<int> widths, bool relu_last, size_t dense_offset)
    : widths_(std::move(widths)), relu_last_(relu_last), offset_(dense_offset) {
  METAPS_CHECK(widths_.size() >= 2) << "an Mlp needs at least one layer";
  size_t offset = offset_;
  for (size_t j = 0; j < num_layers(); ++j) {
    METAPS_CHECK(widths_[j] > 0 && widths_[j + 1] > 0) << "layer " << j << " has a zero width";
    layer_offsets_.push_back(offset);
    offset += static_cast<size_t>(widths_[j] + 1) * widths_[j + 1];
  }
  num_params_ = offset - offset_;
  outputs_.resize(num_layers());
  d_outputs_.resize(num_layers());
}

void Mlp::Init(uint64_t seed, float* dense) const {
  for (size_t j = 0; j < num_layers(); ++j) {
    const int in = widths_[j];
    const int out = widths_[j + 1];
    const float limit = HasRelu(j) ? std::sqrt(6.0f / in) : std::sqrt(6.0f / (in + out));
    FillUniform(seed, WeightOffset(j), limit, dense + WeightOffset(j),
                static_cast<size_t>(in) * out);
    for (int o = 0; o < out; ++o) dense[BiasOffset(j) + o] = 0.0f;
  }
}

const float* Mlp::Forward(KernelBackend* backend, int n, const float* input, int ld_in,
                          const float* dense) {
  const float* x = input;
  int ld_x = ld_in;
  for (size_t j = 0; j < num_layers(); ++j) {
    const int in = widths_[j];
    const int out = widths_[j + 1];
    std::vector<float>& y = outputs_[j];
    y.resize(static_cast<size_t>(n) * out);
    backend->Gemm(false, false, n, out, in, 1.0f, x, ld_x, dense + WeightOffset(j), out, 0.0f,
                  y.data(), out);
    backend->AddBias(n, out, dense + BiasOffset(j), y.data(), out);
    if (HasRelu(j)) backend->Relu(y.size(), y.data(), y.data());
    x = y.data();
    ld_x = out;
  }
  return x;
}

void Mlp::Backward(KernelBackend* backend, int n, const float* input, int ld_in, const float* d_out,
                   const float* dense, float* dense_grad, float* d_input, int ld_d_input) {
  const size_t last = num_layers() - 1;
  d_outputs_[last].assign(d_out, d_out + static_cast<size_t>(n) * out_dim());
  for (size_t j = last + 1; j-- > 0;) {
    const int in = widths_[j];
    const int out = widths_[j + 1];
    std::vector<float>& dy = d_outputs_[j];  // becomes d(pre-activation) in place
    if (HasRelu(j)) backend->ReluGrad(dy.size(), outputs_[j].data(), dy.data(), dy.data());
    const float* x = j == 0 ? input : outputs_[j - 1].data();
    const int ld_x = j == 0 ? ld_in : in;
    backend->Gemm(true, false, in, out, n, 1.0f, x, ld_x, dy.data(), out, 1.0f,
                  dense_grad + WeightOffset(j), out);
    backend->BiasGrad(n, out, 1.0f, dy.data(), out, dense_grad + BiasOffset(j));
    float* dx;
    int ld_dx;
    if (j > 0) {
      d_outputs_[j - 1].resize(static_cast<size_t>(n) * in);
      dx = d_outputs_[j - 1].data();
      ld_dx = in;
    } else if (d_input != nullptr) {
      dx = d_input;
      ld_dx = ld_d_input;
    } else {
      break;
    }
    backend->Gemm(false, true, n, in, out, 1.0f, dy.data(), out, dense + WeightOffset(j), out, 0.0f,
                  dx, ld_dx);
  }
}

}  // namespace metaps
