// ncf: two-tower neural collaborative filtering with first-order biases.
//   x = u ⊙ v,  r = MLP(x) + b_u + b_i  with MLP widths [dim, hidden..., 1]
// u (v) is the value-weighted sum of the embedding rows of the user (item)
// slots' keys, b_u (b_i) the same sum over the linear table (as in mf). The
// MLP applies ReLU after every hidden layer, so its first layer is
// h = ReLU(W x + b); with no hidden layers it is GMF: MLP(x) = w·x + b. The
// MLP's output bias plays mf's mu.
// Dense layout: the MLP's layers (W then b, per layer) from offset 0; the
// output bias starts at options.global_bias.
#include <algorithm>
#include <utility>
#include <vector>

#include "worker/models/loss.h"
#include "worker/models/mlp.h"
#include "worker/models/model_family.h"
#include "worker/models/sparse_features.h"

namespace metaps {
namespace {

std::vector<int> NcfWidths(const ModelOptions& options) {
  std::vector<int> widths = {options.embedding_dim};
  widths.insert(widths.end(), options.hidden.begin(), options.hidden.end());
  widths.push_back(1);
  return widths;
}

class NcfModel final : public ModelFamily {
 public:
  NcfModel(const ModelOptions& options, const BatchSchema& schema, KernelBackend* backend,
           UserItemTowers towers)
      : ModelFamily(options, schema, backend, /*needs_linear=*/true),
        towers_(std::move(towers)),
        mlp_(NcfWidths(options), /*relu_last=*/false, /*dense_offset=*/0) {
    reads_ = towers_.SlotsRead(schema.num_slots());
  }

  size_t num_dense() const override { return mlp_.num_params(); }
  // The output starts at global_bias (e.g. the mean rating): the MLP's last
  // bias would otherwise climb there one small optimizer step at a time.
  // With no hidden layer (GMF, r = w.(u ⊙ v) + b) w starts at 1, so the model
  // starts as mf and learns w from there: a random w of mixed signs and sizes
  // scales each coordinate's gradient by w_k and its curvature by w_k^2, and
  // the embeddings' SGD steps are then either too small or unstable.
  void InitDense(uint64_t seed, float* dense) const override {
    mlp_.Init(seed, dense);
    if (options_.hidden.empty()) {
      std::fill(dense + mlp_.dense_offset(), dense + mlp_.dense_offset() + dim_,
                1.0f);  // W_0: dim x 1
    }
    dense[mlp_.OutputBiasOffset()] = options_.global_bias;
  }

 protected:
  StatusOr<double> Compute(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                           float* predictions, const GradSinks* grads) override {
    const size_t n = batch.size();
    const int rows_n = static_cast<int>(n);
    const size_t nd = n * dim_;
    u_.assign(nd, 0.0f);
    v_.assign(nd, 0.0f);
    z_.assign(n, 0.0f);  // b_u + b_i first, then the MLP's output
    towers_.Pool(batch, emb, dim_, n, u_.data(), v_.data(), z_.data());
    x_.resize(nd);
    backend_->Mul(nd, u_.data(), v_.data(), x_.data());
    const float* mlp_out = mlp_.Forward(backend_, rows_n, x_.data(), dim_, dense);
    for (size_t i = 0; i < n; ++i) z_[i] += mlp_out[i];

    dz_.resize(n);
    const double loss =
        LossAndGrad(options_.loss, n, z_.data(), batch.labels.data(), 1.0f / static_cast<float>(n),
                    predictions, grads ? dz_.data() : nullptr);
    if (grads == nullptr) return loss;

    dx_.resize(nd);
    mlp_.Backward(backend_, rows_n, x_.data(), dim_, dz_.data(), dense, grads->dense, dx_.data(),
                  dim_);
    // d x / d u = v and d x / d v = u, elementwise.
    du_.resize(nd);
    backend_->Mul(nd, dx_.data(), v_.data(), du_.data());
    backend_->Mul(nd, dx_.data(), u_.data(), dx_.data());
    // d r / d b_u = d r / d b_i = 1.
    towers_.Scatter(batch, emb, dim_, n, du_.data(), dx_.data(), dz_.data(), grads->embedding,
                    grads->linear);
    return loss;
  }

 private:
  const UserItemTowers towers_;
  Mlp mlp_;
  // Per-batch scratch, n x dim or n.
  std::vector<float> u_, v_, x_, z_, dz_, dx_, du_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> CreateNcfModel(const ModelOptions& options,
                                                const BatchSchema& schema, KernelBackend* backend) {
  ASSIGN_OR_RETURN(UserItemTowers towers,
                   UserItemTowers::Resolve(schema, options.user_slots, options.item_slots));
  return std::unique_ptr<Model>(new NcfModel(options, schema, backend, std::move(towers)));
}

}  // namespace metaps
