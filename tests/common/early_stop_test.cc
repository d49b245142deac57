// Early stopping: the decision on scripted metric sequences, its state's text
// form, and training.early_stop config errors that name the field.
#include "common/early_stop.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/job_config.h"

namespace metaps {
namespace {

using Decision = EarlyStopper::Decision;

struct Fed {
  std::vector<Decision> decisions;
  int stopped_at = -1;  // index of the first kStop
};

// Feeds values at steps 10, 20, ... (epoch = index + 1) until the first stop.
Fed Feed(EarlyStopper* es, const std::vector<double>& values) {
  Fed run;
  for (size_t i = 0; i < values.size(); ++i) {
    const Decision d =
        es->Observe(10 * static_cast<int64_t>(i + 1), static_cast<int64_t>(i + 1), values[i]);
    run.decisions.push_back(d);
    if (d == Decision::kStop) {
      run.stopped_at = static_cast<int>(i);
      break;
    }
  }
  return run;
}

TEST(EarlyStopTest, HigherIsBetterPicksTheStepWithTheBestValue) {
  EarlyStopper es("auc", true, /*patience=*/2, /*min_delta=*/0);
  const Fed run = Feed(&es, {0.70, 0.74, 0.73, 0.76, 0.75, 0.755, 0.80});
  EXPECT_EQ(run.decisions,
            (std::vector<Decision>{Decision::kImproved, Decision::kImproved, Decision::kContinue,
                                   Decision::kImproved, Decision::kContinue, Decision::kStop}));
  EXPECT_EQ(run.stopped_at, 5);  // 0.80 is never seen
  EXPECT_EQ(es.state().best_step, 40);
  EXPECT_EQ(es.state().best_epoch, 4);
  EXPECT_DOUBLE_EQ(es.state().best_value, 0.76);
  EXPECT_EQ(es.state().last_step, 60);
  EXPECT_EQ(es.state().bad_evals, 2);
  EXPECT_TRUE(es.state().stopped);
  // Stopped stays stopped and changes nothing.
  EXPECT_EQ(es.Observe(70, 7, 0.99), Decision::kStop);
  EXPECT_EQ(es.state().best_step, 40);
}

TEST(EarlyStopTest, LowerIsBetterForLosses) {
  EXPECT_FALSE(MetricHigherIsBetter("logloss").value());
  EarlyStopper es("logloss", false, /*patience=*/1, /*min_delta=*/0);
  const Fed run = Feed(&es, {0.52, 0.50, 0.49, 0.495});
  EXPECT_EQ(run.stopped_at, 3);
  EXPECT_EQ(es.state().best_step, 30);
  EXPECT_DOUBLE_EQ(es.state().best_value, 0.49);
}

TEST(EarlyStopTest, PatienceCountsEvaluationsInARowWithoutImprovement) {
  EarlyStopper es("rmse", false, /*patience=*/3, /*min_delta=*/0);
  // Two bad ones, an improvement resets the count, then three bad ones.
  const Fed run = Feed(&es, {1.0, 1.1, 1.2, 0.9, 0.95, 0.91, 0.92, 0.5});
  EXPECT_EQ(run.stopped_at, 6);
  EXPECT_EQ(es.state().best_step, 40);
}

TEST(EarlyStopTest, TiesKeepTheEarlierStep) {
  EarlyStopper es("auc", true, /*patience=*/2, /*min_delta=*/0);
  const Fed run = Feed(&es, {0.7, 0.7, 0.7});
  EXPECT_EQ(run.stopped_at, 2);
  EXPECT_EQ(es.state().best_step, 10);
}

TEST(EarlyStopTest, MinDeltaIgnoresSmallGains) {
  EarlyStopper es("auc", true, /*patience=*/2, /*min_delta=*/0.01);
  // +0.005 and +0.009 over 0.70 are no improvement; 0.72 is.
  const Fed run = Feed(&es, {0.70, 0.705, 0.72, 0.729, 0.7295});
  EXPECT_EQ(run.decisions[1], Decision::kContinue);
  EXPECT_EQ(run.decisions[2], Decision::kImproved);
  EXPECT_EQ(run.stopped_at, 4);
  EXPECT_EQ(es.state().best_step, 30);
  EXPECT_DOUBLE_EQ(es.state().best_value, 0.72);
}

TEST(EarlyStopTest, NanNeverImproves) {
  EarlyStopper es("auc", true, /*patience=*/3, /*min_delta=*/0);
  const Fed run = Feed(&es, {NAN, 0.6, NAN});
  EXPECT_EQ(run.decisions,
            (std::vector<Decision>{Decision::kContinue, Decision::kImproved, Decision::kContinue}));
  EXPECT_EQ(es.state().best_step, 20);
}

// A resumed run goes on from the saved state exactly as an uninterrupted one.
TEST(EarlyStopTest, StateRoundTripsAndResumesTheSameDecisions) {
  const std::vector<double> values = {0.70, 0.74, 0.1 + 0.63, 0.76, 0.75, 0.755, 0.80};
  EarlyStopper whole("auc", true, 2, 0);
  const Fed all = Feed(&whole, values);

  EarlyStopper first("auc", true, 2, 0);
  Feed(&first, {values[0], values[1], values[2]});
  const std::string saved = first.state().Serialize();
  auto state = EarlyStopState::Parse(saved, "early-stop-30.txt");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->Serialize(), saved);
  EXPECT_EQ(state->best_value, first.state().best_value);  // bit for bit
  EarlyStopper second("auc", true, 2, 0);
  second.Restore(*state);
  std::vector<Decision> rest;
  for (size_t i = 3; i < values.size(); ++i) {
    rest.push_back(second.Observe(10 * (i + 1), i + 1, values[i]));
    if (rest.back() == Decision::kStop) break;
  }
  EXPECT_EQ(rest, std::vector<Decision>(all.decisions.begin() + 3, all.decisions.end()));
  EXPECT_EQ(second.state().Serialize(), whole.state().Serialize());
}

// A job stopped with patience 2 and resumed with patience 4 goes on.
TEST(EarlyStopTest, RestoreWithALargerPatienceGoesOn) {
  EarlyStopper first("auc", true, 2, 0);
  Feed(&first, {0.7, 0.6, 0.6});
  ASSERT_TRUE(first.state().stopped);
  EarlyStopper same("auc", true, 2, 0);
  same.Restore(first.state());
  EXPECT_TRUE(same.state().stopped);
  EXPECT_EQ(same.Observe(40, 4, 0.9), Decision::kStop);
  EarlyStopper larger("auc", true, 4, 0);
  larger.Restore(first.state());
  EXPECT_FALSE(larger.state().stopped);
  EXPECT_EQ(larger.Observe(40, 4, 0.65), Decision::kContinue);
  EXPECT_EQ(larger.Observe(50, 5, 0.65), Decision::kStop);
  EXPECT_EQ(larger.state().best_step, 10);
}

TEST(EarlyStopTest, MalformedStateNamesItsSource) {
  for (const char* text : {"", "1 2 x 4 5 0", "1 2 3 4 5", "1 2 3 4 5 7", "1 2 3 4 5 0 extra"}) {
    auto state = EarlyStopState::Parse(text, "ckpt/early-stop-7.txt");
    ASSERT_FALSE(state.ok()) << text;
    EXPECT_NE(state.status().message().find("ckpt/early-stop-7.txt"), std::string::npos)
        << state.status();
  }
}

TEST(EarlyStopTest, MetricDirections) {
  for (const char* m :
       {"auc", "gauc", "accuracy", "f1", "ndcg@10", "precision@5", "recall@20", "hit_rate@1"}) {
    EXPECT_TRUE(MetricHigherIsBetter(m).value()) << m;
  }
  for (const char* m : {"logloss", "rmse", "mae", "mse"}) {
    EXPECT_FALSE(MetricHigherIsBetter(m).value()) << m;
  }
  for (const char* m : {"loss", "ndcg", "ndcg@", "ndcg@0", "ndcg@x", "foo@3"}) {
    EXPECT_FALSE(MetricHigherIsBetter(m).ok()) << m;
  }
}

constexpr char kJob[] = R"(name: "ctr"
data { format: "criteo" train: "train.txt" valid: "valid.txt" }
model { family: "deepfm" }
output_dir: "/tmp/out"
training {
  epochs: 5
  early_stop { metric: "auc" patience: 3 }
}
)";

std::string ErrorOf(const std::string& text, std::vector<std::string> overrides = {}) {
  auto job = ParseJobConfig(text, "job.pbtxt", overrides);
  return job.ok() ? "" : job.status().message();
}

TEST(EarlyStopConfigTest, ParsesWithDefaults) {
  auto job = ParseJobConfig(kJob, "job.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->training().early_stop().metric(), "auc");
  EXPECT_EQ(job->training().early_stop().patience(), 3);
  std::string text = kJob;
  text.replace(text.find(" patience: 3"), 12, "");
  job = ParseJobConfig(text, "job.pbtxt");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->training().early_stop().patience(), 2);
  EXPECT_EQ(job->training().early_stop().min_delta(), 0);
  // Unset: no early stopping.
  job = ParseJobConfig("data { format: \"criteo\" } model { family: \"deepfm\" }", "j");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_FALSE(job->training().has_early_stop());
}

TEST(EarlyStopConfigTest, UnknownMetricNamesTheField) {
  std::string text = kJob;
  text.replace(text.find("\"auc\""), 5, "\"aucc\"");
  const std::string m = ErrorOf(text);
  EXPECT_NE(m.find("job.pbtxt:7:16: training.early_stop.metric: unknown metric 'aucc'"),
            std::string::npos)
      << m;
}

TEST(EarlyStopConfigTest, MetricNotReportedForTheLossNamesTheField) {
  std::string m = ErrorOf(kJob, {"training.early_stop.metric=rmse"});
  EXPECT_NE(m.find("--set training.early_stop.metric=rmse: training.early_stop.metric: 'rmse' is "
                   "not reported for this job (model.loss 'logistic'"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("one of auc, logloss, accuracy, precision, recall, f1"), std::string::npos) << m;
  m = ErrorOf(kJob, {"model.loss=squared"});
  EXPECT_NE(m.find("training.early_stop.metric: 'auc' is not reported"), std::string::npos) << m;
  EXPECT_NE(m.find("one of rmse, mae, mse"), std::string::npos) << m;
  // Ranking metrics need training.ranking_k, and the same k.
  m = ErrorOf(kJob, {"training.early_stop.metric=ndcg@10"});
  EXPECT_NE(m.find("'ndcg@10' is not reported for this job (model.loss 'logistic', "
                   "training.ranking_k 0: set ranking_k to k)"),
            std::string::npos)
      << m;
  // (deepfm ranks with the heldout_only protocol.)
  EXPECT_EQ(ErrorOf(kJob, {"training.early_stop.metric=ndcg@10", "training.ranking_k=10",
                           "training.ranking_protocol=heldout_only"}),
            "");
  EXPECT_NE(ErrorOf(kJob, {"training.early_stop.metric=ndcg@10", "training.ranking_k=5",
                           "training.ranking_protocol=heldout_only"}),
            "");
}

TEST(EarlyStopConfigTest, MissingOutputDirNamesTheField) {
  std::string text = kJob;
  text.replace(text.find("output_dir"), std::string("output_dir: \"/tmp/out\"\n").size(), "");
  const std::string m = ErrorOf(text);
  EXPECT_NE(m.find("job.pbtxt (default value): output_dir: required by training.early_stop"),
            std::string::npos)
      << m;
}

TEST(EarlyStopConfigTest, BadPatienceAndMinDeltaNameTheirFields) {
  std::string m = ErrorOf(kJob, {"training.early_stop.patience=0"});
  EXPECT_NE(m.find("training.early_stop.patience: must be at least 1, got 0"), std::string::npos)
      << m;
  m = ErrorOf(kJob, {"training.early_stop.min_delta=-0.1"});
  EXPECT_NE(m.find("training.early_stop.min_delta: must be a finite value >= 0"), std::string::npos)
      << m;
  m = ErrorOf(kJob, {"training.early_stop.metric="});
  EXPECT_NE(m.find("training.early_stop.metric: required (one of auc"), std::string::npos) << m;
}

}  // namespace
}  // namespace metaps
