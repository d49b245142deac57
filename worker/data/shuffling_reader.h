// ShufflingReader: a streaming shuffle of another reader's examples, the way
// tf.data's shuffle(buffer_size) does it, so files larger than memory shuffle.
//
// It keeps a pool of up to buffer_size examples. Each example it hands out is
// drawn uniformly from the pool, and the next input example takes a place in
// it; once the input ends the pool drains. Every input example is handed out
// exactly once, in batches of batch_size (the last one may be short).
//
// Determinism: draw i is element i of a counter-based stream keyed by `seed`
// (common/hash.h), so the same seed and the same input give the same batches,
// and skipping k batches with Next lands on the batch a fresh reader hands out
// (k+1)-th. ShuffleSeed keys the stream by training seed, epoch and worker.
// buffer_size <= 1 hands the input out in order.
//
// The pool keeps each example as one contiguous record, so a draw reads a few
// adjacent cache lines rather than one from every column. Cost: O(1) per
// example: a copy into the pool, one out, and on average at most one more
// when handed-out records are compacted away. Memory: two arenas (they
// alternate on compaction) of up to 2 * buffer_size + batch_size examples.
// Used by one thread at a time, as a Reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "worker/data/reader.h"

namespace metaps {

// The draw stream of (training seed, epoch, worker index): every epoch and
// every worker shuffles differently, and a rerun or a resume the same way.
uint64_t ShuffleSeed(uint64_t training_seed, int epoch, int worker_index);

class ShufflingReader : public Reader {
 public:
  // REQUIRES: batch_size > 0.
  ShufflingReader(std::unique_ptr<Reader> inner, size_t buffer_size, size_t batch_size,
                  uint64_t seed);

  Status Next(Batch* batch) override;
  const BatchSchema& schema() const override { return inner_->schema(); }
  // The inner reader's counts. Its reads run up to buffer_size examples ahead
  // of the batches handed out; exact once the input is exhausted.
  const ReaderStats& stats() const override { return inner_->stats(); }

 private:
  // Tops the pool up to buffer_size_ with input examples while the input lasts.
  Status FillPool();
  // Appends input_'s examples to arena_ as records (layout in the .cc).
  void StoreInput();
  // Appends the example of the record at word `at` to *batch.
  void Emit(size_t at, Batch* batch) const;
  size_t RecordWords(size_t at) const { return static_cast<uint32_t>(arena_[at]); }
  // Moves the pool's records to the front of a fresh arena, in pool order,
  // and drops the handed-out ones. REQUIRES: no staged records.
  void Compact();
  // Draw number `draw` from [0, n): element `draw` of the stream, mapped.
  size_t DrawIndex(uint64_t draw, size_t n) const;
  // Starts loading the record draw number `draw` will likely read: a large
  // pool is out of cache, and draws are known ahead.
  void PrefetchDraw(uint64_t draw) const;
  static constexpr uint64_t kPrefetchDistance = 8;
  static constexpr size_t kPrefetchLines = 8;  // of 64 bytes

  std::unique_ptr<Reader> inner_;
  const size_t buffer_size_, batch_size_;
  const uint64_t seed_;
  uint64_t draws_ = 0;
  // Records of pooled examples, of handed-out ones (dead_words_ in all, until
  // compaction), and from word staged_ on, of input not yet in the pool.
  std::vector<uint64_t> arena_;
  size_t staged_ = 0;
  size_t dead_words_ = 0;
  std::vector<size_t> pool_;     // word offsets in arena_ of the pooled records
  std::vector<uint64_t> spare_;  // compaction target, reused
  Batch input_;                  // the inner reader's last batch
  bool input_done_ = false;
  Status error_;
};

}  // namespace metaps
