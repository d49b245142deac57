// Sparse-feature plumbing shared by the model families: input validation,
// sum-pooling of a slot's embedding rows per example, and the scatter of
// pooled gradients back to the rows. Plain loops: a gather is memory-bound.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/batch.h"
#include "worker/model.h"

namespace metaps {

// Checks that `batch` has the schema's shape and that `emb` matches it: table 0
// of dimension `dim`, table 1 of dimension 1 when needs_linear, one row index
// per CSR key of every slot, each within its table, and gradient buffers when
// needs_grads. Cost O(keys); errors name the slot, table or example.
Status ValidateModelInputs(const BatchSchema& schema, const Batch& batch, const EmbeddingBatch& emb,
                           int dim, bool needs_linear, bool needs_grads);

// Resolves slot names to indices in `schema`; `option` names the ModelOptions
// field in the error.
StatusOr<std::vector<int>> ResolveSlots(const BatchSchema& schema,
                                        const std::vector<std::string>& names,
                                        const std::string& option);

// For every example i < n: out[i * ld + j] += sum_p w_p * rows[row_index[p] * dim + j]
// over the slot's keys p of example i, j < dim, with w_p the key's value (1
// when the slot has none).
void PoolSlot(const SparseSlot& slot, const std::vector<uint32_t>& row_index, const float* rows,
              int dim, size_t n, float* out, int ld);

// The adjoint of PoolSlot: grads[row_index[p] * dim + j] += w_p * d_out[i * ld + j].
void ScatterSlot(const SparseSlot& slot, const std::vector<uint32_t>& row_index, const float* d_out,
                 int ld, int dim, size_t n, float* grads);

}  // namespace metaps
