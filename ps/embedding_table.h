// One server's shard of one embedding table: key -> row (value + optimizer
// state), with deterministic creation, admission, eviction and the optimizer
// applied row by row on push.
//
// Thread-safety: every method may be called concurrently. The table is split
// into `num_stripes` stripes by key hash, each with its own mutex, index and
// slabs; a request locks each stripe it touches once, in stripe order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "ps/key_index.h"
#include "ps/row_slab.h"
#include "ps/table_spec.h"

namespace metaps {

// Keys seen but not yet admitted (admit_after > 1) are counted per stripe, at
// most kMaxPendingAdmission over the table: a stripe at its share of the cap
// forgets its sightings (counted in admission_resets) before counting more, so
// keys pulled once by anyone cannot grow the table's memory without bound;
// frequent keys are seen again and admitted.
constexpr size_t kMaxPendingAdmission = size_t{1} << 21;

struct EmbeddingTableOptions {
  int num_stripes = 16;                                 // power of two in [1, 1024]
  size_t max_pending_admission = kMaxPendingAdmission;  // >= 1
};

struct TableStats {
  size_t rows = 0;                // live rows
  uint64_t admitted = 0;          // rows ever created (by admission, pull, push or insert)
  size_t pending_admission = 0;   // keys seen but not yet admitted
  uint64_t admission_resets = 0;  // times a stripe's sightings hit the cap and were cleared
  uint64_t evicted = 0;           // rows ever removed by EvictStale
  size_t bytes = 0;               // memory held: slabs, indexes, counters
};

class EmbeddingTable {
 public:
  // Validates `spec`. `job_seed` seeds the initializer: a key's initial row
  // depends only on (job_seed, spec.id, key).
  static StatusOr<std::unique_ptr<EmbeddingTable>> Create(
      const TableSpec& spec, uint64_t job_seed, const EmbeddingTableOptions& options = {});
  ~EmbeddingTable();
  EmbeddingTable(const EmbeddingTable&) = delete;
  EmbeddingTable& operator=(const EmbeddingTable&) = delete;

  const TableSpec& spec() const { return spec_; }
  int dim() const { return spec_.dim; }
  // Floats per row: value[dim] followed by the optimizer state.
  int row_floats() const { return row_floats_; }
  uint64_t job_seed() const { return job_seed_; }

  // Writes the values of keys[0..n) to out[0..n*dim). Missing keys are created
  // with the initializer; a key not yet admitted gets the initializer's value
  // and one more sighting, but no row.
  Status Pull(const uint64_t* keys, size_t n, float* out);
  // Pull without side effects, for evaluation: a key without a row reads as
  // the initializer's value, and no row is created, no sighting counted.
  Status Peek(const uint64_t* keys, size_t n, float* out);

  // Applies grads[i*dim .. (i+1)*dim) to keys[i] with the table's optimizer, in
  // order (keys may repeat). Without admission, missing keys are created as
  // Pull does; with it, a gradient for a key without a row is dropped and
  // counts no sighting (the step's pull of the key already did). `step` is the
  // pusher's clock, recorded as the rows' last-touched step.
  Status Push(const uint64_t* keys, size_t n, const float* grads, int64_t step);

  // Removes rows not pushed during the last evict_after_steps steps, that is
  // rows with current_step - last_step >= evict_after_steps; their slots are
  // reused. Returns the number removed (0 when eviction is off).
  size_t EvictStale(int64_t current_step);

  TableStats stats() const;

  // Calls fn(key, row) for every live row, stripe by stripe, each under its
  // stripe's lock: `fn` must not call back into this table. For a consistent
  // snapshot the caller stops Push/Pull for the duration.
  void ForEachRow(const std::function<void(uint64_t key, const float* row)>& fn) const;

  // Stores a full row (row_floats() floats) for `key`, replacing any existing
  // one; bypasses admission. For checkpoint restore.
  Status InsertRow(uint64_t key, const float* row_with_state);

  // Pre-allocates room for `rows` rows in total (spread over the stripes).
  Status Reserve(size_t rows);

  // The initializer's value (dim floats) for `key`, as a new row would get it.
  void InitialValue(uint64_t key, float* out) const;

 private:
  struct Stripe;

  EmbeddingTable(const TableSpec& spec, uint64_t job_seed, int num_stripes,
                 size_t max_pending_admission);

  // For a key without a row: counts a sighting and creates the row once the key
  // is admitted. Returns its slot, or KeyIndex::kAbsent when not yet admitted.
  // REQUIRES: stripe.mu held; key not in stripe.index.
  StatusOr<uint32_t> ResolveMissing(Stripe& stripe, uint64_t key, uint64_t hash);
  // Finds or, with `create`, creates (ResolveMissing) the rows of
  // keys[pos[0..m)], all in this stripe: slots[j] and rows[j] get the slot and
  // row, or kAbsent and nullptr for a key without one (not yet admitted, or
  // not created). REQUIRES: stripe.mu held.
  Status ResolveRows(Stripe& stripe, const uint64_t* keys, const uint64_t* hashes,
                     const uint32_t* pos, size_t m, bool create, uint32_t* slots, float** rows);
  Status Read(const uint64_t* keys, size_t n, bool create, float* out);
  // REQUIRES: stripe.mu held; key not in stripe.index.
  StatusOr<uint32_t> CreateRow(Stripe& stripe, uint64_t key, uint64_t hash);
  // Writes a full new row (value and optimizer state) for `key`.
  void InitRow(uint64_t key, float* row) const;
  // The top bits of the hash; the index uses the low bits.
  size_t StripeOf(uint64_t hash) const {
    return static_cast<size_t>(((hash >> 32) * stripes_.size()) >> 32);
  }
  void AdvanceStep(int64_t step);

  const TableSpec spec_;
  const uint64_t job_seed_;
  const int row_floats_;
  std::vector<std::unique_ptr<Stripe>> stripes_;
  size_t max_pending_per_stripe_;
  // Largest step seen by Push or EvictStale: the last-touched step of new rows.
  std::atomic<int64_t> current_step_{0};
};

}  // namespace metaps
