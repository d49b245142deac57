// Dense all-reduce among the workers: after Sum(data, n) every worker holds the
// element-wise sum of all workers' data. Every worker must call it the same
// number of times with the same n (the trainer keeps workers in step).
//
// MPI (CPU clusters): MPI_Allreduce on a workers-only communicator from
// MPI_Comm_split. In-process (threads): a shared buffer and a barrier, summing
// in worker order so results are deterministic. NCCL comes with the CUDA backend.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"

namespace metaps {

class AllReduce {
 public:
  virtual ~AllReduce() = default;
  virtual int size() const = 0;
  virtual Status Sum(float* data, size_t n) = 0;
  virtual Status Sum(double* data, size_t n) = 0;
};

// REQUIRES: MPI initialized; `comm` is an MPI_Comm of the workers (passed as
// its integer handle so this header stays MPI-free). Borrowed.
std::unique_ptr<AllReduce> MakeMpiAllReduce(void* comm);

// A group of `size` threads; ForWorker(i) is worker i's handle.
class InProcessAllReduceGroup {
 public:
  explicit InProcessAllReduceGroup(int size) : size_(size), contributions_(size) {}
  std::unique_ptr<AllReduce> ForWorker(int index);

 private:
  friend class InProcessAllReduce;
  Status Sum(int index, double* data, size_t n);

  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<double>> contributions_;  // GUARDED_BY(mu_)
  std::vector<double> result_;                      // GUARDED_BY(mu_)
  int arrived_ = 0, departed_ = 0;                  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                         // GUARDED_BY(mu_)
};

}  // namespace metaps
