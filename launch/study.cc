#include "launch/study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "common/early_stop.h"
#include "common/env.h"
#include "common/job_config.h"

namespace metaps {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// search.metric is checked when the job loads (MetricHigherIsBetter).
bool HigherIsBetter(const std::string& metric) {
  auto higher = MetricHigherIsBetter(metric);
  return higher.ok() && *higher;
}

// The study's allocation, from its search block.
HalvingOptions HalvingFor(const config::SearchConfig& search, size_t trials) {
  HalvingOptions o;
  o.num_trials = static_cast<int>(trials);
  o.min_budget = search.min_budget();
  o.max_budget = search.max_budget();
  o.eta = search.eta();
  o.asynchronous = search.asynchronous();
  o.higher_is_better = HigherIsBetter(search.metric());
  return o;
}

std::string Fmt(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.5f", v);
  return std::isfinite(v) ? text : "nan";
}

StatusOr<std::string> JobText(const SelectOptions& o) {
  std::string text;
  RETURN_IF_ERROR(Env::Default()->ReadFileToString(o.config, &text));
  return text;
}

// (field, value) pairs from a study.json trial_values entry.
StatusOr<std::vector<std::pair<std::string, std::string>>> Pairs(const Json& pairs,
                                                                 const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!pairs.is_array()) return InvalidArgument(where + ": trial values are not a list");
  for (const Json& p : pairs) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string()) {
      return InvalidArgument(where + ": a trial value is not a [field, value] pair");
    }
    out.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  }
  return out;
}

// A resumed study's trials, as its study.json lists them.
StatusOr<std::vector<Trial>> TrialsOf(const SelectOptions& o, const Json& saved,
                                      const std::string& path) {
  if (!saved.is_object() || !saved.contains("trial_values") || !saved["trial_values"].is_array()) {
    return InvalidArgument(path + ": no trial_values (not a study.json of metaps select)");
  }
  ASSIGN_OR_RETURN(std::string text, JobText(o));
  std::vector<Trial> trials;
  for (const Json& pairs : saved["trial_values"]) {
    ASSIGN_OR_RETURN(auto values, Pairs(pairs, path));
    ASSIGN_OR_RETURN(
        Trial t, MakeTrial(text, o.config, o.overrides, static_cast<int>(trials.size()), values));
    trials.push_back(std::move(t));
  }
  return trials;
}

// The best ceil(n / eta) trials of the study in o.warm_start (by the highest
// rung reached, then its value there), then this search's trials that differ
// from them.
StatusOr<std::vector<Trial>> WarmTrials(const SelectOptions& o, int eta) {
  const std::string path = JoinPath(o.warm_start, "study.json");
  std::string text;
  RETURN_IF_ERROR(Env::Default()->ReadFileToString(path, &text));
  const Json prev = Json::parse(text, nullptr, false);
  if (!prev.is_object() || !prev.contains("trial_values") || !prev["trial_values"].is_array() ||
      !prev.contains("halving") || !prev["halving"].is_object() ||
      !prev["halving"].contains("trials") || !prev["halving"]["trials"].is_array() ||
      prev["halving"]["trials"].size() != prev["trial_values"].size()) {
    return InvalidArgument(path + ": not a study.json of metaps select (--warm-start)");
  }
  const std::string metric = prev.contains("metric") && prev["metric"].is_string()
                                 ? prev["metric"].get<std::string>()
                                 : "auc";
  const bool higher = HigherIsBetter(metric);
  struct Ranked {
    int trial, rung;
    double value;
  };
  std::vector<Ranked> ranked;
  const Json& states = prev["halving"]["trials"];
  for (size_t i = 0; i < states.size(); ++i) {
    const Json& st = states[i];
    if (!st.is_object() || !st.contains("done_rung") || !st["done_rung"].is_number_integer() ||
        !st.contains("values") || !st["values"].is_array()) {
      continue;
    }
    const int rung = st["done_rung"].get<int>();
    if (rung < 0 || st["values"].size() <= static_cast<size_t>(rung) ||
        !st["values"][static_cast<size_t>(rung)].is_number()) {
      continue;
    }
    ranked.push_back(
        {static_cast<int>(i), rung, st["values"][static_cast<size_t>(rung)].get<double>()});
  }
  std::sort(ranked.begin(), ranked.end(), [&](const Ranked& a, const Ranked& b) {
    if (a.rung != b.rung) return a.rung > b.rung;
    if (a.value != b.value) return higher ? a.value > b.value : a.value < b.value;
    return a.trial < b.trial;
  });
  const size_t n = states.size();
  const size_t keep = std::min(ranked.size(), std::max<size_t>(1, (n + eta - 1) / eta));
  ASSIGN_OR_RETURN(std::string job, JobText(o));
  std::vector<Trial> trials;
  for (size_t k = 0; k < keep; ++k) {
    ASSIGN_OR_RETURN(auto values,
                     Pairs(prev["trial_values"][static_cast<size_t>(ranked[k].trial)], path));
    ASSIGN_OR_RETURN(
        Trial t, MakeTrial(job, o.config, o.overrides, static_cast<int>(trials.size()), values));
    std::cerr << "metaps select: --warm-start: trial " << t.index << " is trial " << ranked[k].trial
              << " of " << o.warm_start << " (" << t.Describe() << ")\n";
    trials.push_back(std::move(t));
  }
  ASSIGN_OR_RETURN(std::vector<Trial> fresh, LoadTrials(o.config, o.overrides));
  for (const Trial& t : fresh) {
    bool seen = false;
    for (const Trial& w : trials) seen = seen || w.values == t.values;
    if (seen) continue;
    ASSIGN_OR_RETURN(Trial renumbered, MakeTrial(job, o.config, o.overrides,
                                                 static_cast<int>(trials.size()), t.values));
    trials.push_back(std::move(renumbered));
  }
  return trials;
}

}  // namespace

Status Study::Load(const Json& j, const std::string& path) {
  if (!j.is_object() || !j.contains("halving") || !j.contains("results") ||
      !j["results"].is_array()) {
    return InvalidArgument(path + ": not a study state (no halving or results)");
  }
  ASSIGN_OR_RETURN(
      h_, SuccessiveHalving::FromJson(HalvingFor(search_, trials_.size()), j["halving"], path));
  for (const Json& r : j["results"]) {
    if (!r.is_object() || !r.contains("trial") || !r["trial"].is_number_integer() ||
        !r.contains("rung") || !r["rung"].is_number_integer()) {
      return InvalidArgument(path + ": a result without trial and rung");
    }
    RungResult x;
    x.trial = r["trial"].get<int>();
    x.rung = r["rung"].get<int>();
    x.samples = r.value("samples", int64_t{0});
    x.steps = r.value("steps", int64_t{0});
    x.value = r.contains("value") && r["value"].is_number() ? r["value"].get<double>() : NAN;
    x.valid = r.contains("valid") ? r["valid"] : Json();
    results_.push_back(std::move(x));
  }
  return Status::Ok();
}

Status Study::Save() const {
  Json results = Json::array();
  for (const RungResult& r : results_) {
    results.push_back({{"trial", r.trial},
                       {"rung", r.rung},
                       {"samples", r.samples},
                       {"steps", r.steps},
                       {"value", std::isfinite(r.value) ? Json(r.value) : Json(nullptr)},
                       {"valid", r.valid},
                       {"seconds", r.seconds}});
  }
  Json values = Json::array();  // each trial's (field, value) pairs, in order
  for (const Trial& t : trials_) {
    Json pairs = Json::array();
    for (const auto& [field, value] : t.values) pairs.push_back({field, value});
    values.push_back(pairs);
  }
  Json j = {{"format", "metaps-study-1"}, {"config", o_.config},    {"metric", search_.metric()},
            {"trials", trials_.size()},   {"trial_values", values}, {"halving", h_.ToJson()},
            {"results", results}};
  return WriteFileAtomically(Env::Default(), Path("study.json"), j.dump(1) + "\n");
}

Status Study::Record(const SuccessiveHalving::Work& w, int64_t steps, const StatusOr<Json>& done,
                     double seconds) {
  const Trial& trial = trials_[static_cast<size_t>(w.trial)];
  RungResult r;
  r.trial = w.trial;
  r.rung = w.rung;
  r.samples = w.to;
  r.steps = steps;
  r.seconds = seconds;
  if (!done.ok()) {
    std::cerr << "metaps select: trial " << w.trial << " (" << trial.Describe()
              << ") failed: " << done.status().message() << "\n";
    RETURN_IF_ERROR(h_.Fail(w.trial, done.status().message()));
    results_.push_back(r);
    return Status::Ok();
  }
  const Json valid = done->contains("valid") ? (*done)["valid"] : Json();
  if (!valid.is_object()) {
    return InvalidArgument("trial " + std::to_string(w.trial) +
                           ": the job reports no valid split (a study needs validation data)");
  }
  r.valid = valid;
  const std::string& m = search_.metric();
  r.value = valid.contains(m) && valid[m].is_number() ? valid[m].get<double>() : NAN;
  // A diverged trial (its loss NaN, written as null) scores no example: its
  // metrics read 0 over a count of 0, which must rank last, not first.
  const bool diverged =
      !(done->contains("train_loss") && (*done)["train_loss"].is_number()) ||
      !(valid.contains("count") && valid["count"].is_number() && valid["count"].get<double>() > 0);
  if (diverged) {
    std::cerr << "metaps select: trial " << w.trial << " (" << trial.Describe()
              << ") diverged (training loss not a number, or no example scored): ranked last\n";
    r.value = NAN;
  }
  if (!valid.contains(m)) {
    return InvalidArgument("trial " + std::to_string(w.trial) + ": the valid split has no " + m +
                           " (search.metric)");
  }
  RETURN_IF_ERROR(h_.Report(w.trial, w.rung, r.value));
  results_.push_back(r);
  Progress(r);
  return Status::Ok();
}

void Study::Progress(const RungResult& r) const {
  int stopped = 0, done = 0;
  for (int t = 0; t < static_cast<int>(trials_.size()); ++t) {
    const auto s = h_.state(t);
    stopped += s == SuccessiveHalving::State::kStopped || s == SuccessiveHalving::State::kFailed;
    done += s == SuccessiveHalving::State::kDone;
  }
  const int best = h_.best();
  OrderedJson line = {
      {"event", "rung"},
      {"trial", r.trial},
      {"rung", r.rung},
      {"samples", r.samples},
      {"steps", r.steps},
      {"metric", search_.metric()},
      {"value", std::isfinite(r.value) ? OrderedJson(r.value) : OrderedJson(nullptr)},
      {"seconds", r.seconds},
      {"samples_used", h_.samples_used()},
      {"samples_full_grid", h_.samples_full_grid()}};
  std::cout << JsonText(line) << std::endl;
  std::cerr << "metaps select: trial " << r.trial << " rung " << r.rung << " (" << r.samples
            << " examples): " << search_.metric() << " " << Fmt(r.value) << "; " << done
            << " done, " << stopped << " stopped, " << trials_.size() - done - stopped
            << " open; best so far trial " << best << " ("
            << (best >= 0 ? Fmt(h_.value(best, h_.rung(best))) : "-") << "); examples "
            << h_.samples_used() << " of a full grid's " << h_.samples_full_grid() << "\n";
}

void Study::Leaderboard() const {
  // Best first: by highest rung reached, then by the value there.
  std::vector<int> order(trials_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  const bool higher = HigherIsBetter(search_.metric());
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    if (h_.rung(a) != h_.rung(b)) return h_.rung(a) > h_.rung(b);
    const double va = h_.value(a, h_.rung(a)), vb = h_.value(b, h_.rung(b));
    if (std::isfinite(va) != std::isfinite(vb)) return std::isfinite(va);
    if (std::isfinite(va) && va != vb) return higher ? va > vb : va < vb;
    return a < b;
  });
  std::fprintf(stderr, "%-6s %-9s %-12s %s  %s\n", "trial", "status", "examples",
               ("valid " + search_.metric() + " per rung").c_str(), "config");
  for (int t : order) {
    std::string per_rung;
    for (int r = 0; r <= h_.rung(t); ++r) per_rung += (r ? " " : "") + Fmt(h_.value(t, r));
    const int64_t used = h_.rung(t) >= 0 ? h_.budget(h_.rung(t)) : 0;
    std::fprintf(stderr, "%-6d %-9s %-12lld %-24s %s\n", t, HalvingStateName(h_.state(t)),
                 static_cast<long long>(used), per_rung.c_str(),
                 trials_[static_cast<size_t>(t)].Describe().c_str());
    OrderedJson line = {
        {"event", "leaderboard"}, {"trial", t},         {"status", HalvingStateName(h_.state(t))},
        {"examples", used},       {"rung", h_.rung(t)}, {"set", OrderedJson::object()}};
    OrderedJson values = OrderedJson::array();
    for (int r = 0; r <= h_.rung(t); ++r) {
      const double v = h_.value(t, r);
      values.push_back(std::isfinite(v) ? OrderedJson(v) : OrderedJson(nullptr));
    }
    line["values"] = values;
    for (const auto& [field, value] : trials_[static_cast<size_t>(t)].values) {
      line["set"][field] = value;
    }
    std::cout << JsonText(line) << "\n";
  }
}

StatusOr<int> Study::Finish() {
  Leaderboard();
  const int best = h_.best();
  if (best < 0) {
    return Internal("no trial finished a rung with a finite " + search_.metric() +
                    " (every trial failed or diverged)");
  }
  Env* env = Env::Default();
  std::string text;
  RETURN_IF_ERROR(env->ReadFileToString(TrialFile(best), &text));
  RETURN_IF_ERROR(WriteFileAtomically(env, Path("best.pbtxt"), text));
  return best;
}

void Study::PrintDone(int best, const OrderedJson& extra) const {
  OrderedJson line = {{"event", "select_done"},
                      {"best", best},
                      {"metric", search_.metric()},
                      {"value", h_.value(best, h_.rung(best))},
                      {"rung", h_.rung(best)},
                      {"trials", trials_.size()},
                      {"samples_used", h_.samples_used()},
                      {"samples_full_grid", h_.samples_full_grid()},
                      {"best_config", Path("best.pbtxt")},
                      {"best_model", Path("best-model")},
                      {"set", OrderedJson::object()}};
  for (const auto& [field, value] : trials_[static_cast<size_t>(best)].values) {
    line["set"][field] = value;
  }
  for (const auto& [key, value] : extra.items()) line[key] = value;
  std::cout << JsonText(line) << std::endl;
}

std::vector<SuccessiveHalving::Work> Study::Interrupted() const {
  std::vector<SuccessiveHalving::Work> interrupted;
  for (int t = 0; t < static_cast<int>(trials_.size()); ++t) {
    if (h_.state(t) != SuccessiveHalving::State::kRunning) continue;
    SuccessiveHalving::Work w;
    w.kind = SuccessiveHalving::Work::Kind::kRun;
    w.trial = t;
    w.rung = h_.rung(t) + 1;
    w.from = w.rung == 0 ? 0 : h_.budget(w.rung - 1);
    w.to = h_.budget(w.rung);
    interrupted.push_back(w);
  }
  return interrupted;
}

std::string Study::Path(const std::string& name) const { return JoinPath(o_.out, name); }
std::string Study::TrialFile(int t) const {
  return Path("trials/trial-" + std::to_string(t) + ".pbtxt");
}
std::string Study::TrialDir(int t) const { return Path("runs/trial-" + std::to_string(t)); }

StatusOr<std::unique_ptr<Study>> Study::Open(const SelectOptions& o) {
  auto loaded = LoadJobConfig(o.config, o.overrides);
  if (!loaded.ok()) return InvalidArgument(loaded.status().message());
  const config::JobConfig& job = *loaded;
  if (!job.has_search()) {
    return InvalidArgument(o.config +
                           " has no search { param { ... } } block (see the README's Model "
                           "selection)");
  }
  const config::SearchConfig& search = job.search();
  if (search.max_budget() <= 0) {
    return InvalidArgument(o.config +
                           ": search.max_budget (training examples a trial may see) is required "
                           "to run a study");
  }
  Env* env = Env::Default();
  const std::string state = JoinPath(o.out, "study.json");
  const bool have = env->FileExists(state);
  if (have && !o.resume) {
    return InvalidArgument(o.out +
                           " holds a study (study.json): --resume goes on with it, or give "
                           "another --out");
  }
  if (!have && o.resume) return InvalidArgument("--resume: no study.json in " + o.out);
  Json saved;
  if (have) {
    std::string text;
    RETURN_IF_ERROR(env->ReadFileToString(state, &text));
    saved = Json::parse(text, nullptr, false);
  }
  // The trials: a resumed study's own list; else the search's, after the
  // best trials of a previous study (--warm-start).
  auto trials = have ? TrialsOf(o, saved, state)
                     : (o.warm_start.empty() ? LoadTrials(o.config, o.overrides)
                                             : WarmTrials(o, search.eta()));
  if (!trials.ok()) return InvalidArgument(trials.status().message());
  ASSIGN_OR_RETURN(SuccessiveHalving halving,
                   SuccessiveHalving::Create(HalvingFor(search, trials->size())));
  for (const char* dir : {"trials", "runs"}) RETURN_IF_ERROR(env->CreateDir(JoinPath(o.out, dir)));
  for (const Trial& t : *trials) {
    const std::string path = JoinPath(o.out, "trials/trial-" + std::to_string(t.index) + ".pbtxt");
    const std::string text = "# Trial " + std::to_string(t.index) + " of " + o.config + ": " +
                             t.Describe() + "\n" + JobConfigToText(t.job);
    RETURN_IF_ERROR(WriteFileAtomically(env, path, text));
  }
  std::unique_ptr<Study> study(new Study(o, std::move(trials).value(), search, std::move(halving)));
  if (have) {
    if (Status s = study->Load(saved, state); !s.ok()) return InvalidArgument(s.message());
  }
  return study;
}

}  // namespace metaps
