// ClockTracker semantics: BSP, SSP and ASP, step by step.
#include "scheduler/clock_tracker.h"

#include <gtest/gtest.h>

namespace metaps {
namespace {

TEST(ClockTrackerTest, BspReleasesEveryoneWhenTheLastWorkerFinishes) {
  ClockTracker c(3, 0);
  EXPECT_FALSE(c.Advance(0, 1));
  EXPECT_FALSE(c.Advance(2, 1));
  EXPECT_TRUE(c.TakeReleased().empty());
  EXPECT_TRUE(c.Advance(1, 1));  // the last one goes on at once
  EXPECT_EQ(c.TakeReleased(), (std::vector<int>{0, 2}));
  EXPECT_EQ(c.min_clock(), 1);
  EXPECT_EQ(c.waits(), 2u);
}

TEST(ClockTrackerTest, SspLetsAWorkerRunAtMostSStepsAhead) {
  ClockTracker c(2, 2);
  EXPECT_TRUE(c.Advance(0, 1));   // 1 ahead
  EXPECT_TRUE(c.Advance(0, 2));   // 2 ahead: still within the bound
  EXPECT_FALSE(c.Advance(0, 3));  // 3 ahead: waits
  EXPECT_TRUE(c.Advance(1, 1));   // slowest moves to 1: worker 0 is 2 ahead again
  EXPECT_EQ(c.TakeReleased(), (std::vector<int>{0}));
  for (const auto& g : c.grants()) EXPECT_LE(g.clock - g.min_clock, 2) << g.worker;
}

TEST(ClockTrackerTest, AspNeverWaits) {
  ClockTracker c(2, -1);
  for (int step = 1; step <= 100; ++step) EXPECT_TRUE(c.Advance(0, step));
  EXPECT_EQ(c.waits(), 0u);
  EXPECT_EQ(c.min_clock(), 0);
  EXPECT_EQ(c.grants().back().clock - c.grants().back().min_clock, 100);
}

}  // namespace
}  // namespace metaps
