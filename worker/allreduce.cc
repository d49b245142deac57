#include "worker/allreduce.h"

#include <mpi.h>

namespace metaps {
namespace {

class MpiAllReduce : public AllReduce {
 public:
  explicit MpiAllReduce(MPI_Comm comm) : comm_(comm) { MPI_Comm_size(comm_, &size_); }
  int size() const override { return size_; }
  Status Sum(float* data, size_t n) override { return Reduce(data, n, MPI_FLOAT); }
  Status Sum(double* data, size_t n) override { return Reduce(data, n, MPI_DOUBLE); }

 private:
  Status Reduce(void* data, size_t n, MPI_Datatype type) {
    if (n == 0) return Status::Ok();
    const int rc = MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, MPI_SUM, comm_);
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING];
      int len = 0;
      MPI_Error_string(rc, text, &len);
      return Internal("MPI_Allreduce of " + std::to_string(n) +
                      " values: " + std::string(text, len));
    }
    return Status::Ok();
  }
  MPI_Comm comm_;
  int size_ = 1;
};

}  // namespace

class InProcessAllReduce : public AllReduce {
 public:
  InProcessAllReduce(InProcessAllReduceGroup* group, int index) : group_(group), index_(index) {}
  int size() const override { return group_->size_; }
  Status Sum(double* data, size_t n) override { return group_->Sum(index_, data, n); }
  Status Sum(float* data, size_t n) override {
    std::vector<double> wide(data, data + n);
    RETURN_IF_ERROR(group_->Sum(index_, wide.data(), n));
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>(wide[i]);
    return Status::Ok();
  }

 private:
  InProcessAllReduceGroup* group_;
  int index_;
};

std::unique_ptr<AllReduce> MakeMpiAllReduce(void* comm) {
  return std::make_unique<MpiAllReduce>(*static_cast<MPI_Comm*>(comm));
}

std::unique_ptr<AllReduce> InProcessAllReduceGroup::ForWorker(int index) {
  return std::make_unique<InProcessAllReduce>(this, index);
}

Status InProcessAllReduceGroup::Sum(int index, double* data, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return departed_ == 0 || departed_ == size_; });
  if (departed_ == size_) departed_ = 0;
  const uint64_t my_generation = generation_;
  contributions_[static_cast<size_t>(index)].assign(data, data + n);
  if (++arrived_ == size_) {
    for (const auto& c : contributions_) {
      if (c.size() != n) return Internal("in-process all-reduce called with different sizes");
    }
    result_.assign(n, 0.0);
    for (const auto& c : contributions_) {  // worker order: deterministic
      for (size_t i = 0; i < n; ++i) result_[i] += c[i];
    }
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != my_generation; });
  }
  std::copy(result_.begin(), result_.end(), data);
  if (++departed_ == size_) cv_.notify_all();
  return Status::Ok();
}

}  // namespace metaps
