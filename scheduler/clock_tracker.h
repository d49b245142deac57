// Worker clocks for the consistency model of a job.
//
// A worker reports each step it finished. Under bounded staleness s, a worker
// that finished step c may start step c+1 only when c - min_w clock(w) <= s:
// it is never more than s steps ahead of the slowest worker. BSP is s = 0 (a
// barrier after every step); ASP is s < 0 (never wait, clocks only recorded).
//
// Not thread-safe: lives on the scheduler's loop thread.
#pragma once

#include <cstdint>
#include <vector>

namespace metaps {

class ClockTracker {
 public:
  ClockTracker(int num_workers, int64_t staleness);

  // `worker` finished step `clock` (clocks only grow). Returns true when it may
  // go on at once; otherwise it waits until a later Advance releases it.
  bool Advance(int worker, int64_t clock);
  // Workers released by the last Advance (each was waiting), in worker order.
  std::vector<int> TakeReleased();

  int64_t min_clock() const;
  int64_t staleness() const { return staleness_; }

  // Every permission to go on, in order: the bound holds for each.
  struct Grant {
    int worker;
    int64_t clock;      // the step it finished
    int64_t min_clock;  // the slowest worker's clock at that moment
  };
  const std::vector<Grant>& grants() const { return grants_; }
  uint64_t waits() const { return waits_; }  // Advance calls that had to wait

 private:
  bool MayGoOn(int worker) const;

  int64_t staleness_;
  std::vector<int64_t> clock_;
  std::vector<bool> waiting_;
  std::vector<int> released_;
  std::vector<Grant> grants_;
  uint64_t waits_ = 0;
};

}  // namespace metaps
