#include "worker/data/shuffling_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/hash.h"

namespace metaps {
namespace {

// A pool record, in 8-byte words so that its keys are aligned:
//   [0] the record's length in words (low 32 bits) | scenario id (high 32)
//   [1] the label's float bits   [2] user id   [3] item id   [4] timestamp
//   then each slot's key count (uint32, two a word, the last word padded),
//   then every slot's keys in slot order,
//   then the dense values and each valued slot's values (float, two a word).
constexpr size_t kHeaderWords = 5;

size_t CountWords(size_t num_slots) { return (num_slots + 1) / 2; }

size_t RecordWordsOf(const Batch& batch, size_t i) {
  size_t keys = 0, values = 0;
  for (const SparseSlot& slot : batch.slots) {
    keys += slot.NumKeys(i);
    if (slot.has_values) values += slot.NumKeys(i);
  }
  return kHeaderWords + CountWords(batch.slots.size()) + keys + (batch.num_dense + values + 1) / 2;
}

}  // namespace

uint64_t ShuffleSeed(uint64_t training_seed, int epoch, int worker_index) {
  constexpr uint64_t kShuffleSalt = 0x73687566666c65ULL;  // "shuffle": apart from other streams
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(epoch)) << 32) |
                       static_cast<uint32_t>(worker_index);
  return Mix64(Mix64(training_seed ^ kShuffleSalt) ^ Mix64(key));
}

ShufflingReader::ShufflingReader(std::unique_ptr<Reader> inner, size_t buffer_size,
                                 size_t batch_size, uint64_t seed)
    : inner_(std::move(inner)),
      buffer_size_(std::max<size_t>(buffer_size, 1)),
      batch_size_(batch_size),
      seed_(seed) {
  pool_.reserve(buffer_size_);
}

size_t ShufflingReader::DrawIndex(uint64_t draw, size_t n) const {
  // Multiply-high maps 64 random bits onto [0, n); the bias is below n / 2^64.
  const uint64_t bits = StreamBits(seed_, draw);
  return static_cast<size_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
}

void ShufflingReader::PrefetchDraw(uint64_t draw) const {
  // While the input lasts the pool stays full and a place changes only when
  // drawn, so this nearly always names the record that draw will read.
  const uint64_t* record = arena_.data() + pool_[DrawIndex(draw, pool_.size())];
  for (size_t line = 0; line < kPrefetchLines; ++line) {
    __builtin_prefetch(record + line * 8);
  }
}

void ShufflingReader::StoreInput() {
  const Batch& in = input_;
  const size_t num_dense = in.num_dense;
  const size_t num_slots = in.slots.size();
  if (arena_.capacity() == 0) {
    // Touching fresh memory is the main cost of a large pool: size the arena
    // once, from the first record, rather than doubling (and touching) it.
    // Past kMaxReserveWords it grows as needed, not on a guess.
    constexpr size_t kMaxReserveWords = size_t{1} << 27;  // 1 GiB
    arena_.reserve(std::min(kMaxReserveWords,
                            RecordWordsOf(in, 0) * (2 * (buffer_size_ + in.size())) * 5 / 4));
  }
  for (size_t i = 0; i < in.size(); ++i) {
    size_t keys = 0;
    for (const SparseSlot& slot : in.slots) keys += slot.NumKeys(i);
    const size_t words = RecordWordsOf(in, i);
    const size_t at = arena_.size();
    arena_.resize(at + words);
    uint64_t* record = arena_.data() + at;
    uint32_t label_bits;
    std::memcpy(&label_bits, &in.labels[i], sizeof(float));
    record[0] = words | (static_cast<uint64_t>(in.scenario_ids[i]) << 32);
    record[1] = label_bits;
    record[2] = in.user_ids[i];
    record[3] = in.item_ids[i];
    record[4] = static_cast<uint64_t>(in.timestamps[i]);
    char* counts = reinterpret_cast<char*>(record + kHeaderWords);
    uint64_t* key_out = record + kHeaderWords + CountWords(num_slots);
    char* floats = reinterpret_cast<char*>(key_out + keys);
    std::memcpy(floats, in.dense.data() + i * num_dense, num_dense * sizeof(float));
    floats += num_dense * sizeof(float);
    for (size_t s = 0; s < num_slots; ++s) {
      const SparseSlot& slot = in.slots[s];
      const uint32_t n = static_cast<uint32_t>(slot.NumKeys(i));
      std::memcpy(counts + s * sizeof(uint32_t), &n, sizeof(uint32_t));
      if (n == 1) {  // the common case, cheaper than a call to memcpy
        *key_out = *slot.KeysOf(i);
      } else {
        std::memcpy(key_out, slot.KeysOf(i), n * sizeof(uint64_t));
      }
      key_out += n;
      if (slot.has_values) {
        std::memcpy(floats, slot.values.data() + slot.offsets[i], n * sizeof(float));
        floats += n * sizeof(float);
      }
    }
  }
}

void ShufflingReader::Emit(size_t at, Batch* batch) const {
  const uint64_t* record = arena_.data() + at;
  const size_t num_dense = batch->num_dense;
  const size_t num_slots = batch->slots.size();
  const char* counts = reinterpret_cast<const char*>(record + kHeaderWords);
  const uint64_t* keys = record + kHeaderWords + CountWords(num_slots);
  size_t total_keys = 0;
  for (size_t s = 0; s < num_slots; ++s) {
    uint32_t n;
    std::memcpy(&n, counts + s * sizeof(uint32_t), sizeof(uint32_t));
    total_keys += n;
  }
  const char* floats = reinterpret_cast<const char*>(keys + total_keys);
  const size_t dense_at = batch->dense.size();
  batch->dense.resize(dense_at + num_dense);
  std::memcpy(batch->dense.data() + dense_at, floats, num_dense * sizeof(float));
  floats += num_dense * sizeof(float);
  for (size_t s = 0; s < num_slots; ++s) {
    SparseSlot& slot = batch->slots[s];
    uint32_t n;
    std::memcpy(&n, counts + s * sizeof(uint32_t), sizeof(uint32_t));
    if (n == 1) {
      slot.keys.push_back(*keys);
    } else {
      slot.keys.insert(slot.keys.end(), keys, keys + n);
    }
    keys += n;
    if (slot.has_values) {
      const size_t values_at = slot.values.size();
      slot.values.resize(values_at + n);
      std::memcpy(slot.values.data() + values_at, floats, n * sizeof(float));
      floats += n * sizeof(float);
    }
  }
  float label;
  const uint32_t label_bits = static_cast<uint32_t>(record[1]);
  std::memcpy(&label, &label_bits, sizeof(float));
  batch->FinishExample(label, static_cast<uint32_t>(record[0] >> 32), record[2], record[3],
                       static_cast<int64_t>(record[4]));
}

Status ShufflingReader::FillPool() {
  while (pool_.size() < buffer_size_) {
    if (staged_ == arena_.size()) {
      if (input_done_) return Status::Ok();
      RETURN_IF_ERROR(inner_->Next(&input_));
      if (input_.empty()) {
        input_done_ = true;
        return Status::Ok();
      }
      // Compacting once half the arena is dead copies, on average, at most
      // one record per record handed out since the last compaction.
      if (dead_words_ > 0 && 2 * dead_words_ >= arena_.size()) Compact();
      StoreInput();
    }
    pool_.push_back(staged_);
    staged_ += RecordWords(staged_);
  }
  return Status::Ok();
}

void ShufflingReader::Compact() {
  spare_.clear();
  // The arenas swap roles: with equal capacities neither regrows after this.
  spare_.reserve(arena_.capacity());
  for (size_t& at : pool_) {
    const size_t to = spare_.size();
    spare_.insert(spare_.end(), arena_.begin() + static_cast<std::ptrdiff_t>(at),
                  arena_.begin() + static_cast<std::ptrdiff_t>(at + RecordWords(at)));
    at = to;
  }
  std::swap(arena_, spare_);
  staged_ = arena_.size();
  dead_words_ = 0;
}

Status ShufflingReader::Next(Batch* batch) {
  batch->Reset(inner_->schema());
  if (!error_.ok()) return error_;
  while (batch->size() < batch_size_) {
    Status status = FillPool();
    if (!status.ok()) {
      error_ = status;
      batch->Clear();
      return error_;
    }
    if (pool_.empty()) break;  // the input is exhausted and the pool drained
    PrefetchDraw(draws_ + kPrefetchDistance);
    const size_t k = DrawIndex(draws_++, pool_.size());
    Emit(pool_[k], batch);
    dead_words_ += RecordWords(pool_[k]);
    pool_[k] = pool_.back();
    pool_.pop_back();
  }
  return Status::Ok();
}

}  // namespace metaps
