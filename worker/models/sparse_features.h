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
// per CSR key of every slot the model reads (`reads`, per slot), each within
// its table, and gradient buffers when needs_grads. Cost O(keys); errors name
// the slot, table or example.
Status ValidateModelInputs(const BatchSchema& schema, const Batch& batch, const EmbeddingBatch& emb,
                           int dim, bool needs_linear, bool needs_grads,
                           const std::vector<bool>& reads);

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

// The user and item towers of mf and ncf: u (v) pools the table-0 rows of the
// user (item) slots' keys, and bias gets b_u + b_i, the same pools over the
// dim-1 linear table (table 1).
class UserItemTowers {
 public:
  // Resolves ModelOptions' user_slots and item_slots in `schema`.
  static StatusOr<UserItemTowers> Resolve(const BatchSchema& schema,
                                          const std::vector<std::string>& user_slots,
                                          const std::vector<std::string>& item_slots);
  // Per schema slot of `num_slots`: whether a tower reads it.
  std::vector<bool> SlotsRead(size_t num_slots) const;

  // u, v: n x dim (added to); bias: n (added to).
  void Pool(const Batch& batch, const EmbeddingBatch& emb, int dim, size_t n, float* u, float* v,
            float* bias) const;
  // The adjoint: du, dv (n x dim) into table-0 gradients, d_bias (n) into
  // table-1 gradients.
  void Scatter(const Batch& batch, const EmbeddingBatch& emb, int dim, size_t n, const float* du,
               const float* dv, const float* d_bias, float* embedding_grads,
               float* linear_grads) const;

 private:
  std::vector<int> user_, item_;
};

}  // namespace metaps
