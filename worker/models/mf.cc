// mf: biased matrix factorisation.
//   r = <u, v> + b_u + b_i + mu
// u (v) is the value-weighted sum of the embedding rows of the keys of the
// user (item) slots, b_u (b_i) the same sum over the linear table, and mu the
// only dense parameter, initialised to options.global_bias and then trained.
// The output r goes through options.loss (squared for ratings).
#include <utility>
#include <vector>

#include "worker/models/loss.h"
#include "worker/models/model_family.h"
#include "worker/models/sparse_features.h"

namespace metaps {
namespace {

class MfModel final : public ModelFamily {
 public:
  MfModel(const ModelOptions& options, const BatchSchema& schema, KernelBackend* backend,
          UserItemTowers towers)
      : ModelFamily(options, schema, backend, /*needs_linear=*/true), towers_(std::move(towers)) {
    reads_ = towers_.SlotsRead(schema.num_slots());
  }

  size_t num_dense() const override { return 1; }
  void InitDense(uint64_t /*seed*/, float* dense) const override {
    dense[0] = options_.global_bias;
  }

 protected:
  StatusOr<double> Compute(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                           float* predictions, const GradSinks* grads) override {
    const size_t n = batch.size();
    const size_t nd = n * dim_;
    u_.assign(nd, 0.0f);
    v_.assign(nd, 0.0f);
    z_.assign(n, 0.0f);
    towers_.Pool(batch, emb, dim_, n, u_.data(), v_.data(), z_.data());  // z = b_u + b_i
    dot_.resize(n);
    backend_->RowDot(static_cast<int>(n), dim_, u_.data(), dim_, v_.data(), dim_, dot_.data());
    for (size_t i = 0; i < n; ++i) z_[i] += dot_[i] + dense[0];

    dz_.resize(n);
    const double loss =
        LossAndGrad(options_.loss, n, z_.data(), batch.labels.data(), 1.0f / static_cast<float>(n),
                    predictions, grads ? dz_.data() : nullptr);
    if (grads == nullptr) return loss;

    // d r / d u = v and d r / d v = u, per example.
    du_.resize(nd);
    dv_.resize(nd);
    for (size_t i = 0; i < n; ++i) {
      grads->dense[0] += dz_[i];
      for (int j = 0; j < dim_; ++j) {
        du_[i * dim_ + j] = dz_[i] * v_[i * dim_ + j];
        dv_[i * dim_ + j] = dz_[i] * u_[i * dim_ + j];
      }
    }
    towers_.Scatter(batch, emb, dim_, n, du_.data(), dv_.data(), dz_.data(), grads->embedding,
                    grads->linear);
    return loss;
  }

 private:
  const UserItemTowers towers_;
  // Per-batch scratch, n x dim or n.
  std::vector<float> u_, v_, z_, dot_, dz_, du_, dv_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> CreateMfModel(const ModelOptions& options,
                                               const BatchSchema& schema, KernelBackend* backend) {
  ASSIGN_OR_RETURN(UserItemTowers towers,
                   UserItemTowers::Resolve(schema, options.user_slots, options.item_slots));
  return std::unique_ptr<Model>(new MfModel(options, schema, backend, std::move(towers)));
}

}  // namespace metaps
