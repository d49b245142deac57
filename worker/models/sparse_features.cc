#include "worker/models/sparse_features.h"

#include <sstream>
#include <utility>

namespace metaps {
namespace {

Status CheckTable(const EmbeddingBatch& emb, size_t t, int dim, bool needs_grads) {
  const TableRows& table = emb.tables[t];
  if (table.dim != dim) {
    return InvalidArgument("EmbeddingBatch table " + std::to_string(t) + " has dim " +
                           std::to_string(table.dim) + ", the model needs " + std::to_string(dim));
  }
  const size_t want = table.keys.size() * static_cast<size_t>(dim);
  if (table.rows.size() != want || (needs_grads && table.grads.size() != want)) {
    return InvalidArgument(
        "EmbeddingBatch table " + std::to_string(t) + " has " + std::to_string(table.rows.size()) +
        " row floats and " + std::to_string(table.grads.size()) + " gradient floats for " +
        std::to_string(table.keys.size()) + " keys of dim " + std::to_string(dim));
  }
  if (t > 0 && table.keys.size() != emb.tables[0].keys.size()) {
    return InvalidArgument("EmbeddingBatch table " + std::to_string(t) + " has " +
                           std::to_string(table.keys.size()) + " keys, table 0 has " +
                           std::to_string(emb.tables[0].keys.size()));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateModelInputs(const BatchSchema& schema, const Batch& batch, const EmbeddingBatch& emb,
                           int dim, bool needs_linear, bool needs_grads,
                           const std::vector<bool>& reads) {
  const size_t n = batch.size();
  if (batch.slots.size() != schema.num_slots() || batch.num_dense != schema.num_dense() ||
      batch.dense.size() != n * batch.num_dense) {
    return InvalidArgument("batch has " + std::to_string(batch.slots.size()) + " slots and " +
                           std::to_string(batch.num_dense) + " dense features, the schema has " +
                           std::to_string(schema.num_slots()) + " and " +
                           std::to_string(schema.num_dense()));
  }
  const size_t num_tables = needs_linear ? 2 : 1;
  if (emb.tables.size() < num_tables) {
    return InvalidArgument("EmbeddingBatch has " + std::to_string(emb.tables.size()) +
                           " tables, the model needs " + std::to_string(num_tables));
  }
  RETURN_IF_ERROR(CheckTable(emb, 0, dim, needs_grads));
  if (needs_linear) RETURN_IF_ERROR(CheckTable(emb, 1, 1, needs_grads));
  if (emb.row_index.size() != batch.slots.size()) {
    return InvalidArgument("EmbeddingBatch has row indices for " +
                           std::to_string(emb.row_index.size()) + " slots, the batch has " +
                           std::to_string(batch.slots.size()));
  }
  const size_t num_rows = emb.tables[0].keys.size();
  for (size_t s = 0; s < batch.slots.size(); ++s) {
    const SparseSlot& slot = batch.slots[s];
    const std::string name = "slot '" + schema.slots[s].name + "'";
    if (slot.offsets.size() != n + 1 || slot.offsets.back() != slot.keys.size()) {
      return InvalidArgument(name + " has malformed offsets for " + std::to_string(n) +
                             " examples");
    }
    if (slot.has_values && slot.values.size() != slot.keys.size()) {
      return InvalidArgument(name + " has " + std::to_string(slot.values.size()) + " values for " +
                             std::to_string(slot.keys.size()) + " keys");
    }
    if (s < reads.size() && !reads[s]) continue;  // its keys may have no rows
    const std::vector<uint32_t>& index = emb.row_index[s];
    if (index.size() != slot.keys.size()) {
      return InvalidArgument("EmbeddingBatch has " + std::to_string(index.size()) +
                             " row indices for the " + std::to_string(slot.keys.size()) +
                             " keys of " + name);
    }
    for (size_t p = 0; p < index.size(); ++p) {
      if (index[p] >= num_rows) {
        return InvalidArgument(name + " key position " + std::to_string(p) + " uses row " +
                               std::to_string(index[p]) + " of " + std::to_string(num_rows));
      }
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<int>> ResolveSlots(const BatchSchema& schema,
                                        const std::vector<std::string>& names,
                                        const std::string& option) {
  if (names.empty()) return InvalidArgument("ModelOptions." + option + " is empty");
  std::vector<int> indices;
  for (const std::string& name : names) {
    const int index = schema.SlotIndex(name);
    if (index < 0) {
      std::ostringstream known;
      for (size_t s = 0; s < schema.slots.size(); ++s) {
        known << (s ? ", " : "") << schema.slots[s].name;
      }
      return InvalidArgument("ModelOptions." + option + ": slot '" + name +
                             "' is not in the data schema (its slots: " + known.str() + ")");
    }
    indices.push_back(index);
  }
  return indices;
}

void PoolSlot(const SparseSlot& slot, const std::vector<uint32_t>& row_index, const float* rows,
              int dim, size_t n, float* out, int ld) {
  const bool weighted = slot.has_values;
  for (size_t i = 0; i < n; ++i) {
    float* o = out + i * ld;
    for (uint32_t p = slot.offsets[i]; p < slot.offsets[i + 1]; ++p) {
      const float w = weighted ? slot.values[p] : 1.0f;
      const float* row = rows + static_cast<size_t>(row_index[p]) * dim;
      for (int j = 0; j < dim; ++j) o[j] += w * row[j];
    }
  }
}

void ScatterSlot(const SparseSlot& slot, const std::vector<uint32_t>& row_index, const float* d_out,
                 int ld, int dim, size_t n, float* grads) {
  const bool weighted = slot.has_values;
  for (size_t i = 0; i < n; ++i) {
    const float* d = d_out + i * ld;
    for (uint32_t p = slot.offsets[i]; p < slot.offsets[i + 1]; ++p) {
      const float w = weighted ? slot.values[p] : 1.0f;
      float* g = grads + static_cast<size_t>(row_index[p]) * dim;
      for (int j = 0; j < dim; ++j) g[j] += w * d[j];
    }
  }
}

StatusOr<UserItemTowers> UserItemTowers::Resolve(const BatchSchema& schema,
                                                 const std::vector<std::string>& user_slots,
                                                 const std::vector<std::string>& item_slots) {
  UserItemTowers towers;
  ASSIGN_OR_RETURN(towers.user_, ResolveSlots(schema, user_slots, "user_slots"));
  ASSIGN_OR_RETURN(towers.item_, ResolveSlots(schema, item_slots, "item_slots"));
  return towers;
}

std::vector<bool> UserItemTowers::SlotsRead(size_t num_slots) const {
  std::vector<bool> reads(num_slots, false);
  for (const std::vector<int>* slots : {&user_, &item_}) {
    for (int s : *slots) reads[static_cast<size_t>(s)] = true;
  }
  return reads;
}

void UserItemTowers::Pool(const Batch& batch, const EmbeddingBatch& emb, int dim, size_t n,
                          float* u, float* v, float* bias) const {
  const float* rows = emb.tables[0].rows.data();
  const float* linear = emb.tables[1].rows.data();
  for (const auto& [slots, out] : {std::pair{&user_, u}, std::pair{&item_, v}}) {
    for (int s : *slots) {
      PoolSlot(batch.slots[s], emb.row_index[s], rows, dim, n, out, dim);
      PoolSlot(batch.slots[s], emb.row_index[s], linear, 1, n, bias, 1);
    }
  }
}

void UserItemTowers::Scatter(const Batch& batch, const EmbeddingBatch& emb, int dim, size_t n,
                             const float* du, const float* dv, const float* d_bias,
                             float* embedding_grads, float* linear_grads) const {
  for (const auto& [slots, d] : {std::pair{&user_, du}, std::pair{&item_, dv}}) {
    for (int s : *slots) {
      ScatterSlot(batch.slots[s], emb.row_index[s], d, dim, dim, n, embedding_grads);
      ScatterSlot(batch.slots[s], emb.row_index[s], d_bias, 1, 1, n, linear_grads);
    }
  }
}

}  // namespace metaps
