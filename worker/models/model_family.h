// ModelFamily: the shared frame of the four model families. It validates the
// inputs once per call and runs the family's Compute, which does the forward
// pass and, when grads != nullptr, the backward pass. One instance per thread
// (families keep per-batch scratch as members).
#pragma once

#include <memory>

#include "common/status.h"
#include "kernels/backend.h"
#include "worker/batch.h"
#include "worker/model.h"

namespace metaps {

// Where the backward pass adds its gradients (of the mean loss).
struct GradSinks {
  float* dense = nullptr;      // num_dense() floats
  float* embedding = nullptr;  // emb.tables[0].grads
  float* linear = nullptr;     // emb.tables[1].grads, when NeedsLinearTable()
};

class ModelFamily : public Model {
 public:
  ModelFamily(const ModelOptions& options, const BatchSchema& schema, KernelBackend* backend,
              bool needs_linear);

  bool NeedsLinearTable() const final { return needs_linear_; }
  bool ReadsSlot(size_t slot) const final { return slot < reads_.size() && reads_[slot]; }
  Status Forward(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                 float* predictions) final;
  StatusOr<double> ForwardBackward(const Batch& batch, EmbeddingBatch& emb, const float* dense,
                                   float* dense_grad, float* predictions) final;

 protected:
  // REQUIRES: the inputs passed ValidateModelInputs and batch.size() > 0.
  // Returns the summed loss.
  virtual StatusOr<double> Compute(const Batch& batch, const EmbeddingBatch& emb,
                                   const float* dense, float* predictions,
                                   const GradSinks* grads) = 0;

  const ModelOptions options_;
  const BatchSchema schema_;
  KernelBackend* const backend_;
  const int dim_;
  // Per schema slot: read by the model (all, unless a family narrows it).
  std::vector<bool> reads_;

 private:
  const bool needs_linear_;
};

// One factory per family; errors name the offending option.
StatusOr<std::unique_ptr<Model>> CreateMfModel(const ModelOptions& options,
                                               const BatchSchema& schema, KernelBackend* backend);
StatusOr<std::unique_ptr<Model>> CreateNcfModel(const ModelOptions& options,
                                                const BatchSchema& schema, KernelBackend* backend);
StatusOr<std::unique_ptr<Model>> CreateDeepFmModel(const ModelOptions& options,
                                                   const BatchSchema& schema,
                                                   KernelBackend* backend);
StatusOr<std::unique_ptr<Model>> CreateMultiScenarioModel(const ModelOptions& options,
                                                          const BatchSchema& schema,
                                                          KernelBackend* backend);

}  // namespace metaps
