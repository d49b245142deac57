// Batch: a columnar minibatch of examples, as produced by the data readers.
//
// Layout (n = size()):
//   labels[n]                     click / rating / regression target
//   dense[n * num_dense]          row-major dense features
//   slots[s].offsets[n + 1]       CSR per sparse slot ("field"): example i owns
//   slots[s].keys[offsets[i] ..   keys[offsets[i], offsets[i+1]) (0, 1 or many keys)
//              offsets[i+1])
//   slots[s].values               empty (every value is 1) or keys.size() floats
//   scenario_ids[n], user_ids[n], item_ids[n], timestamps[n]   0 when unknown
//
// Readers fill a batch one example at a time: AddDense / AddKey for the example,
// then FinishExample, or AbortExample to drop what was added since the last
// FinishExample (a malformed line). Reset keeps the vectors' capacity, so a
// reused batch allocates nothing in steady state. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metaps {

struct SlotSpec {
  std::string name;
  bool has_values = false;  // libsvm/FFM slots carry a float per key
};

// What a reader produces: the dense feature names and the sparse slots, in order.
struct BatchSchema {
  std::vector<std::string> dense_names;
  std::vector<SlotSpec> slots;

  size_t num_dense() const { return dense_names.size(); }
  size_t num_slots() const { return slots.size(); }
  // Index of the slot named `name`, or -1.
  int SlotIndex(const std::string& name) const;
};

struct SparseSlot {
  std::vector<uint32_t> offsets{0};
  std::vector<uint64_t> keys;
  std::vector<float> values;  // empty unless the slot has values
  bool has_values = false;

  size_t NumKeys(size_t example) const { return offsets[example + 1] - offsets[example]; }
  const uint64_t* KeysOf(size_t example) const { return keys.data() + offsets[example]; }
};

struct Batch {
  size_t num_dense = 0;
  std::vector<float> labels;
  std::vector<float> dense;
  std::vector<SparseSlot> slots;
  std::vector<uint32_t> scenario_ids;
  std::vector<uint64_t> user_ids;
  std::vector<uint64_t> item_ids;
  std::vector<int64_t> timestamps;

  size_t size() const { return labels.size(); }
  bool empty() const { return labels.empty(); }

  // Empties the batch and shapes it for `schema`, keeping capacity.
  void Reset(const BatchSchema& schema);
  // Empties the batch, keeping its shape and capacity.
  void Clear();

  // --- Building the example at index size() ---
  void AddDense(float value) { dense.push_back(value); }
  void AddKey(size_t slot, uint64_t key) { slots[slot].keys.push_back(key); }
  // REQUIRES: the slot has values.
  void AddKeyValue(size_t slot, uint64_t key, float value) {
    slots[slot].keys.push_back(key);
    slots[slot].values.push_back(value);
  }
  // Commits the pending example. REQUIRES: exactly num_dense AddDense calls
  // since the last Finish/Abort.
  void FinishExample(float label, uint32_t scenario_id = 0, uint64_t user_id = 0,
                     uint64_t item_id = 0, int64_t timestamp = 0);
  // Drops the pending example's dense values and keys.
  void AbortExample();
  // Keeps the first n examples. REQUIRES: n <= size().
  void Truncate(size_t n);
  // Appends examples [begin, end) of `src`, column by column.
  // REQUIRES: src has this batch's shape (Reset with the same schema) and
  // begin <= end <= src.size().
  void AppendRange(const Batch& src, size_t begin, size_t end);
};

}  // namespace metaps
