// Mlp: a stack of fully connected layers whose weights live in a model's flat
// dense buffer, with batched forward/backward on a KernelBackend.
//
// widths = [in, w1, ..., wk] gives k >= 1 layers; layer j computes
// y = x W_j + b_j with W_j stored row-major in_j x out_j at the layer's offset,
// followed by b_j (out_j floats). ReLU follows every layer except the last,
// and the last too when relu_last. An Mlp owns scratch activations (resized
// per batch, so steady state allocates nothing): one Mlp per use in a model,
// not shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/backend.h"

namespace metaps {

// p[i] = limit * (2u - 1), u = CounterUniform(seed, kDenseInitStream, block, i):
// the same on every worker. `block` names the tensor (its dense offset).
void FillUniform(uint64_t seed, uint64_t block, float limit, float* p, size_t n);

class Mlp {
 public:
  Mlp(std::vector<int> widths, bool relu_last, size_t dense_offset);

  int in_dim() const { return widths_.front(); }
  int out_dim() const { return widths_.back(); }
  size_t dense_offset() const { return offset_; }
  size_t num_params() const { return num_params_; }
  // Where the last layer's biases start (offset into the dense buffer).
  size_t OutputBiasOffset() const { return BiasOffset(num_layers() - 1); }

  // He-uniform weights for ReLU layers (limit sqrt(6 / in)), Glorot-uniform for
  // a linear last layer (sqrt(6 / (in + out))); zero biases.
  void Init(uint64_t seed, float* dense) const;

  // Runs n rows of input (n x in_dim, leading dimension ld_in) and returns the
  // n x out_dim output, valid until the next Forward.
  const float* Forward(KernelBackend* backend, int n, const float* input, int ld_in,
                       const float* dense);
  // REQUIRES: the last Forward ran on the same n, input and dense.
  // Adds the gradients for d_out (n x out_dim, already scaled as the caller's
  // loss requires) into dense_grad; if d_input != nullptr, overwrites it with
  // the gradient of the input (n x in_dim, leading dimension ld_d_input).
  void Backward(KernelBackend* backend, int n, const float* input, int ld_in, const float* d_out,
                const float* dense, float* dense_grad, float* d_input, int ld_d_input);

 private:
  size_t WeightOffset(size_t layer) const { return layer_offsets_[layer]; }
  size_t BiasOffset(size_t layer) const {
    return layer_offsets_[layer] + static_cast<size_t>(widths_[layer]) * widths_[layer + 1];
  }
  bool HasRelu(size_t layer) const { return layer + 1 < num_layers() || relu_last_; }
  size_t num_layers() const { return widths_.size() - 1; }

  std::vector<int> widths_;
  bool relu_last_;
  size_t offset_;
  size_t num_params_ = 0;
  std::vector<size_t> layer_offsets_;          // absolute, into the dense buffer
  std::vector<std::vector<float>> outputs_;    // per layer, n x out_j (after ReLU)
  std::vector<std::vector<float>> d_outputs_;  // per layer, n x out_j
};

}  // namespace metaps
