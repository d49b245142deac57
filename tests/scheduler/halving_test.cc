// Successive halving on scripted metric sequences: synchronous rungs promote
// exactly their top 1/eta, ASHA promotes as results arrive (out of order
// too), one rung is a plain grid, and the state survives a round trip.
#include "scheduler/halving.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace metaps {
namespace {

using Kind = SuccessiveHalving::Work::Kind;
using State = SuccessiveHalving::State;

HalvingOptions Options(int trials, bool asynchronous) {
  HalvingOptions o;
  o.num_trials = trials;
  o.min_budget = 100;
  o.max_budget = 900;
  o.eta = 3;
  o.asynchronous = asynchronous;
  return o;
}

TEST(HalvingTest, BudgetsAndOptions) {
  auto h = SuccessiveHalving::Create(Options(9, true));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->num_rungs(), 3);
  EXPECT_EQ(h->budget(0), 100);
  EXPECT_EQ(h->budget(1), 300);
  EXPECT_EQ(h->budget(2), 900);
  HalvingOptions o = Options(9, true);
  o.max_budget = 1000;  // the last rung takes max
  EXPECT_EQ(SuccessiveHalving::Create(o)->budget(2), 1000);
  o.max_budget = 100;  // one rung: a grid
  EXPECT_EQ(SuccessiveHalving::Create(o)->num_rungs(), 1);
  o.eta = 1;
  EXPECT_FALSE(SuccessiveHalving::Create(o).ok());
  o = Options(0, true);
  EXPECT_FALSE(SuccessiveHalving::Create(o).ok());
}

// 9 trials with value = trial index (higher is better), one worker group.
TEST(HalvingTest, SynchronousRungsPromoteExactlyTheirTopThird) {
  auto h = SuccessiveHalving::Create(Options(9, false)).value();
  std::vector<int> order;
  std::map<int, std::vector<int>> by_rung;
  for (;;) {
    const auto w = h.Next();
    if (w.kind == Kind::kDone) break;
    ASSERT_EQ(w.kind, Kind::kRun);  // one group: never waits
    EXPECT_EQ(w.from, w.rung == 0 ? 0 : h.budget(w.rung - 1));
    EXPECT_EQ(w.to, h.budget(w.rung));
    by_rung[w.rung].push_back(w.trial);
    ASSERT_TRUE(h.Report(w.trial, w.rung, static_cast<double>(w.trial)).ok());
  }
  EXPECT_EQ(by_rung[0], (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(by_rung[1], (std::vector<int>{8, 7, 6}));  // the best first
  EXPECT_EQ(by_rung[2], (std::vector<int>{8}));
  EXPECT_EQ(h.best(), 8);
  EXPECT_EQ(h.state(8), State::kDone);
  for (int t : {6, 7}) EXPECT_EQ(h.state(t), State::kStopped) << t;
  for (int t = 0; t < 6; ++t) EXPECT_EQ(h.state(t), State::kStopped) << t;
  // Budgets are totals: a promoted trial goes on from its own state.
  EXPECT_EQ(h.samples_used(), 6 * 100 + 2 * 300 + 1 * 900);
  EXPECT_EQ(h.samples_full_grid(), 9 * 900);
}

// ASHA with two groups and results arriving out of order: a trial goes up as
// soon as it is in the top third of those that reported its rung.
TEST(HalvingTest, AsynchronousPromotionOnAnOutOfOrderSequence) {
  HalvingOptions o = Options(9, true);
  o.higher_is_better = false;  // a loss
  auto h = SuccessiveHalving::Create(o).value();
  // Values at rung 0 (lower is better): trial 4 is the best, then 7, then 1.
  const double loss[9] = {0.9, 0.3, 0.8, 0.7, 0.1, 0.6, 0.5, 0.2, 0.4};
  auto w0 = h.Next(), w1 = h.Next();
  ASSERT_EQ(w0.trial, 0);
  ASSERT_EQ(w1.trial, 1);
  ASSERT_TRUE(h.Report(1, 0, loss[1]).ok());  // 1 finishes first
  auto w = h.Next();                          // 1 of 1 reported: floor(1/3) = 0 promoted
  EXPECT_EQ(w.trial, 2);
  EXPECT_EQ(w.rung, 0);
  ASSERT_TRUE(h.Report(2, 0, loss[2]).ok());
  ASSERT_TRUE(h.Report(0, 0, loss[0]).ok());
  // 3 reported (0.9, 0.3, 0.8): the top one, trial 1, goes up at once.
  w = h.Next();
  EXPECT_EQ(w.trial, 1);
  EXPECT_EQ(w.rung, 1);
  EXPECT_EQ(w.from, 100);
  EXPECT_EQ(w.to, 300);
  // Trial 1 is still running rung 1; new trials start while it does.
  w = h.Next();
  EXPECT_EQ(w.trial, 3);
  ASSERT_TRUE(h.Report(3, 0, loss[3]).ok());  // 4 reported: the top one (1) went up
  w = h.Next();
  EXPECT_EQ(w.trial, 4);
  EXPECT_EQ(w.rung, 0);
  ASSERT_TRUE(h.Report(4, 0, loss[4]).ok());  // 5 reported, top one: 4 (0.1)
  w = h.Next();                               // 4 goes up before any new trial starts
  EXPECT_EQ(w.trial, 4);
  EXPECT_EQ(w.rung, 1);
  w = h.Next();
  EXPECT_EQ(w.trial, 5);
  EXPECT_EQ(w.rung, 0);
  ASSERT_TRUE(h.Report(5, 0, loss[5]).ok());  // 6 reported, top two: 4 and 1, both up
  // Reporting a rung a trial is not running is refused.
  EXPECT_FALSE(h.Report(2, 1, 0.1).ok());
  EXPECT_FALSE(h.Report(4, 0, 0.1).ok());
  // NaN ranks last and is never promoted.
  w = h.Next();
  EXPECT_EQ(w.trial, 6);
  ASSERT_TRUE(h.Report(6, 0, std::nan("")).ok());
  EXPECT_TRUE(std::isnan(h.value(6, 0)));
  EXPECT_EQ(h.state(6), State::kPaused);
}

// A settled trial (whose tables a study may free) never runs again and never
// ends as the best; under both rules some trials settle before the study ends.
TEST(HalvingTest, SettledTrialsNeverRunAgainNorWin) {
  const double value[9] = {0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6};
  for (bool asynchronous : {true, false}) {
    auto h = SuccessiveHalving::Create(Options(9, asynchronous)).value();
    std::set<int> settled;
    size_t settled_while_running = 0;
    for (;;) {
      const auto w = h.Next();
      if (w.kind == Kind::kDone) break;
      ASSERT_EQ(w.kind, Kind::kRun);  // one group
      EXPECT_EQ(settled.count(w.trial), 0u) << "settled trial " << w.trial << " ran again";
      EXPECT_FALSE(h.Settled(w.trial));  // running
      ASSERT_TRUE(h.Report(w.trial, w.rung, value[w.trial] + w.rung).ok());
      for (int k = 0; k < 9; ++k) {
        if (h.Settled(k)) settled.insert(k);
      }
      settled_while_running = settled.size();
    }
    EXPECT_GT(settled_while_running, 0u) << asynchronous;
    ASSERT_GE(h.best(), 0);
    EXPECT_EQ(settled.count(h.best()), 0u);
    EXPECT_FALSE(h.Settled(h.best()));
    // Trial 2 (the worst) settles; trial 1 (the best) never does.
    EXPECT_TRUE(h.Settled(2)) << asynchronous;
    EXPECT_EQ(h.best(), 1);
  }
}

// Synchronous rungs wait for every survivor of the rung below: with one
// group and rung-1 values that reverse rung 0's order, trial 8 (first to run
// rung 1) does not go up before 7 and 6 have reported; 6 wins rung 1.
TEST(HalvingTest, SynchronousRungsWaitForTheSurvivorsOfTheRungBelow) {
  auto h = SuccessiveHalving::Create(Options(9, false)).value();
  std::map<int, std::vector<int>> by_rung;
  for (;;) {
    const auto w = h.Next();
    if (w.kind == Kind::kDone) break;
    ASSERT_EQ(w.kind, Kind::kRun);
    by_rung[w.rung].push_back(w.trial);
    const double v = w.rung == 0 ? w.trial : 10.0 - w.trial;
    ASSERT_TRUE(h.Report(w.trial, w.rung, v).ok());
  }
  EXPECT_EQ(by_rung[1], (std::vector<int>{8, 7, 6}));
  EXPECT_EQ(by_rung[2], (std::vector<int>{6}));
  EXPECT_EQ(h.best(), 6);
}

// When no trial reaches the last rung (ASHA, too few trials to climb), the
// study ends by stopping the paused trials, the best one among them: it is
// still the best and never settled (its tables must stay for the export).
TEST(HalvingTest, TheBestIsNeverSettledEvenWhenStopped) {
  HalvingOptions o = Options(4, true);
  o.max_budget = 2700;  // rungs 100, 300, 900, 2700
  auto h = SuccessiveHalving::Create(o).value();
  for (;;) {
    const auto w = h.Next();
    if (w.kind == Kind::kDone) break;
    ASSERT_TRUE(h.Report(w.trial, w.rung, static_cast<double>(w.trial)).ok());
  }
  const int best = h.best();
  ASSERT_GE(best, 0);
  EXPECT_LT(h.rung(best), 3);
  EXPECT_EQ(h.state(best), State::kStopped);
  EXPECT_FALSE(h.Settled(best));
  for (int t = 0; t < 4; ++t) {
    if (t != best) {
      EXPECT_TRUE(h.Settled(t)) << t;
    }
  }
}

TEST(HalvingTest, OneRungIsAGridAndFailuresStop) {
  HalvingOptions o = Options(4, true);
  o.max_budget = 100;
  auto h = SuccessiveHalving::Create(o).value();
  for (int t = 0; t < 4; ++t) {
    const auto w = h.Next();
    ASSERT_EQ(w.trial, t);
    ASSERT_EQ(w.to, 100);
  }
  EXPECT_EQ(h.Next().kind, Kind::kWait);
  ASSERT_TRUE(h.Fail(2, "diverged").ok());
  for (int t : {0, 1, 3}) ASSERT_TRUE(h.Report(t, 0, 0.5 + t).ok());
  EXPECT_EQ(h.Next().kind, Kind::kDone);
  EXPECT_EQ(h.state(2), State::kFailed);
  EXPECT_EQ(h.state(3), State::kDone);
  EXPECT_EQ(h.best(), 3);
  EXPECT_EQ(h.samples_used(), h.samples_full_grid());  // one rung: every trial in full
}

// Killed after any decision and resumed from the saved state, a study makes
// the decisions of one that never stopped.
TEST(HalvingTest, StateRoundTripsAtEveryDecision) {
  const HalvingOptions o = Options(9, true);
  auto reference = SuccessiveHalving::Create(o).value();
  auto resumed = SuccessiveHalving::Create(o).value();
  std::vector<std::pair<int, int>> running;  // two groups
  auto value = [](int trial, int rung) { return std::sin(trial * 7.0 + rung); };
  for (int step = 0; step < 100; ++step) {
    // Save and reload the resumed copy before every decision.
    auto copy = SuccessiveHalving::FromJson(o, resumed.ToJson(), "state.json");
    ASSERT_TRUE(copy.ok()) << copy.status();
    resumed = std::move(copy).value();
    EXPECT_EQ(resumed.ToJson(), reference.ToJson());
    if (running.size() < 2) {
      const auto a = reference.Next(), b = resumed.Next();
      ASSERT_EQ(a.kind, b.kind);
      ASSERT_EQ(a.trial, b.trial);
      ASSERT_EQ(a.rung, b.rung);
      if (a.kind == Kind::kDone) break;
      if (a.kind == Kind::kRun) {
        running.emplace_back(a.trial, a.rung);
        continue;
      }
    }
    if (running.empty()) continue;
    const auto [trial, rung] = running.front();  // the older finishes first
    running.erase(running.begin());
    ASSERT_TRUE(reference.Report(trial, rung, value(trial, rung)).ok());
    ASSERT_TRUE(resumed.Report(trial, rung, value(trial, rung)).ok());
  }
  EXPECT_EQ(resumed.best(), reference.best());
  EXPECT_GE(reference.best(), 0);
  // A state of other options is refused, naming the file.
  HalvingOptions other = o;
  other.eta = 2;
  auto refused = SuccessiveHalving::FromJson(other, reference.ToJson(), "state.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("state.json"), std::string::npos);
  EXPECT_FALSE(SuccessiveHalving::FromJson(o, nlohmann::json::array(), "s").ok());
}

}  // namespace
}  // namespace metaps
