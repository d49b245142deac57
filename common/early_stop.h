// Early stopping on a validation metric (training.early_stop).
//
// The scheduler feeds an EarlyStopper the merged validation metric of every
// evaluation, (step, epoch, value), and answers the workers with its decision:
// improved (keep this step's checkpoint as the best), continue, or stop
// (`patience` evaluations in a row without an improvement by more than
// min_delta). A tie, or a gain of at most min_delta, keeps the earlier step.
// A NaN value (e.g. AUC of a split with one class) never improves.
//
// The state is one text line (EarlyStopState::Serialize), written beside each
// checkpoint by worker 0 (early-stop-<step>.txt) so a resumed run goes on with
// the best-so-far of the step it resumes from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

// Whether a larger `metric` is better: auc, gauc, accuracy, f1, precision,
// recall and precision@k, recall@k, ndcg@k, hit_rate@k are; logloss, rmse,
// mae and mse are not. InvalidArgument for any other name.
StatusOr<bool> MetricHigherIsBetter(const std::string& metric);

// The validation metrics a job reports, by model.loss ("logistic" or
// "squared") and training.ranking_k (0: no ranking metrics).
std::vector<std::string> ReportedMetrics(const std::string& loss, int ranking_k);

struct EarlyStopState {
  int64_t best_step = -1;  // -1: no evaluation improved yet
  int64_t best_epoch = 0;
  double best_value = 0;
  int64_t last_step = -1;  // the step of the last evaluation fed in
  int bad_evals = 0;       // evaluations since the best that did not improve
  bool stopped = false;    // patience ran out

  bool has_best() const { return best_step >= 0; }
  // "best_step best_epoch best_value last_step bad_evals stopped", the value
  // with 17 significant digits (it parses back to the same double).
  std::string Serialize() const;
  // `source` names the text's origin in errors.
  static StatusOr<EarlyStopState> Parse(const std::string& text, const std::string& source);
};

class EarlyStopper {
 public:
  enum class Decision { kImproved, kContinue, kStop };

  EarlyStopper(std::string metric, bool higher_is_better, int patience, double min_delta);

  // One evaluation. kStop once `patience` evaluations in a row did not
  // improve; after that every call answers kStop and changes nothing.
  Decision Observe(int64_t step, int64_t epoch, double value);

  const EarlyStopState& state() const { return state_; }
  // A saved state. One stopped by a smaller patience than this one's goes on.
  void Restore(const EarlyStopState& state);
  const std::string& metric() const { return metric_; }

 private:
  bool Improves(double value) const;

  const std::string metric_;
  const bool higher_is_better_;
  const int patience_;
  const double min_delta_;
  EarlyStopState state_;
};

const char* DecisionName(EarlyStopper::Decision d);

}  // namespace metaps
