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
          std::vector<int> user_slots, std::vector<int> item_slots)
      : ModelFamily(options, schema, backend, /*needs_linear=*/true),
        user_slots_(std::move(user_slots)),
        item_slots_(std::move(item_slots)) {}

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
    const float* rows = emb.tables[0].rows.data();
    const float* linear = emb.tables[1].rows.data();
    for (int s : user_slots_) {
      PoolSlot(batch.slots[s], emb.row_index[s], rows, dim_, n, u_.data(), dim_);
      PoolSlot(batch.slots[s], emb.row_index[s], linear, 1, n, z_.data(), 1);
    }
    for (int s : item_slots_) {
      PoolSlot(batch.slots[s], emb.row_index[s], rows, dim_, n, v_.data(), dim_);
      PoolSlot(batch.slots[s], emb.row_index[s], linear, 1, n, z_.data(), 1);
    }
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
    for (int s : user_slots_) {
      ScatterSlot(batch.slots[s], emb.row_index[s], du_.data(), dim_, dim_, n, grads->embedding);
      ScatterSlot(batch.slots[s], emb.row_index[s], dz_.data(), 1, 1, n, grads->linear);
    }
    for (int s : item_slots_) {
      ScatterSlot(batch.slots[s], emb.row_index[s], dv_.data(), dim_, dim_, n, grads->embedding);
      ScatterSlot(batch.slots[s], emb.row_index[s], dz_.data(), 1, 1, n, grads->linear);
    }
    return loss;
  }

 private:
  const std::vector<int> user_slots_;
  const std::vector<int> item_slots_;
  // Per-batch scratch, n x dim or n.
  std::vector<float> u_, v_, z_, dot_, dz_, du_, dv_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> CreateMfModel(const ModelOptions& options,
                                               const BatchSchema& schema, KernelBackend* backend) {
  ASSIGN_OR_RETURN(std::vector<int> user_slots,
                   ResolveSlots(schema, options.user_slots, "user_slots"));
  ASSIGN_OR_RETURN(std::vector<int> item_slots,
                   ResolveSlots(schema, options.item_slots, "item_slots"));
  return std::unique_ptr<Model>(
      new MfModel(options, schema, backend, std::move(user_slots), std::move(item_slots)));
}

}  // namespace metaps
