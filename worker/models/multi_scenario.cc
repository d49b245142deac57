// multi_scenario: shared embeddings and bottom, one tower per scenario.
// Per example, with e_f the value-weighted sum-pooled embedding of slot f and
// x the dense features:
//   input  = concat(e_1, ..., e_F, x)                      width W = F*dim + D
//   h      = Bottom(input), widths [W, hidden[0], ..., hidden[k-2]], ReLU after
//            every layer; absent (h = input) when k = hidden.size() < 2
//   z      = Tower_s(h), widths [H, hidden[k-1], 1] ([H, 1] when k = 0), s the
//            example's scenario id (< num_scenarios)
// Dense layout: [bottom layers][tower 0][tower 1]...; the towers are equal in
// shape. Examples are grouped by scenario so that each tower runs one GEMM
// chain over a contiguous block.
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

class MultiScenarioModel final : public ModelFamily {
 public:
  MultiScenarioModel(const ModelOptions& options, const BatchSchema& schema, KernelBackend* backend)
      : ModelFamily(options, schema, backend, /*needs_linear=*/false),
        num_fields_(static_cast<int>(schema.num_slots())),
        num_dense_features_(static_cast<int>(schema.num_dense())),
        input_width_(num_fields_ * options.embedding_dim + num_dense_features_) {
    const std::vector<int>& hidden = options.hidden;
    size_t offset = 0;
    int tower_in = input_width_;
    if (hidden.size() >= 2) {
      std::vector<int> widths = {input_width_};
      widths.insert(widths.end(), hidden.begin(), hidden.end() - 1);
      bottom_ = std::make_unique<Mlp>(std::move(widths), /*relu_last=*/true, offset);
      offset += bottom_->num_params();
      tower_in = bottom_->out_dim();
    }
    std::vector<int> tower_widths = {tower_in};
    if (!hidden.empty()) tower_widths.push_back(hidden.back());
    tower_widths.push_back(1);
    towers_.reserve(options.num_scenarios);
    for (int k = 0; k < options.num_scenarios; ++k) {
      towers_.emplace_back(tower_widths, /*relu_last=*/false, offset);
      offset += towers_.back().num_params();
    }
    num_params_ = offset;
    tower_in_width_ = tower_in;
  }

  size_t num_dense() const override { return num_params_; }
  void InitDense(uint64_t seed, float* dense) const override {
    if (bottom_) bottom_->Init(seed, dense);
    for (const Mlp& tower : towers_) tower.Init(seed, dense);
  }

 protected:
  StatusOr<double> Compute(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                           float* predictions, const GradSinks* grads) override {
    const size_t n = batch.size();
    RETURN_IF_ERROR(GroupByScenario(batch));
    const int rows_n = static_cast<int>(n);
    const int w = input_width_;
    const int h = tower_in_width_;
    input_.assign(n * w, 0.0f);
    for (int f = 0; f < num_fields_; ++f) {
      PoolSlot(batch.slots[f], emb.row_index[f], emb.tables[0].rows.data(), dim_, n,
               input_.data() + f * dim_, w);
    }
    const int d_feat = num_dense_features_;
    for (size_t i = 0; i < n && d_feat > 0; ++i) {
      const float* x = batch.dense.data() + i * d_feat;
      std::copy(x, x + d_feat, input_.data() + i * w + num_fields_ * dim_);
    }
    const float* bottom_out =
        bottom_ ? bottom_->Forward(backend_, rows_n, input_.data(), w, dense) : input_.data();
    // tower_in_ row r is the bottom output of example order_[r].
    tower_in_.resize(n * h);
    for (size_t r = 0; r < n; ++r) {
      const float* src = bottom_out + static_cast<size_t>(order_[r]) * h;
      std::copy(src, src + h, tower_in_.data() + r * h);
    }
    z_.resize(n);
    for (size_t k = 0; k < towers_.size(); ++k) {
      const uint32_t begin = starts_[k];
      const int count = static_cast<int>(starts_[k + 1] - begin);
      if (count == 0) continue;
      const float* out =
          towers_[k].Forward(backend_, count, tower_in_.data() + begin * h, h, dense);
      for (int r = 0; r < count; ++r) z_[order_[begin + r]] = out[r];
    }

    dz_.resize(n);
    const double loss =
        LossAndGrad(options_.loss, n, z_.data(), batch.labels.data(), 1.0f / static_cast<float>(n),
                    predictions, grads ? dz_.data() : nullptr);
    if (grads == nullptr) return loss;

    dz_grouped_.resize(n);
    for (size_t r = 0; r < n; ++r) dz_grouped_[r] = dz_[order_[r]];
    d_tower_in_.resize(n * h);
    for (size_t k = 0; k < towers_.size(); ++k) {
      const uint32_t begin = starts_[k];
      const int count = static_cast<int>(starts_[k + 1] - begin);
      if (count == 0) continue;
      towers_[k].Backward(backend_, count, tower_in_.data() + begin * h, h,
                          dz_grouped_.data() + begin, dense, grads->dense,
                          d_tower_in_.data() + begin * h, h);
    }
    // Back to example order: the gradient of the bottom's output, or of the input.
    d_bottom_out_.resize(n * h);
    for (size_t r = 0; r < n; ++r) {
      const float* src = d_tower_in_.data() + r * h;
      std::copy(src, src + h, d_bottom_out_.data() + static_cast<size_t>(order_[r]) * h);
    }
    const float* d_input = d_bottom_out_.data();
    if (bottom_) {
      d_input_.resize(n * w);
      bottom_->Backward(backend_, rows_n, input_.data(), w, d_bottom_out_.data(), dense,
                        grads->dense, d_input_.data(), w);
      d_input = d_input_.data();
    }
    for (int f = 0; f < num_fields_; ++f) {
      ScatterSlot(batch.slots[f], emb.row_index[f], d_input + f * dim_, w, dim_, n,
                  grads->embedding);
    }
    return loss;
  }

 private:
  // Fills order_ (example indices grouped by scenario, stable) and starts_.
  Status GroupByScenario(const Batch& batch) {
    const size_t n = batch.size();
    const size_t num_scenarios = towers_.size();
    if (batch.scenario_ids.size() != n) {
      return InvalidArgument("batch has " + std::to_string(batch.scenario_ids.size()) +
                             " scenario ids for " + std::to_string(n) + " examples");
    }
    starts_.assign(num_scenarios + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t s = batch.scenario_ids[i];
      if (s >= num_scenarios) {
        return InvalidArgument("example " + std::to_string(i) + " of the batch has scenario id " +
                               std::to_string(s) + ", but ModelOptions.num_scenarios is " +
                               std::to_string(num_scenarios));
      }
      ++starts_[s + 1];
    }
    for (size_t k = 0; k < num_scenarios; ++k) starts_[k + 1] += starts_[k];
    next_.assign(starts_.begin(), starts_.end() - 1);
    order_.resize(n);
    for (size_t i = 0; i < n; ++i)
      order_[next_[batch.scenario_ids[i]]++] = static_cast<uint32_t>(i);
    return Status::Ok();
  }

  const int num_fields_;
  const int num_dense_features_;
  const int input_width_;
  int tower_in_width_ = 0;
  size_t num_params_ = 0;
  std::unique_ptr<Mlp> bottom_;  // null when hidden has fewer than 2 layers
  std::vector<Mlp> towers_;      // one per scenario
  // Per-batch scratch.
  std::vector<uint32_t> starts_, next_, order_;
  std::vector<float> input_, tower_in_, z_, dz_, dz_grouped_, d_tower_in_, d_bottom_out_, d_input_;
};

}  // namespace

StatusOr<std::unique_ptr<Model>> CreateMultiScenarioModel(const ModelOptions& options,
                                                          const BatchSchema& schema,
                                                          KernelBackend* backend) {
  if (options.num_scenarios < 1) {
    return InvalidArgument("ModelOptions.num_scenarios must be at least 1, got " +
                           std::to_string(options.num_scenarios));
  }
  if (schema.num_slots() == 0 && schema.num_dense() == 0) {
    return InvalidArgument(
        "model family 'multi_scenario' needs a schema with slots or dense features");
  }
  return std::unique_ptr<Model>(new MultiScenarioModel(options, schema, backend));
}

}  // namespace metaps
