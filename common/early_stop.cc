#include "common/early_stop.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace metaps {
namespace {

// "ndcg@10" -> true with *base "ndcg" and *k 10.
bool SplitAtK(const std::string& metric, std::string* base, int* k) {
  const size_t at = metric.find('@');
  if (at == std::string::npos) return false;
  *base = metric.substr(0, at);
  const std::string digits = metric.substr(at + 1);
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *k = std::stoi(digits);
  return *k > 0;
}

}  // namespace

StatusOr<bool> MetricHigherIsBetter(const std::string& metric) {
  for (const char* m : {"auc", "gauc", "accuracy", "f1", "precision", "recall"}) {
    if (metric == m) return true;
  }
  for (const char* m : {"logloss", "rmse", "mae", "mse"}) {
    if (metric == m) return false;
  }
  std::string base;
  int k = 0;
  if (SplitAtK(metric, &base, &k)) {
    for (const char* m : {"precision", "recall", "ndcg", "hit_rate"}) {
      if (base == m) return true;
    }
  }
  return InvalidArgument("unknown metric '" + metric +
                         "' (one of auc, gauc, accuracy, f1, precision, recall, logloss, rmse, "
                         "mae, mse, precision@k, recall@k, ndcg@k, hit_rate@k)");
}

std::vector<std::string> ReportedMetrics(const std::string& loss, int ranking_k) {
  std::vector<std::string> out;
  if (loss == "squared") {
    out = {"rmse", "mae", "mse"};
  } else {
    out = {"auc", "logloss", "accuracy", "precision", "recall", "f1"};
  }
  if (ranking_k > 0) {
    const std::string at = "@" + std::to_string(ranking_k);
    for (const char* m : {"precision", "recall", "ndcg", "hit_rate"}) out.push_back(m + at);
  }
  return out;
}

std::string EarlyStopState::Serialize() const {
  char value[40];
  std::snprintf(value, sizeof(value), "%.17g", best_value);
  std::ostringstream out;
  out << best_step << ' ' << best_epoch << ' ' << value << ' ' << last_step << ' ' << bad_evals
      << ' ' << (stopped ? 1 : 0);
  return out.str();
}

StatusOr<EarlyStopState> EarlyStopState::Parse(const std::string& text, const std::string& source) {
  EarlyStopState s;
  std::istringstream in(text);
  std::string value;
  int stopped = 0;
  std::string rest;
  if (!(in >> s.best_step >> s.best_epoch >> value >> s.last_step >> s.bad_evals >> stopped) ||
      (in >> rest) || s.best_step < -1 || s.bad_evals < 0 || (stopped != 0 && stopped != 1)) {
    return DataLoss(source + ": not an early-stop state ('" + text +
                    "'; expected best_step best_epoch best_value last_step bad_evals stopped)");
  }
  char* end = nullptr;
  s.best_value = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0') {
    return DataLoss(source + ": best_value '" + value + "' is not a number");
  }
  s.stopped = stopped == 1;
  return s;
}

EarlyStopper::EarlyStopper(std::string metric, bool higher_is_better, int patience,
                           double min_delta)
    : metric_(std::move(metric)),
      higher_is_better_(higher_is_better),
      patience_(patience),
      min_delta_(min_delta) {}

void EarlyStopper::Restore(const EarlyStopState& state) {
  state_ = state;
  if (state_.stopped && state_.bad_evals < patience_) state_.stopped = false;
}

bool EarlyStopper::Improves(double value) const {
  if (std::isnan(value)) return false;
  if (!state_.has_best()) return true;
  return higher_is_better_ ? value > state_.best_value + min_delta_
                           : value < state_.best_value - min_delta_;
}

EarlyStopper::Decision EarlyStopper::Observe(int64_t step, int64_t epoch, double value) {
  if (state_.stopped) return Decision::kStop;
  state_.last_step = step;
  if (Improves(value)) {
    state_.best_step = step;
    state_.best_epoch = epoch;
    state_.best_value = value;
    state_.bad_evals = 0;
    return Decision::kImproved;
  }
  ++state_.bad_evals;
  if (state_.bad_evals >= patience_) {
    state_.stopped = true;
    return Decision::kStop;
  }
  return Decision::kContinue;
}

const char* DecisionName(EarlyStopper::Decision d) {
  switch (d) {
    case EarlyStopper::Decision::kImproved:
      return "improved";
    case EarlyStopper::Decision::kContinue:
      return "continue";
    case EarlyStopper::Decision::kStop:
      return "stop";
  }
  return "continue";
}

}  // namespace metaps
