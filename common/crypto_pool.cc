#include "common/crypto_pool.h"

#include <algorithm>

namespace metaps {

CryptoPool::CryptoPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back(&CryptoPool::Loop, this);
}

CryptoPool::~CryptoPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int CryptoPool::DefaultThreads(unsigned cores) {
  return static_cast<int>(std::min<unsigned>(8, cores / 4));
}

size_t CryptoPool::RunParts(Job& job) {
  size_t ran = 0;
  for (size_t i = job.next.fetch_add(1); i < job.n; i = job.next.fetch_add(1)) {
    (*job.fn)(i);
    ++ran;
  }
  return ran;
}

void CryptoPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(job);
  }
  work_cv_.notify_all();
  const size_t ran = RunParts(*job);
  std::unique_lock<std::mutex> lock(mu_);
  // Every part is claimed now: the job leaves the queue; helpers still
  // running one of its parts report through done.
  jobs_.erase(std::remove(jobs_.begin(), jobs_.end(), job), jobs_.end());
  job->done.fetch_add(ran);
  done_cv_.wait(lock, [&] { return job->done.load() == n; });
}

void CryptoPool::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    std::shared_ptr<Job> job = jobs_.front();
    if (job->next.load() >= job->n) {
      jobs_.pop_front();  // every part claimed; its caller waits for the rest
      continue;
    }
    lock.unlock();
    const size_t ran = RunParts(*job);
    lock.lock();
    job->done.fetch_add(ran);
    done_cv_.notify_all();
  }
}

}  // namespace metaps
