#include "worker/embedding_batch.h"

namespace metaps {

void AddPerExampleL2(size_t n, const float decay[2], std::vector<uint32_t>* uses,
                     EmbeddingBatch* emb) {
  if (n == 0 || emb->tables.empty() || (decay[0] == 0 && decay[1] == 0)) return;
  uses->assign(emb->tables[0].keys.size(), 0);
  for (const std::vector<uint32_t>& rows : emb->row_index) {
    for (uint32_t r : rows) ++(*uses)[r];
  }
  for (TableRows& table : emb->tables) {
    const float d = decay[table.table_id];
    if (d == 0) continue;
    const size_t dim = static_cast<size_t>(table.dim);
    const float per_use = d / static_cast<float>(n);
    for (size_t r = 0; r < uses->size(); ++r) {
      if ((*uses)[r] == 0) continue;
      const float scale = per_use * static_cast<float>((*uses)[r]);
      float* g = table.grads.data() + r * dim;
      const float* w = table.rows.data() + r * dim;
      for (size_t j = 0; j < dim; ++j) g[j] += scale * w[j];
    }
  }
}

void EmbeddingBatchBuilder::Build(const Batch& batch, int embedding_dim, bool with_linear,
                                  EmbeddingBatch* emb, const Model* model) {
  auto reads = [&](size_t s) { return model == nullptr || model->ReadsSlot(s); };
  size_t total = 0;
  for (size_t s = 0; s < batch.slots.size(); ++s) {
    if (reads(s)) total += batch.slots[s].keys.size();
  }
  dedup_.Reset(total);
  emb->tables.resize(with_linear ? 2 : 1);
  emb->row_index.resize(batch.slots.size());
  for (size_t s = 0; s < batch.slots.size(); ++s) {
    if (!reads(s)) {
      emb->row_index[s].clear();
      continue;
    }
    const std::vector<uint64_t>& keys = batch.slots[s].keys;
    emb->row_index[s].resize(keys.size());
    dedup_.Add(keys.data(), keys.size(), emb->row_index[s].data());
  }
  std::vector<uint64_t>& unique = emb->tables[0].keys;
  unique.swap(dedup_.unique());
  const int dims[2] = {embedding_dim, 1};
  for (size_t t = 0; t < emb->tables.size(); ++t) {
    TableRows& table = emb->tables[t];
    table.table_id = static_cast<uint32_t>(t);
    table.dim = dims[t];
    if (t > 0) table.keys = unique;
    table.rows.resize(unique.size() * static_cast<size_t>(table.dim));
    table.grads.assign(unique.size() * static_cast<size_t>(table.dim), 0.0f);
  }
}

}  // namespace metaps
