#include "worker/embedding_batch.h"

#include "common/hash.h"

namespace metaps {

void EmbeddingBatchBuilder::Build(const Batch& batch, int embedding_dim, bool with_linear,
                                  EmbeddingBatch* emb) {
  size_t total = 0;
  for (const auto& slot : batch.slots) total += slot.keys.size();
  size_t capacity = 16;
  while (capacity < 2 * total) capacity <<= 1;
  slots_.assign(capacity, UINT32_MAX);
  const size_t mask = capacity - 1;

  emb->tables.resize(with_linear ? 2 : 1);
  std::vector<uint64_t>& unique = emb->tables[0].keys;
  unique.clear();
  emb->row_index.resize(batch.slots.size());
  for (size_t s = 0; s < batch.slots.size(); ++s) {
    const std::vector<uint64_t>& keys = batch.slots[s].keys;
    std::vector<uint32_t>& index = emb->row_index[s];
    index.resize(keys.size());
    for (size_t p = 0; p < keys.size(); ++p) {
      size_t h = Mix64(keys[p]) & mask;
      while (slots_[h] != UINT32_MAX && unique[slots_[h]] != keys[p]) h = (h + 1) & mask;
      if (slots_[h] == UINT32_MAX) {
        slots_[h] = static_cast<uint32_t>(unique.size());
        unique.push_back(keys[p]);
      }
      index[p] = slots_[h];
    }
  }
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
