#include "scheduler/clock_tracker.h"

#include <algorithm>

namespace metaps {

ClockTracker::ClockTracker(int num_workers, int64_t staleness)
    : staleness_(staleness),
      clock_(static_cast<size_t>(num_workers), 0),
      waiting_(static_cast<size_t>(num_workers), false) {}

int64_t ClockTracker::min_clock() const {
  return clock_.empty() ? 0 : *std::min_element(clock_.begin(), clock_.end());
}

bool ClockTracker::MayGoOn(int worker) const {
  return staleness_ < 0 || clock_[static_cast<size_t>(worker)] - min_clock() <= staleness_;
}

bool ClockTracker::Advance(int worker, int64_t clock) {
  const size_t w = static_cast<size_t>(worker);
  clock_[w] = std::max(clock_[w], clock);
  // The slowest worker may have moved: release whoever now fits the bound.
  for (size_t other = 0; other < clock_.size(); ++other) {
    if (waiting_[other] && MayGoOn(static_cast<int>(other))) {
      waiting_[other] = false;
      released_.push_back(static_cast<int>(other));
      grants_.push_back({static_cast<int>(other), clock_[other], min_clock()});
    }
  }
  if (MayGoOn(worker)) {
    grants_.push_back({worker, clock_[w], min_clock()});
    return true;
  }
  waiting_[w] = true;
  ++waits_;
  return false;
}

std::vector<int> ClockTracker::TakeReleased() {
  std::vector<int> out;
  out.swap(released_);
  return out;
}

}  // namespace metaps
