// deepfm: factorisation machine plus an MLP over all slots.
// Per example, with F slots, field embedding e_f = sum over slot f's keys of
// w_p * E[key] (w_p the key's value, 1 when the slot has none; multi-valued
// slots are sum-pooled) and x the dense features:
//   first = b + sum_f sum_p w_p * L[key_p] + <w_dense, x>
//   fm    = 0.5 * sum_d [(sum_f e_fd)^2 - sum_f e_fd^2]
//   mlp   = MLP(concat(e_1, ..., e_F, x)), widths [F*dim + D, hidden..., 1]
//   z     = first + fm + mlp          (no mlp term when !use_mlp: plain FM)
// Dense layout: [b][w_dense: D][MLP layers, when use_mlp].
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "worker/models/loss.h"
#include "worker/models/mlp.h"
#include "worker/models/model_family.h"
#include "worker/models/sparse_features.h"

namespace metaps {
namespace {

class DeepFmModel final : public ModelFamily {
 public:
  DeepFmModel(const ModelOptions& options, const BatchSchema& schema, KernelBackend* backend)
      : ModelFamily(options, schema, backend, /*needs_linear=*/true),
        num_fields_(static_cast<int>(schema.num_slots())),
        num_dense_features_(static_cast<int>(schema.num_dense())),
        field_width_(num_fields_ * options.embedding_dim),
        input_width_(field_width_ + num_dense_features_) {
    if (options.use_mlp) {
      std::vector<int> widths = {input_width_};
      widths.insert(widths.end(), options.hidden.begin(), options.hidden.end());
      widths.push_back(1);
      mlp_ = std::make_unique<Mlp>(std::move(widths), /*relu_last=*/false, MlpOffset());
    }
  }

  size_t num_dense() const override { return MlpOffset() + (mlp_ ? mlp_->num_params() : 0); }
  void InitDense(uint64_t seed, float* dense) const override {
    for (size_t k = 0; k < MlpOffset(); ++k) dense[k] = 0.0f;
    if (mlp_) mlp_->Init(seed, dense);
  }

 protected:
  StatusOr<double> Compute(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                           float* predictions, const GradSinks* grads) override {
    const size_t n = batch.size();
    const int rows_n = static_cast<int>(n);
    const int w = input_width_;
    // input_ = [e_1 .. e_F | x] per example; z_ starts as the first-order term.
    input_.assign(n * w, 0.0f);
    z_.assign(n, dense[0]);
    for (int f = 0; f < num_fields_; ++f) {
      PoolSlot(batch.slots[f], emb.row_index[f], emb.tables[0].rows.data(), dim_, n,
               input_.data() + f * dim_, w);
      PoolSlot(batch.slots[f], emb.row_index[f], emb.tables[1].rows.data(), 1, n, z_.data(), 1);
    }
    const int d_feat = num_dense_features_;
    if (d_feat > 0) {
      for (size_t i = 0; i < n; ++i) {
        const float* x = batch.dense.data() + i * d_feat;
        std::copy(x, x + d_feat, input_.data() + i * w + field_width_);
      }
      backend_->Gemm(false, false, rows_n, 1, d_feat, 1.0f, batch.dense.data(), d_feat, dense + 1,
                     1, 1.0f, z_.data(), 1);
    }
    // Second order, O(F * dim) per example; sum_ keeps sum_f e_f for backward.
    sum_.assign(n * dim_, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      float* s = sum_.data() + i * dim_;
      float squares = 0.0f;
      for (int f = 0; f < num_fields_; ++f) {
        const float* e = input_.data() + i * w + f * dim_;
        for (int j = 0; j < dim_; ++j) {
          s[j] += e[j];
          squares += e[j] * e[j];
        }
      }
      float total = 0.0f;
      for (int j = 0; j < dim_; ++j) total += s[j] * s[j];
      z_[i] += 0.5f * (total - squares);
    }
    if (mlp_) {
      const float* out = mlp_->Forward(backend_, rows_n, input_.data(), w, dense);
      for (size_t i = 0; i < n; ++i) z_[i] += out[i];
    }

    dz_.resize(n);
    const double loss =
        LossAndGrad(options_.loss, n, z_.data(), batch.labels.data(), 1.0f / static_cast<float>(n),
                    predictions, grads ? dz_.data() : nullptr);
    if (grads == nullptr) return loss;

    float* dd = grads->dense;
    for (size_t i = 0; i < n; ++i) dd[0] += dz_[i];
    if (d_feat > 0) {
      backend_->Gemm(true, false, d_feat, 1, rows_n, 1.0f, batch.dense.data(), d_feat, dz_.data(),
                     1, 1.0f, dd + 1, 1);
    }
    // d_input_ = d z / d input: the MLP's part (when any) plus the FM part
    // d fm / d e_fj = sum_j - e_fj.
    const int ld = mlp_ ? w : field_width_;
    if (mlp_) {
      d_input_.resize(n * w);
      mlp_->Backward(backend_, rows_n, input_.data(), w, dz_.data(), dense, dd, d_input_.data(), w);
    } else {
      d_input_.assign(n * field_width_, 0.0f);
    }
    for (size_t i = 0; i < n; ++i) {
      const float g = dz_[i];
      const float* s = sum_.data() + i * dim_;
      for (int f = 0; f < num_fields_; ++f) {
        const float* e = input_.data() + i * w + f * dim_;
        float* de = d_input_.data() + i * ld + f * dim_;
        for (int j = 0; j < dim_; ++j) de[j] += g * (s[j] - e[j]);
      }
    }
    for (int f = 0; f < num_fields_; ++f) {
      ScatterSlot(batch.slots[f], emb.row_index[f], d_input_.data() + f * dim_, ld, dim_, n,
                  grads->embedding);
      ScatterSlot(batch.slots[f], emb.row_index[f], dz_.data(), 1, 1, n, grads->linear);
    }
    return loss;
  }

 private:
  size_t MlpOffset() const { return 1 + static_cast<size_t>(num_dense_features_); }

  const int num_fields_;
  const int num_dense_features_;
  const int field_width_;     // num_fields_ * dim
  const int input_width_;     // field_width_ + dense features: the MLP's input
  std::unique_ptr<Mlp> mlp_;  // null for plain FM
  // Per-batch scratch.
  std::vector<float> input_, z_, sum_, dz_, d_input_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> CreateDeepFmModel(const ModelOptions& options,
                                                   const BatchSchema& schema,
                                                   KernelBackend* backend) {
  if (schema.num_slots() == 0 && schema.num_dense() == 0) {
    return InvalidArgument("model family 'deepfm' needs a schema with slots or dense features");
  }
  return std::unique_ptr<Model>(new DeepFmModel(options, schema, backend));
}

}  // namespace metaps
