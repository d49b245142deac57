// Builds a batch's EmbeddingBatch (worker/model.h): the distinct keys over all
// slots, and for every slot the row each of its keys uses. Reuses its buffers.
#pragma once

#include "common/key_dedup.h"
#include "worker/batch.h"
#include "worker/model.h"

namespace metaps {

// Per-example L2: adds decay[t] * c / n * w to the gradient of every row of
// table t (w its pulled value) that the batch's n examples use c times, the
// gradient of decay[t] / 2 * |w|^2 added to each example's loss per row it
// uses. Counts come from emb->row_index, so slots the model does not read
// count no use. `uses` is scratch.
void AddPerExampleL2(size_t n, const float decay[2], std::vector<uint32_t>* uses,
                     EmbeddingBatch* emb);

class EmbeddingBatchBuilder {
 public:
  // Fills `emb` for `batch`: tables [0] (embedding_dim) and, when
  // `with_linear`, [1] (dim 1), both with the same unique keys; rows and
  // grads sized and grads zeroed. With `model`, the slots it does not read
  // (Model::ReadsSlot) contribute no keys and get no row indices.
  void Build(const Batch& batch, int embedding_dim, bool with_linear, EmbeddingBatch* emb,
             const Model* model = nullptr);

 private:
  KeyDedup dedup_;
};

}  // namespace metaps
