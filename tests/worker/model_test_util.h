// Test fixtures for the model families: a small mixed schema, random batches,
// the EmbeddingBatch a trainer would build, and a finite-difference checker.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/batch.h"
#include "worker/model.h"

namespace metaps {
namespace testing_util {

// Slots: "user" (one key), "item" (one key), "tags" (0..3 keys, multi-valued),
// "feat" (1..2 keys with values); two dense features.
inline BatchSchema MixedSchema() {
  BatchSchema schema;
  schema.dense_names = {"d0", "d1"};
  schema.slots = {{"user", false}, {"item", false}, {"tags", false}, {"feat", true}};
  return schema;
}

// Keys are drawn from small pools so that examples share rows; the label is a
// click (logistic) or a rating in 1..5 (squared).
inline Batch RandomBatch(const BatchSchema& schema, size_t n, uint32_t seed, bool ratings,
                         uint32_t num_scenarios = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Batch batch;
  batch.Reset(schema);
  for (size_t i = 0; i < n; ++i) {
    for (size_t d = 0; d < schema.num_dense(); ++d) batch.AddDense(2.0f * unit(rng) - 1.0f);
    for (size_t s = 0; s < schema.num_slots(); ++s) {
      const std::string& name = schema.slots[s].name;
      const int count = name == "tags"   ? static_cast<int>(rng() % 4)
                        : name == "feat" ? 1 + static_cast<int>(rng() % 2)
                                         : 1;
      for (int k = 0; k < count; ++k) {
        const uint64_t key = (s + 1) * 1000 + rng() % 5;
        if (schema.slots[s].has_values) {
          batch.AddKeyValue(s, key, 0.5f + unit(rng));
        } else {
          batch.AddKey(s, key);
        }
      }
    }
    const float label = ratings ? static_cast<float>(1 + rng() % 5) : (rng() % 2 ? 1.0f : 0.0f);
    batch.FinishExample(label, static_cast<uint32_t>(rng() % num_scenarios));
  }
  return batch;
}

// Unique keys over all slots in order of first sight; random rows, zero grads.
inline EmbeddingBatch MakeEmbeddingBatch(const Batch& batch, int dim, bool with_linear,
                                         uint32_t seed, float scale = 0.5f) {
  EmbeddingBatch emb;
  std::unordered_map<uint64_t, uint32_t> index;
  std::vector<uint64_t> keys;
  for (const SparseSlot& slot : batch.slots) {
    std::vector<uint32_t> rows;
    for (uint64_t key : slot.keys) {
      auto it = index.emplace(key, static_cast<uint32_t>(keys.size())).first;
      if (it->second == keys.size()) keys.push_back(key);
      rows.push_back(it->second);
    }
    emb.row_index.push_back(std::move(rows));
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  const int num_tables = with_linear ? 2 : 1;
  for (int t = 0; t < num_tables; ++t) {
    TableRows table;
    table.table_id = t;
    table.dim = t == 0 ? dim : 1;
    table.keys = keys;
    table.rows.resize(keys.size() * table.dim);
    for (float& x : table.rows) x = normal(rng);
    table.grads.assign(table.rows.size(), 0.0f);
    emb.tables.push_back(std::move(table));
  }
  return emb;
}

// Mean loss of the batch, leaving emb's gradients untouched.
inline double MeanLoss(Model& model, const Batch& batch, const EmbeddingBatch& emb,
                       const std::vector<float>& dense) {
  EmbeddingBatch copy = emb;
  std::vector<float> dense_grad(dense.size()), predictions(batch.size());
  StatusOr<double> loss =
      model.ForwardBackward(batch, copy, dense.data(), dense_grad.data(), predictions.data());
  EXPECT_TRUE(loss.ok()) << loss.status();
  return loss.ok() ? *loss / batch.size() : NAN;
}

// Compares `analytic` to central differences of the mean loss in *param.
// The model computes in float, so a step of 1e-3 can drown in rounding (large
// squared losses) or straddle a ReLU kink; the check passes when any of the
// steps 1e-3, 1e-2, 2e-4 agrees within a relative 1e-2 plus an absolute 2e-4.
inline bool CheckGradient(Model& model, const Batch& batch, EmbeddingBatch& emb,
                          std::vector<float>& dense, float* param, float analytic,
                          const std::string& what) {
  const float saved = *param;
  double first_numeric = 0.0;
  for (float eps : {1e-3f, 1e-2f, 2e-4f}) {
    *param = saved + eps;
    const double plus = MeanLoss(model, batch, emb, dense);
    *param = saved - eps;
    const double minus = MeanLoss(model, batch, emb, dense);
    *param = saved;
    const double numeric = (plus - minus) / (2.0 * eps);
    if (eps == 1e-3f) first_numeric = numeric;
    const double tolerance =
        1e-2 * std::max(std::fabs(numeric), std::fabs(static_cast<double>(analytic))) + 2e-4;
    if (std::fabs(analytic - numeric) <= tolerance) return true;
  }
  ADD_FAILURE() << what << ": analytic " << analytic << ", central difference (eps 1e-3) "
                << first_numeric;
  return false;
}

}  // namespace testing_util
}  // namespace metaps
