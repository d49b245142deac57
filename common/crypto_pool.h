// A small pool of threads that run the independent parts of one job
// (ParallelFor), for the aead data plane: the frames of a sealed message have
// their own nonces and tags, so a large message's frames are sealed and opened
// on several cores at once (common/data_seal.h).
//
// Thread safety: ParallelFor may be called from several threads at once (a
// worker process seals requests on its RPC client thread while its server
// seals replies); the caller runs parts itself, so a pool of 0 threads, or a
// busy one, still finishes every job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace metaps {

class CryptoPool {
 public:
  // `threads` helpers besides the callers (0: every job runs on its caller).
  explicit CryptoPool(int threads);
  ~CryptoPool();
  CryptoPool(const CryptoPool&) = delete;
  CryptoPool& operator=(const CryptoPool&) = delete;

  int threads() const { return static_cast<int>(threads_.size()); }
  // Runs fn(0) .. fn(n - 1), each once, on the caller and the pool's threads;
  // returns when all have returned. `fn` must not throw.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

  // The helpers a process with `cores` cores gets by default: a quarter of
  // them, at most 8 (the rest apply, copy and run ZeroMQ's I/O threads).
  static int DefaultThreads(unsigned cores);

 private:
  struct Job {
    const std::function<void(size_t)>* fn;
    size_t n;
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
  };
  // Runs parts of `job` until none is left; returns how many it ran.
  static size_t RunParts(Job& job);
  void Loop();

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable work_cv_;        // a job was queued, or stop
  std::condition_variable done_cv_;        // a part finished
  std::deque<std::shared_ptr<Job>> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;                      // GUARDED_BY(mu_)
};

}  // namespace metaps
