#include "ps/embedding_table.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "common/hash.h"
#include "common/logging.h"

namespace metaps {

struct alignas(64) EmbeddingTable::Stripe {
  explicit Stripe(int row_floats) : slab(row_floats) {}

  mutable std::mutex mu;
  KeyIndex index;      // key -> slot in slab; REQUIRES mu
  KeyIndex sightings;  // key -> times seen, for keys not yet admitted; REQUIRES mu
  RowSlab slab;        // REQUIRES mu
  uint64_t admitted = 0;
  uint64_t evicted = 0;
  uint64_t admission_resets = 0;
};

namespace {

constexpr size_t kMaxRequestKeys = UINT32_MAX;
// Prefetch distances, chosen by measurement on 2^20-row tables
// (docs/benchmarks.md): index entries are looked up this many keys after
// their prefetch...
constexpr size_t kIndexAhead = 16;
// ... and rows are used this many cache lines (summed over rows) after theirs.
constexpr size_t kRowLinesAhead = 64;

size_t RowsAhead(size_t bytes_per_row) {
  const size_t lines = (bytes_per_row + 63) / 64;
  return std::max<size_t>(2, kRowLinesAhead / std::max<size_t>(lines, 1));
}

// Always inlined: GCC deems a separate function that only prefetches "pure"
// and deletes the calls to it.
inline __attribute__((always_inline)) void PrefetchRead(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0);
}
inline __attribute__((always_inline)) void PrefetchWrite(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 1);
}

// The rows of one stripe that a push updates: rows[j] (nullptr: dropped) gets
// grads[pos[j] * dim ..). `meta`, when not null, gets the step (eviction on).
struct UpdateBatch {
  float* const* rows;
  const uint32_t* pos;
  const uint32_t* slots;
  size_t m;
  const float* grads;
  size_t dim;
  size_t row_bytes;
  const RowSlab* meta;
  int64_t step;
};

// One pass over the batch, prefetching the rows, gradients and metadata of
// the row `ahead` positions on. `rule(row, grad)` is inlined, so the optimizer
// kind is switched on once per batch, not per row.
template <typename Rule>
inline __attribute__((always_inline)) void UpdateRows(const UpdateBatch& b, Rule rule) {
  const size_t ahead = RowsAhead(b.row_bytes + b.dim * sizeof(float));
  auto prefetch = [&b](size_t j) __attribute__((always_inline)) {
    if (b.rows[j] == nullptr) return;
    PrefetchWrite(b.rows[j], b.row_bytes);
    PrefetchRead(b.grads + size_t{b.pos[j]} * b.dim, b.dim * sizeof(float));
    if (b.meta != nullptr) __builtin_prefetch(&b.meta->Meta(b.slots[j]), 1);
  };
  for (size_t j = 0; j < std::min(b.m, ahead); ++j) prefetch(j);
  for (size_t j = 0; j < b.m; ++j) {
    if (j + ahead < b.m) prefetch(j + ahead);
    if (b.rows[j] == nullptr) continue;  // not admitted: dropped
    rule(b.rows[j], b.grads + size_t{b.pos[j]} * b.dim);
    if (b.meta != nullptr) {
      RowSlab::SlotMeta& meta = b.meta->Meta(b.slots[j]);
      meta.last_step = std::max(meta.last_step, b.step);
    }
  }
}

inline __attribute__((always_inline)) void ApplyRule(const OptimizerParams& p,
                                                     const UpdateBatch& b) {
  const int dim = static_cast<int>(b.dim);
  const float keep = DecayKeep(p);
  switch (p.kind) {
    case OptimizerKind::kSgd:
      return UpdateRows(
          b, [&](float* row, const float* g) __attribute__((always_inline)) {
            SgdUpdate(row, g, dim, p.lr, p.weight_decay, keep);
          });
    case OptimizerKind::kAdagrad:
      return UpdateRows(
          b, [&](float* row, const float* g) __attribute__((always_inline)) {
            AdagradUpdate(row, row + dim, g, dim, p.lr, p.eps, p.weight_decay, keep);
          });
    default:  // Adam and FTRL: the generic rule, still switched per row
      return UpdateRows(
          b, [&](float* row, const float* g) { ApplyOptimizer(p, row, g, dim, b.step); });
  }
}

void ApplyRuleBaseline(const OptimizerParams& p, const UpdateBatch& b) { ApplyRule(p, b); }

#if defined(__x86_64__) && defined(__GNUC__)
// The same code with 8-wide vectors. AVX2 only, not FMA: contracting a*b+c
// would change the rounding, and results must not depend on the CPU.
__attribute__((target("avx2"))) void ApplyRuleAvx2(const OptimizerParams& p, const UpdateBatch& b) {
  ApplyRule(p, b);
}
// __builtin_cpu_init first: this runs as a static initializer.
bool HaveAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
const bool kHaveAvx2 = HaveAvx2();
#else
void ApplyRuleAvx2(const OptimizerParams& p, const UpdateBatch& b) { ApplyRule(p, b); }
const bool kHaveAvx2 = false;
#endif

// Per-thread buffers reused by every request, so that a warm request allocates
// nothing. Positions are indexes into the request's key array.
struct RequestScratch {
  std::vector<uint64_t> hashes;        // by request position
  std::vector<uint32_t> order;         // positions grouped by stripe, stable
  std::vector<uint32_t> slots;         // by order index
  std::vector<float*> rows;            // by order index; nullptr: no row
  std::vector<uint32_t> stripe_begin;  // num_stripes + 1 offsets into order
  std::vector<float> row;              // one scratch row
};
thread_local RequestScratch tls_scratch;

}  // namespace

StatusOr<std::unique_ptr<EmbeddingTable>> EmbeddingTable::Create(
    const TableSpec& spec, uint64_t job_seed, const EmbeddingTableOptions& options) {
  RETURN_IF_ERROR(ValidateTableSpec(spec));
  const int n = options.num_stripes;
  if (n < 1 || n > 1024 || (n & (n - 1)) != 0) {
    return InvalidArgument("table '" + spec.name + "': num_stripes must be a power of two in " +
                           "[1, 1024], got " + std::to_string(n));
  }
  if (options.max_pending_admission < 1) {
    return InvalidArgument("table '" + spec.name + "': max_pending_admission must be positive");
  }
  return std::unique_ptr<EmbeddingTable>(
      new EmbeddingTable(spec, job_seed, n, options.max_pending_admission));
}

EmbeddingTable::EmbeddingTable(const TableSpec& spec, uint64_t job_seed, int num_stripes,
                               size_t max_pending_admission)
    : spec_(spec),
      job_seed_(job_seed),
      row_floats_(RowFloats(spec)),
      max_pending_per_stripe_(
          std::max<size_t>(1, max_pending_admission / static_cast<size_t>(num_stripes))) {
  stripes_.reserve(num_stripes);
  for (int i = 0; i < num_stripes; ++i) stripes_.push_back(std::make_unique<Stripe>(row_floats_));
}

EmbeddingTable::~EmbeddingTable() = default;

void EmbeddingTable::InitRow(uint64_t key, float* row) const {
  const InitializerSpec& init = spec_.init;
  const int dim = spec_.dim;
  const uint64_t stream = RowStreamSeed(job_seed_, SeedId(spec_), key);
  switch (init.kind) {
    case InitializerSpec::Kind::kZeros:
      std::memset(row, 0, sizeof(float) * dim);
      break;
    case InitializerSpec::Kind::kUniform:
      for (int i = 0; i < dim; ++i) {
        row[i] = (2.0f * BitsToUniform(StreamBits(stream, i)) - 1.0f) * init.uniform_limit;
      }
      break;
    case InitializerSpec::Kind::kNormal:
      for (int i = 0; i < dim; ++i)
        row[i] = init.normal_stddev * BitsToNormal(StreamBits(stream, i));
      break;
  }
  InitOptimizerState(spec_.optimizer, row, dim);
}

void EmbeddingTable::InitialValue(uint64_t key, float* out) const {
  std::vector<float>& row = tls_scratch.row;
  row.resize(row_floats_);
  InitRow(key, row.data());
  std::memcpy(out, row.data(), sizeof(float) * spec_.dim);
}

void EmbeddingTable::AdvanceStep(int64_t step) {
  int64_t seen = current_step_.load(std::memory_order_relaxed);
  while (step > seen && !current_step_.compare_exchange_weak(seen, step)) {
  }
}

StatusOr<uint32_t> EmbeddingTable::CreateRow(Stripe& stripe, uint64_t key, uint64_t hash) {
  ASSIGN_OR_RETURN(const uint32_t slot, stripe.slab.Allocate());
  auto inserted = stripe.index.FindOrInsert(key, hash, slot);
  if (!inserted.ok()) {
    stripe.slab.Free(slot);
    return inserted.status();
  }
  InitRow(key, stripe.slab.Row(slot));
  stripe.slab.Meta(slot) = {key, current_step_.load(std::memory_order_relaxed)};
  ++stripe.admitted;
  return slot;
}

StatusOr<uint32_t> EmbeddingTable::ResolveMissing(Stripe& stripe, uint64_t key, uint64_t hash) {
  if (spec_.admit_after > 1) {
    if (stripe.sightings.size() >= max_pending_per_stripe_ &&
        stripe.sightings.Find(key, hash) == KeyIndex::kAbsent) {
      stripe.sightings = KeyIndex();
      ++stripe.admission_resets;
    }
    ASSIGN_OR_RETURN(uint32_t * count, stripe.sightings.FindOrInsert(key, hash, 0));
    if (++*count < static_cast<uint32_t>(spec_.admit_after)) return KeyIndex::kAbsent;
    stripe.sightings.Erase(key, hash);
  }
  return CreateRow(stripe, key, hash);
}

namespace {

// Groups the request's positions by stripe (a stable counting sort), so that each
// stripe is locked once and each key's operations keep their request order.
template <typename StripeOfFn>
void PlanRequest(const uint64_t* keys, size_t n, size_t num_stripes, StripeOfFn stripe_of,
                 RequestScratch* s) {
  s->hashes.resize(n);
  s->order.resize(n);
  s->slots.resize(n);
  s->rows.resize(n);
  s->stripe_begin.assign(num_stripes + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = KeyIndex::Hash(keys[i]);
    s->hashes[i] = h;
    ++s->stripe_begin[stripe_of(h) + 1];
  }
  for (size_t st = 0; st < num_stripes; ++st) s->stripe_begin[st + 1] += s->stripe_begin[st];
  // stripe_begin[st] now is the next free index of stripe st; restored below.
  for (size_t i = 0; i < n; ++i) s->order[s->stripe_begin[stripe_of(s->hashes[i])]++] = i;
  for (size_t st = num_stripes; st > 0; --st) s->stripe_begin[st] = s->stripe_begin[st - 1];
  s->stripe_begin[0] = 0;
}

}  // namespace

Status EmbeddingTable::ResolveRows(Stripe& stripe, const uint64_t* keys, const uint64_t* hashes,
                                   const uint32_t* pos, size_t m, bool create, uint32_t* slots,
                                   float** rows) {
  for (size_t j = 0; j < std::min(m, kIndexAhead); ++j) stripe.index.Prefetch(hashes[pos[j]]);
  for (size_t j = 0; j < m; ++j) {
    if (j + kIndexAhead < m) stripe.index.Prefetch(hashes[pos[j + kIndexAhead]]);
    const uint64_t key = keys[pos[j]];
    const uint64_t hash = hashes[pos[j]];
    uint32_t slot = stripe.index.Find(key, hash);
    if (slot == KeyIndex::kAbsent && create) {
      ASSIGN_OR_RETURN(slot, ResolveMissing(stripe, key, hash));
    }
    slots[j] = slot;
    rows[j] = slot == KeyIndex::kAbsent ? nullptr : stripe.slab.Row(slot);
  }
  return Status::Ok();
}

Status EmbeddingTable::Pull(const uint64_t* keys, size_t n, float* out) {
  return Read(keys, n, /*create=*/true, out);
}

Status EmbeddingTable::Peek(const uint64_t* keys, size_t n, float* out) {
  return Read(keys, n, /*create=*/false, out);
}

Status EmbeddingTable::Read(const uint64_t* keys, size_t n, bool create, float* out) {
  if (n == 0) return Status::Ok();
  if (n > kMaxRequestKeys) {
    return InvalidArgument((create ? "Pull of " : "Peek of ") + std::to_string(n) + " keys");
  }
  RequestScratch& s = tls_scratch;
  PlanRequest(
      keys, n, stripes_.size(), [this](uint64_t h) { return StripeOf(h); }, &s);
  const size_t dim = spec_.dim;
  const size_t value_bytes = dim * sizeof(float);
  const size_t ahead = RowsAhead(value_bytes);
  for (size_t st = 0; st < stripes_.size(); ++st) {
    const size_t begin = s.stripe_begin[st];
    const size_t m = s.stripe_begin[st + 1] - begin;
    if (m == 0) continue;
    Stripe& stripe = *stripes_[st];
    const uint32_t* pos = s.order.data() + begin;
    float** rows = s.rows.data() + begin;
    std::lock_guard<std::mutex> lock(stripe.mu);
    // Two passes: resolving every key first keeps the index misses apart from
    // the row misses, which measured faster than one interleaved pipeline.
    RETURN_IF_ERROR(
        ResolveRows(stripe, keys, s.hashes.data(), pos, m, create, s.slots.data() + begin, rows));
    for (size_t j = 0; j < std::min(m, ahead); ++j) {
      if (rows[j] != nullptr) PrefetchRead(rows[j], value_bytes);
    }
    for (size_t j = 0; j < m; ++j) {
      if (j + ahead < m && rows[j + ahead] != nullptr) PrefetchRead(rows[j + ahead], value_bytes);
      float* dst = out + size_t{pos[j]} * dim;
      if (rows[j] == nullptr) {
        InitialValue(keys[pos[j]], dst);
      } else {
        std::memcpy(dst, rows[j], value_bytes);
      }
    }
  }
  return Status::Ok();
}

Status EmbeddingTable::Push(const uint64_t* keys, size_t n, const float* grads, int64_t step) {
  if (n == 0) return Status::Ok();
  if (n > kMaxRequestKeys) return InvalidArgument("Push of " + std::to_string(n) + " keys");
  AdvanceStep(step);
  RequestScratch& s = tls_scratch;
  PlanRequest(
      keys, n, stripes_.size(), [this](uint64_t h) { return StripeOf(h); }, &s);
  const size_t dim = spec_.dim;
  const size_t row_bytes = static_cast<size_t>(row_floats_) * sizeof(float);
  // The last-touched step only matters to eviction; without it the row's
  // metadata (on another page) is not touched at all.
  const bool track_steps = spec_.evict_after_steps > 0;
  // Under admission only pulls count sightings and admit; a push's gradient for
  // a key still without a row is dropped.
  const bool create = spec_.admit_after <= 1;
  const OptimizerParams params = spec_.optimizer;
  for (size_t st = 0; st < stripes_.size(); ++st) {
    const size_t begin = s.stripe_begin[st];
    const size_t m = s.stripe_begin[st + 1] - begin;
    if (m == 0) continue;
    Stripe& stripe = *stripes_[st];
    const uint32_t* pos = s.order.data() + begin;
    uint32_t* slots = s.slots.data() + begin;
    float** rows = s.rows.data() + begin;
    std::lock_guard<std::mutex> lock(stripe.mu);
    RETURN_IF_ERROR(ResolveRows(stripe, keys, s.hashes.data(), pos, m, create, slots, rows));
    const UpdateBatch batch{
        rows, pos, slots, m, grads, dim, row_bytes, track_steps ? &stripe.slab : nullptr, step};
    if (kHaveAvx2) {
      ApplyRuleAvx2(params, batch);
    } else {
      ApplyRuleBaseline(params, batch);
    }
  }
  return Status::Ok();
}

size_t EmbeddingTable::EvictStale(int64_t current_step) {
  AdvanceStep(current_step);
  if (spec_.evict_after_steps <= 0) return 0;
  size_t removed = 0;
  for (auto& stripe_ptr : stripes_) {
    Stripe& stripe = *stripe_ptr;
    std::lock_guard<std::mutex> lock(stripe.mu);
    for (uint32_t slot = 0; slot < stripe.slab.high_water(); ++slot) {
      const RowSlab::SlotMeta meta = stripe.slab.Meta(slot);
      if (meta.last_step == RowSlab::kFreeSlot) continue;
      if (current_step - meta.last_step < spec_.evict_after_steps) continue;
      stripe.index.Erase(meta.key, KeyIndex::Hash(meta.key));
      stripe.slab.Free(slot);
      ++stripe.evicted;
      ++removed;
    }
  }
  return removed;
}

TableStats EmbeddingTable::stats() const {
  TableStats t;
  for (const auto& stripe_ptr : stripes_) {
    const Stripe& stripe = *stripe_ptr;
    std::lock_guard<std::mutex> lock(stripe.mu);
    t.rows += stripe.index.size();
    t.admitted += stripe.admitted;
    t.pending_admission += stripe.sightings.size();
    t.admission_resets += stripe.admission_resets;
    t.evicted += stripe.evicted;
    t.bytes += stripe.slab.bytes() + stripe.index.bytes() + stripe.sightings.bytes() +
               stripe.slab.free_list_bytes();
  }
  return t;
}

void EmbeddingTable::ForEachRow(
    const std::function<void(uint64_t key, const float* row)>& fn) const {
  for (const auto& stripe_ptr : stripes_) {
    const Stripe& stripe = *stripe_ptr;
    std::lock_guard<std::mutex> lock(stripe.mu);
    for (uint32_t slot = 0; slot < stripe.slab.high_water(); ++slot) {
      const RowSlab::SlotMeta& meta = stripe.slab.Meta(slot);
      if (meta.last_step != RowSlab::kFreeSlot) fn(meta.key, stripe.slab.Row(slot));
    }
  }
}

Status EmbeddingTable::InsertRow(uint64_t key, const float* row_with_state) {
  const uint64_t hash = KeyIndex::Hash(key);
  Stripe& stripe = *stripes_[StripeOf(hash)];
  std::lock_guard<std::mutex> lock(stripe.mu);
  uint32_t slot = stripe.index.Find(key, hash);
  if (slot == KeyIndex::kAbsent) {
    stripe.sightings.Erase(key, hash);
    ASSIGN_OR_RETURN(slot, CreateRow(stripe, key, hash));
  }
  std::memcpy(stripe.slab.Row(slot), row_with_state, sizeof(float) * row_floats_);
  return Status::Ok();
}

Status EmbeddingTable::Reserve(size_t rows) {
  const double per = static_cast<double>(rows) / stripes_.size();
  const size_t per_stripe = static_cast<size_t>(per + 4.0 * std::sqrt(per) + 16.0);
  for (auto& stripe_ptr : stripes_) {
    Stripe& stripe = *stripe_ptr;
    std::lock_guard<std::mutex> lock(stripe.mu);
    RETURN_IF_ERROR(stripe.index.Reserve(per_stripe));
    RETURN_IF_ERROR(stripe.slab.Reserve(per_stripe));
  }
  return Status::Ok();
}

}  // namespace metaps
