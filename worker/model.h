// The contract between the trainer and a model family.
//
// Embeddings live on the parameter servers in two tables shared by all slots
// (keys are already hashed per slot, so slots never collide):
//   table 0 "embedding": dim = ModelOptions::embedding_dim
//   table 1 "linear":    dim 1 (first-order weights and biases), if the model
//                        asks for it (NeedsLinearTable()).
// For each batch the trainer pulls the unique keys of each table once and hands
// the model an EmbeddingBatch: per table the unique rows, and per slot the row
// index of each key. The model reads rows from there and accumulates row
// gradients into `grads` of the same shape; the trainer pushes them.
//
// Dense weights are one flat float buffer (so one all-reduce syncs them all),
// replicated on every worker; the model reads them and adds gradients into a
// buffer of the same size. A model keeps no weights of its own: it can run on
// any copy of the weights it touches (meta-learning adapts private copies).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/aligned_vector.h"
#include "common/status.h"
#include "worker/batch.h"

namespace metaps {

class KernelBackend;  // kernels/backend.h

enum class LossKind { kLogistic, kSquared };

struct ModelOptions {
  std::string family;  // "mf", "ncf", "deepfm", "multi_scenario"
  int embedding_dim = 16;
  std::vector<int> hidden;  // MLP hidden layer widths (ncf, deepfm, multi_scenario)
  LossKind loss = LossKind::kLogistic;
  bool use_mlp = true;       // deepfm: false gives plain FM (first + second order)
  int num_scenarios = 1;     // multi_scenario: towers, one per scenario id
  float global_bias = 0.0f;  // mf: mu, e.g. the mean rating
  // mf and ncf: which slots form the user side and the item side; the side's
  // vector is the sum of its slots' embeddings (ids plus side features).
  std::vector<std::string> user_slots = {"user"};
  std::vector<std::string> item_slots = {"item"};
};

// Rows of one table needed by a batch: unique keys, their pulled values, and
// gradients to push (same shape as rows, zeroed by the trainer).
struct TableRows {
  uint32_t table_id = 0;
  int dim = 0;
  std::vector<uint64_t> keys;
  AlignedVector<float> rows;   // keys.size() * dim, 64-byte aligned (whole cache lines a row)
  AlignedVector<float> grads;  // keys.size() * dim
};

// Both tables hold the same unique keys in the same order (the batch's
// distinct keys over all slots), so one index serves both: the key at CSR
// position p of batch.slots[s] uses row row_index[s][p] of every table.
struct EmbeddingBatch {
  std::vector<TableRows> tables;                 // [0] embedding, [1] linear (if needed)
  std::vector<std::vector<uint32_t>> row_index;  // per slot, per CSR key position
};

class Model {
 public:
  virtual ~Model() = default;

  virtual bool NeedsLinearTable() const = 0;
  // Whether the model reads slot `slot`'s keys. For a slot it does not read,
  // the EmbeddingBatch may hold no row indices and the slot's keys need not
  // be pulled (e.g. MovieLens user attributes that mf's towers leave out).
  virtual bool ReadsSlot(size_t /*slot*/) const { return true; }
  virtual size_t num_dense() const = 0;
  // Fills the dense weights with their deterministic initial values.
  virtual void InitDense(uint64_t seed, float* dense) const = 0;

  // Predictions for the n = batch.size() examples: probabilities (logistic
  // loss) or values (squared loss).
  virtual Status Forward(const Batch& batch, const EmbeddingBatch& emb, const float* dense,
                         float* predictions) = 0;
  // Forward and backward. Returns the batch's summed loss; adds the gradient
  // of the MEAN loss over the batch into dense_grad (num_dense floats) and into
  // emb.tables[t].grads. Writes predictions like Forward.
  virtual StatusOr<double> ForwardBackward(const Batch& batch, EmbeddingBatch& emb,
                                           const float* dense, float* dense_grad,
                                           float* predictions) = 0;
};

// Builds a model for data with `schema`. Errors name the option (e.g. a user
// slot that is not in the schema). `backend` is borrowed for the model's life.
StatusOr<std::unique_ptr<Model>> CreateModel(const ModelOptions& options, const BatchSchema& schema,
                                             KernelBackend* backend);

}  // namespace metaps
