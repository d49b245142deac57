// Reads one batch ahead on a thread of its own, so parsing overlaps training.
// Yields exactly the inner reader's batches, in order (runs stay deterministic).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "worker/data/reader.h"

namespace metaps {

class PrefetchingReader : public Reader {
 public:
  explicit PrefetchingReader(std::unique_ptr<Reader> inner);
  ~PrefetchingReader() override;

  Status Next(Batch* batch) override;
  const BatchSchema& schema() const override { return inner_->schema(); }
  // REQUIRES: the input is exhausted or the reader failed (the thread is idle).
  const ReaderStats& stats() const override { return inner_->stats(); }

 private:
  void Loop();

  std::unique_ptr<Reader> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  Batch ready_;        // GUARDED_BY(mu_)
  bool full_ = false;  // GUARDED_BY(mu_): ready_ holds the next batch
  bool stop_ = false;  // GUARDED_BY(mu_)
  Status status_;      // GUARDED_BY(mu_): the inner reader's error, once set
  std::thread thread_;
};

}  // namespace metaps
