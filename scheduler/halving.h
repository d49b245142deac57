// Model selection's allocation of worker time: successive halving, either
// synchronous (a rung's survivors are chosen once every trial has reported
// it) or asynchronous (ASHA, Li et al. 2020: a trial is promoted as soon as it
// is in the top 1/eta of the trials that have reported its rung, so no worker
// group waits for a rung to fill). One rung is a plain grid run to completion.
//
// Rung r gives a trial min_budget * eta^r samples in all (capped at
// max_budget; the last rung gets max_budget). A promoted trial resumes from
// its own state: its next run is the difference of the two budgets.
//
// Deterministic: the decisions depend only on the order of Next and Report
// calls and on the values; ties go to the lower trial index. The whole state
// round-trips through JSON, so a study killed at any point resumes with the
// decisions it had made.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

struct HalvingOptions {
  int num_trials = 0;
  int64_t min_budget = 0;  // samples a trial gets at rung 0, > 0
  int64_t max_budget = 0;  // samples at the last rung, >= min_budget
  int eta = 3;             // keep the top 1/eta of a rung, >= 2
  bool asynchronous = true;
  bool higher_is_better = true;  // auc: true; logloss, rmse: false
};

class SuccessiveHalving {
 public:
  // InvalidArgument naming the option for bad options.
  static StatusOr<SuccessiveHalving> Create(const HalvingOptions& options);

  int num_rungs() const { return static_cast<int>(budgets_.size()); }
  // Samples in all at the end of rung r.
  int64_t budget(int rung) const { return budgets_[static_cast<size_t>(rung)]; }

  struct Work {
    enum class Kind { kRun, kWait, kDone } kind = Kind::kDone;
    int trial = -1;
    int rung = -1;
    int64_t from = 0, to = 0;  // run the trial from `from` samples to `to`
  };
  // What a free worker group does next: the highest promotion there is, else
  // the next new trial, else wait for a running one (kWait), or kDone. A kRun
  // marks the trial running.
  Work Next();
  // A running trial finished `rung` with `value` on the validation metric.
  // A non-finite value ranks below every number (the trial is never promoted).
  // InvalidArgument if the trial is not running that rung.
  Status Report(int trial, int rung, double value);
  // A running trial failed: it stops and is never promoted.
  Status Fail(int trial, const std::string& why);

  enum class State { kPending, kRunning, kPaused, kStopped, kDone, kFailed };
  State state(int trial) const { return trials_[static_cast<size_t>(trial)].state; }
  // The highest rung the trial finished, -1 for none.
  int rung(int trial) const { return trials_[static_cast<size_t>(trial)].done_rung; }
  // Its value at `rung` (NaN when it did not finish it).
  double value(int trial, int rung) const;
  // Samples the trials were given in all, and what running every trial to
  // max_budget would take.
  int64_t samples_used() const;
  int64_t samples_full_grid() const;
  // The trial with the best value at the highest rung any trial finished (-1: none).
  int best() const;
  // True once `trial` can neither run another rung nor end as best(): it is
  // not best() and it failed or was stopped, or it is paused below the
  // highest finished rung and its rung's reports are all in and rank it out
  // of promotion. A study may free what such a trial holds (its tables).
  bool Settled(int trial) const;

  nlohmann::json ToJson() const;
  // The state ToJson wrote for the same options; InvalidArgument naming
  // `source` when it does not fit them.
  static StatusOr<SuccessiveHalving> FromJson(const HalvingOptions& options,
                                              const nlohmann::json& j, const std::string& source);

 private:
  struct TrialState {
    State state = State::kPending;
    int done_rung = -1;
    int running_rung = -1;
    std::vector<double> values;  // per finished rung
    bool promoted = false;       // from done_rung to the next
  };
  explicit SuccessiveHalving(const HalvingOptions& o);
  bool Better(int a, int b, int rung) const;  // a ranks above b at `rung`
  // A trial of `rung` to promote now, or -1.
  int Promotable(int rung) const;
  // True unless a trial may still report `rung` from below: it runs that rung,
  // it is a new trial (rung 0), or (synchronous rungs) it is a survivor of the
  // rung below that has not been promoted yet. A complete rung's reports are
  // all in, whatever order its trials ran in.
  bool RungComplete(int rung) const;

  HalvingOptions o_;
  std::vector<int64_t> budgets_;
  std::vector<TrialState> trials_;
  int next_new_ = 0;
};

const char* HalvingStateName(SuccessiveHalving::State s);

}  // namespace metaps
