#include "worker/data/prefetching_reader.h"

namespace metaps {

PrefetchingReader::PrefetchingReader(std::unique_ptr<Reader> inner)
    : inner_(std::move(inner)), thread_([this] { Loop(); }) {}

PrefetchingReader::~PrefetchingReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchingReader::Loop() {
  Batch next;
  while (true) {
    Status s = inner_->Next(&next);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || !full_; });
    if (stop_) return;
    std::swap(ready_, next);
    status_ = s;
    full_ = true;
    cv_.notify_all();
    // An empty batch ends the input; an error is sticky. Either way, done.
    if (!s.ok() || ready_.empty()) return;
  }
}

Status PrefetchingReader::Next(Batch* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return full_; });
  if (!status_.ok()) {
    batch->Clear();
    return status_;  // full_ stays set: every later call returns the same error
  }
  if (ready_.empty()) {  // exhausted, and stays so: full_ stays set
    batch->Clear();
    return Status::Ok();
  }
  std::swap(*batch, ready_);  // the caller's old buffer is reused for the next read
  full_ = false;
  cv_.notify_all();
  return Status::Ok();
}

}  // namespace metaps
