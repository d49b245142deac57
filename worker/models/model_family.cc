#include "worker/models/model_family.h"

#include "worker/models/sparse_features.h"

namespace metaps {

ModelFamily::ModelFamily(const ModelOptions& options, const BatchSchema& schema,
                         KernelBackend* backend, bool needs_linear)
    : options_(options),
      schema_(schema),
      backend_(backend),
      dim_(options.embedding_dim),
      reads_(schema.num_slots(), true),
      needs_linear_(needs_linear) {}

Status ModelFamily::Forward(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                            float* predictions) {
  RETURN_IF_ERROR(ValidateModelInputs(schema_, batch, emb, dim_, needs_linear_, false, reads_));
  if (batch.empty()) return Status::Ok();
  return Compute(batch, emb, dense, predictions, nullptr).status();
}

StatusOr<double> ModelFamily::ForwardBackward(const Batch& batch, EmbeddingBatch& emb,
                                              const float* dense, float* dense_grad,
                                              float* predictions) {
  RETURN_IF_ERROR(ValidateModelInputs(schema_, batch, emb, dim_, needs_linear_, true, reads_));
  if (batch.empty()) return 0.0;
  GradSinks grads;
  grads.dense = dense_grad;
  grads.embedding = emb.tables[0].grads.data();
  if (needs_linear_) grads.linear = emb.tables[1].grads.data();
  return Compute(batch, emb, dense, predictions, &grads);
}

}  // namespace metaps
