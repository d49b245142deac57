#include "scheduler/halving.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace metaps {

using Json = nlohmann::json;

const char* HalvingStateName(SuccessiveHalving::State s) {
  switch (s) {
    case SuccessiveHalving::State::kPending:
      return "pending";
    case SuccessiveHalving::State::kRunning:
      return "running";
    case SuccessiveHalving::State::kPaused:
      return "paused";
    case SuccessiveHalving::State::kStopped:
      return "stopped";
    case SuccessiveHalving::State::kDone:
      return "done";
    case SuccessiveHalving::State::kFailed:
      return "failed";
  }
  return "?";
}

SuccessiveHalving::SuccessiveHalving(const HalvingOptions& o) : o_(o) {
  // r = floor(log_eta(max / min)) rungs of min * eta^i, then max itself.
  int64_t b = o.min_budget;
  while (b <= o.max_budget / o.eta) {
    budgets_.push_back(b);
    b *= o.eta;
  }
  budgets_.push_back(o.max_budget);
  trials_.resize(static_cast<size_t>(o.num_trials));
}

StatusOr<SuccessiveHalving> SuccessiveHalving::Create(const HalvingOptions& o) {
  if (o.num_trials < 1) return InvalidArgument("halving: num_trials must be at least 1");
  if (o.min_budget < 1) return InvalidArgument("halving: min_budget must be at least 1");
  if (o.max_budget < o.min_budget) {
    return InvalidArgument("halving: max_budget must be at least min_budget");
  }
  if (o.eta < 2) return InvalidArgument("halving: eta must be at least 2");
  return SuccessiveHalving(o);
}

double SuccessiveHalving::value(int trial, int rung) const {
  const TrialState& t = trials_[static_cast<size_t>(trial)];
  if (rung < 0 || rung >= static_cast<int>(t.values.size())) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return t.values[static_cast<size_t>(rung)];
}

bool SuccessiveHalving::Better(int a, int b, int rung) const {
  const double va = value(a, rung), vb = value(b, rung);
  const bool fa = std::isfinite(va), fb = std::isfinite(vb);
  if (fa != fb) return fa;
  if (fa && va != vb) return o_.higher_is_better ? va > vb : va < vb;
  return a < b;
}

bool SuccessiveHalving::RungComplete(int rung) const {
  for (const TrialState& t : trials_) {
    if (t.state == State::kFailed || t.done_rung >= rung) continue;
    if (t.running_rung == rung || (rung == 0 && t.state == State::kPending)) return false;
    if (!o_.asynchronous && rung > 0 && t.state == State::kPaused && t.done_rung == rung - 1) {
      return false;  // a survivor of the rung below, still to be promoted
    }
  }
  return true;
}

int SuccessiveHalving::Promotable(int rung) const {
  if (rung + 1 >= num_rungs()) return -1;
  std::vector<int> reported;  // finished `rung` (and maybe more)
  for (int i = 0; i < o_.num_trials; ++i) {
    const TrialState& t = trials_[static_cast<size_t>(i)];
    if (t.state != State::kFailed && t.done_rung >= rung) reported.push_back(i);
  }
  if (!o_.asynchronous && (!RungComplete(rung) || reported.empty())) return -1;
  std::sort(reported.begin(), reported.end(), [&](int a, int b) { return Better(a, b, rung); });
  size_t keep = reported.size() / static_cast<size_t>(o_.eta);
  if (!o_.asynchronous) keep = std::max<size_t>(keep, 1);
  for (size_t k = 0; k < keep && k < reported.size(); ++k) {
    const TrialState& t = trials_[static_cast<size_t>(reported[k])];
    if (t.done_rung == rung && t.state == State::kPaused && !t.promoted &&
        std::isfinite(value(reported[k], rung))) {
      return reported[k];
    }
  }
  return -1;
}

SuccessiveHalving::Work SuccessiveHalving::Next() {
  Work w;
  for (int rung = num_rungs() - 2; rung >= 0; --rung) {
    const int t = Promotable(rung);
    if (t < 0) continue;
    TrialState& s = trials_[static_cast<size_t>(t)];
    s.promoted = true;
    s.state = State::kRunning;
    s.running_rung = rung + 1;
    w.kind = Work::Kind::kRun;
    w.trial = t;
    w.rung = rung + 1;
    w.from = budget(rung);
    w.to = budget(rung + 1);
    return w;
  }
  if (next_new_ < o_.num_trials) {
    TrialState& s = trials_[static_cast<size_t>(next_new_)];
    s.state = State::kRunning;
    s.running_rung = 0;
    w.kind = Work::Kind::kRun;
    w.trial = next_new_++;
    w.rung = 0;
    w.from = 0;
    w.to = budget(0);
    return w;
  }
  for (const TrialState& t : trials_) {
    if (t.state == State::kRunning) {
      w.kind = Work::Kind::kWait;
      return w;
    }
  }
  // Nothing runs and nothing can be promoted: the study is over.
  for (TrialState& t : trials_) {
    if (t.state == State::kPaused) t.state = State::kStopped;
  }
  w.kind = Work::Kind::kDone;
  return w;
}

Status SuccessiveHalving::Report(int trial, int rung, double value) {
  if (trial < 0 || trial >= o_.num_trials) {
    return InvalidArgument("halving: no trial " + std::to_string(trial));
  }
  TrialState& t = trials_[static_cast<size_t>(trial)];
  if (t.state != State::kRunning || t.running_rung != rung) {
    return InvalidArgument("halving: trial " + std::to_string(trial) + " is not running rung " +
                           std::to_string(rung) + " (" + HalvingStateName(t.state) + ")");
  }
  t.values.push_back(value);
  t.done_rung = rung;
  t.running_rung = -1;
  t.promoted = false;
  t.state = rung + 1 == num_rungs() ? State::kDone : State::kPaused;
  if (!o_.asynchronous && rung + 1 < num_rungs()) {
    // A complete rung decides for good: who is not among its survivors stops.
    std::vector<int> reported;
    for (int i = 0; i < o_.num_trials; ++i) {
      const TrialState& s = trials_[static_cast<size_t>(i)];
      if (s.state != State::kFailed && s.done_rung >= rung) reported.push_back(i);
    }
    if (RungComplete(rung)) {
      std::sort(reported.begin(), reported.end(), [&](int a, int b) { return Better(a, b, rung); });
      const size_t keep = std::max<size_t>(reported.size() / static_cast<size_t>(o_.eta), 1);
      for (size_t k = keep; k < reported.size(); ++k) {
        TrialState& s = trials_[static_cast<size_t>(reported[k])];
        if (s.state == State::kPaused && s.done_rung == rung) s.state = State::kStopped;
      }
    }
  }
  return Status::Ok();
}

Status SuccessiveHalving::Fail(int trial, const std::string& why) {
  if (trial < 0 || trial >= o_.num_trials) {
    return InvalidArgument("halving: no trial " + std::to_string(trial));
  }
  TrialState& t = trials_[static_cast<size_t>(trial)];
  if (t.state != State::kRunning) {
    return InvalidArgument("halving: trial " + std::to_string(trial) + " is not running (" + why +
                           ")");
  }
  t.state = State::kFailed;  // its running_rung stays: the samples it was given count
  return Status::Ok();
}

int64_t SuccessiveHalving::samples_used() const {
  int64_t used = 0;
  for (const TrialState& t : trials_) {
    const int top = std::max(t.done_rung, t.running_rung);
    if (top >= 0) used += budget(top);
  }
  return used;
}

int64_t SuccessiveHalving::samples_full_grid() const {
  return static_cast<int64_t>(o_.num_trials) * o_.max_budget;
}

int SuccessiveHalving::best() const {
  int top = -1;
  for (const TrialState& t : trials_) top = std::max(top, t.done_rung);
  int best = -1;
  for (int i = 0; i < o_.num_trials; ++i) {
    if (trials_[static_cast<size_t>(i)].done_rung != top || top < 0) continue;
    if (trials_[static_cast<size_t>(i)].state == State::kFailed) continue;
    if (!std::isfinite(value(i, top))) continue;
    if (best < 0 || Better(i, best, top)) best = i;
  }
  return best;
}

bool SuccessiveHalving::Settled(int trial) const {
  const TrialState& t = trials_[static_cast<size_t>(trial)];
  // The study ends by stopping its paused trials, the best one too when no
  // trial reached the last rung: it is never settled.
  if (trial == best()) return false;
  if (t.state == State::kFailed || t.state == State::kStopped) return true;
  if (t.state != State::kPaused) return false;  // pending, running, done
  int top = -1;
  for (const TrialState& s : trials_) top = std::max(top, s.done_rung);
  const int rung = t.done_rung;
  if (rung >= top) return false;                        // it may yet be the best
  if (!std::isfinite(value(trial, rung))) return true;  // never promoted
  std::vector<int> reported;
  for (int i = 0; i < o_.num_trials; ++i) {
    const TrialState& s = trials_[static_cast<size_t>(i)];
    if (s.state == State::kFailed) continue;
    if (s.done_rung >= rung) {
      reported.push_back(i);
    } else if (s.state != State::kStopped) {
      return false;  // it may still report `rung` and change the ranks
    }
  }
  std::sort(reported.begin(), reported.end(), [&](int a, int b) { return Better(a, b, rung); });
  size_t keep = reported.size() / static_cast<size_t>(o_.eta);
  if (!o_.asynchronous) keep = std::max<size_t>(keep, 1);
  for (size_t k = 0; k < keep && k < reported.size(); ++k) {
    if (reported[k] == trial) return false;
  }
  return true;
}

Json SuccessiveHalving::ToJson() const {
  Json trials = Json::array();
  for (const TrialState& t : trials_) {
    Json values = Json::array();
    for (double v : t.values) values.push_back(std::isfinite(v) ? Json(v) : Json(nullptr));
    trials.push_back({{"state", HalvingStateName(t.state)},
                      {"done_rung", t.done_rung},
                      {"running_rung", t.running_rung},
                      {"promoted", t.promoted},
                      {"values", values}});
  }
  return {{"format", "metaps-halving-1"},
          {"budgets", budgets_},
          {"next_new", next_new_},
          {"trials", trials}};
}

StatusOr<SuccessiveHalving> SuccessiveHalving::FromJson(const HalvingOptions& options,
                                                        const Json& j, const std::string& source) {
  ASSIGN_OR_RETURN(SuccessiveHalving h, Create(options));
  auto bad = [&](const std::string& what) {
    return InvalidArgument(source + ": not this study's halving state (" + what + ")");
  };
  if (!j.is_object() || !j.contains("format") || j["format"] != "metaps-halving-1") {
    return bad("no format metaps-halving-1");
  }
  if (!j.contains("budgets") || j["budgets"] != Json(h.budgets_)) {
    return bad("other budgets: another min/max budget or eta");
  }
  if (!j.contains("trials") || !j["trials"].is_array() ||
      j["trials"].size() != static_cast<size_t>(options.num_trials)) {
    return bad("another number of trials");
  }
  if (!j.contains("next_new") || !j["next_new"].is_number_integer()) return bad("no next_new");
  h.next_new_ = j["next_new"].get<int>();
  if (h.next_new_ < 0 || h.next_new_ > options.num_trials) return bad("next_new out of range");
  for (size_t i = 0; i < h.trials_.size(); ++i) {
    const Json& t = j["trials"][i];
    TrialState& s = h.trials_[i];
    if (!t.is_object() || !t.contains("state") || !t["state"].is_string() ||
        !t.contains("done_rung") || !t["done_rung"].is_number_integer() ||
        !t.contains("running_rung") || !t["running_rung"].is_number_integer() ||
        !t.contains("values") || !t["values"].is_array()) {
      return bad("trial " + std::to_string(i) + " malformed");
    }
    bool known = false;
    for (State st : {State::kPending, State::kRunning, State::kPaused, State::kStopped,
                     State::kDone, State::kFailed}) {
      if (t["state"] == HalvingStateName(st)) {
        s.state = st;
        known = true;
      }
    }
    if (!known) return bad("trial " + std::to_string(i) + ": unknown state");
    s.done_rung = t["done_rung"].get<int>();
    s.running_rung = t["running_rung"].get<int>();
    s.promoted = t.value("promoted", false);
    for (const Json& v : t["values"]) {
      s.values.push_back(v.is_number() ? v.get<double>()
                                       : std::numeric_limits<double>::quiet_NaN());
    }
    if (s.done_rung < -1 || s.done_rung >= h.num_rungs() || s.running_rung < -1 ||
        s.running_rung >= h.num_rungs() ||
        s.values.size() != static_cast<size_t>(s.done_rung + 1)) {
      return bad("trial " + std::to_string(i) + ": rungs out of range");
    }
  }
  return h;
}

}  // namespace metaps
