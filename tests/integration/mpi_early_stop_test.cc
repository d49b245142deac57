// Integration: early stopping under mpirun on datagen CTR data. The job stops
// after `patience` evaluations without improvement, keeps the best and the
// latest checkpoint, reports valid and test metrics of the best step (those
// `metaps eval --step <best>` gives), and a resume after a pause goes on with
// the best-so-far like an uninterrupted run.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "tests/integration/ctr_data_test.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;

// The value of "key":number inside the JSON object "split":{...}; -1 if absent.
double SplitMetric(const std::string& line, const std::string& split, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(line, m,
                         std::regex("\"" + split + "\":\\{[^}]*\"" + key + "\":([-0-9.e]+)"))) {
    return -1;
  }
  return std::stod(m[1]);
}

// The done line's chosen step; -1 if absent.
int64_t BestStep(const std::string& line) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"best\":\\{\"step\":(\\d+)"))) return -1;
  return std::stoll(m[1]);
}

class MpiEarlyStopTest : public metaps::testing::CtrDataTest {
 protected:
  // `metaps COMMAND` of the quick-start job on S servers and W workers.
  static std::vector<std::string> Metaps(int servers, int workers, const std::string& command,
                                         std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
        std::to_string(servers),
        std::to_string(workers),
        "--",
        command,
        "--config",
        Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
        "--data",
        *dir_ + "/ctr"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
};

// Two servers and two workers: every worker takes the scheduler's decision,
// and both servers roll back to the best step's shards.
TEST_F(MpiEarlyStopTest, StopsAndReportsTheBestValidationStep) {
  const std::string out = *dir_ + "/by-epoch";
  Subprocess job(Metaps(2, 2, "train",
                        {"--set", "output_dir=" + out, "--set", "training.epochs=12", "--set",
                         "training.early_stop.metric=logloss", "--set",
                         "training.early_stop.patience=2", "--set", "training.log_every=0"}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  const std::string done = job.stdout_lines().back();
  EXPECT_NE(done.find("\"stopped_early\":true"), std::string::npos) << done;
  const int64_t best = BestStep(done);
  ASSERT_GT(best, 0) << done;

  // The evaluations during training (one per epoch), from metrics.jsonl: the
  // chosen step has the lowest validation logloss, the job stopped two
  // evaluations after it, and the final valid metrics are the best step's.
  const std::string metrics = ReadFile(out + "/metrics.jsonl");
  std::regex decided("\"event\":\"early_stop\",\"step\":(\\d+),[^\\n]*\"value\":([-0-9.e]+)");
  std::vector<std::pair<int64_t, double>> evals;
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), decided), end; it != end; ++it) {
    evals.emplace_back(std::stoll((*it)[1]), std::stod((*it)[2]));
  }
  ASSERT_GE(evals.size(), 3u) << metrics;
  auto lowest = std::min_element(evals.begin(), evals.end(),
                                 [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_EQ(lowest->first, best) << metrics;
  EXPECT_EQ(evals[evals.size() - 3].first, best) << metrics;
  EXPECT_LT(evals.size(), 12u) << "it stopped before the last epoch";
  EXPECT_EQ(SplitMetric(done, "valid", "logloss"), lowest->second) << done;
  const std::string final_step = std::to_string(evals.back().first);
  EXPECT_NE(done.find("\"steps\":" + final_step + ","), std::string::npos) << done;

  // Best and latest kept, nothing else; LATEST is the last step (--resume).
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(out + "/checkpoints")) {
    files.insert(e.path().filename().string());
  }
  const std::string b = std::to_string(best);
  EXPECT_EQ(files, (std::set<std::string>{
                       "LATEST", "step-" + b, "step-" + final_step, "worker-state-" + b + ".bin",
                       "worker-state-" + final_step + ".bin", "early-stop-" + b + ".txt",
                       "early-stop-" + final_step + ".txt"}));
  EXPECT_EQ(ReadFile(out + "/checkpoints/LATEST").substr(0, 5 + final_step.size()),
            "step-" + final_step);

  // `metaps eval` of the best checkpoint scores exactly what training reported.
  Subprocess eval(Metaps(2, 1, "eval", {"--checkpoint", out + "/checkpoints", "--step", b}));
  ASSERT_EQ(eval.Wait(), 0) << eval.stderr_text();
  const std::string evaluated = eval.stdout_lines().back();
  for (const char* split : {"valid", "test"}) {
    for (const char* key : {"auc", "logloss", "accuracy", "count"}) {
      EXPECT_EQ(SplitMetric(evaluated, split, key), SplitMetric(done, split, key))
          << split << " " << key << "\n"
          << evaluated << "\n"
          << done;
    }
  }
  // ... and the latest differs: the job reported the best step, not the last.
  Subprocess last(Metaps(2, 1, "eval", {"--checkpoint", out + "/checkpoints"}));
  ASSERT_EQ(last.Wait(), 0) << last.stderr_text();
  EXPECT_NE(SplitMetric(last.stdout_lines().back(), "valid", "logloss"),
            SplitMetric(done, "valid", "logloss"));
}

// Paused by max_steps after the best step, then resumed: the same best step,
// stop and final metrics as a run that was never paused.
TEST_F(MpiEarlyStopTest, ResumeKeepsTheBestSoFar) {
  auto train = [&](const std::string& out, int64_t max_steps, bool resume) {
    std::vector<std::string> extra = {"--set", "output_dir=" + out,
                                      "--set", "training.epochs=6",
                                      "--set", "training.eval_every=20",
                                      "--set", "training.early_stop.metric=auc",
                                      "--set", "training.early_stop.patience=3",
                                      "--set", "training.log_every=0",
                                      "--set", "training.max_steps=" + std::to_string(max_steps)};
    if (resume) extra.push_back("--resume");
    Subprocess job(Metaps(1, 1, "train", extra));
    EXPECT_EQ(job.Wait(), 0) << job.stderr_text();
    return job.stdout_lines().empty() ? std::string() : job.stdout_lines().back();
  };
  const std::string whole = train(*dir_ + "/whole", 0, false);
  const int64_t best = BestStep(whole);
  ASSERT_GT(best, 0) << whole;
  ASSERT_NE(whole.find("\"stopped_early\":true"), std::string::npos) << whole;

  // Paused one evaluation after the best: not stopped, the best so far.
  const std::string paused = train(*dir_ + "/parts", best + 20, false);
  EXPECT_EQ(BestStep(paused), best) << paused;
  EXPECT_NE(paused.find("\"stopped_early\":false"), std::string::npos) << paused;
  const std::string resumed = train(*dir_ + "/parts", 0, true);
  EXPECT_EQ(BestStep(resumed), best) << resumed;
  EXPECT_NE(resumed.find("\"stopped_early\":true"), std::string::npos) << resumed;
  for (const char* split : {"valid", "test"}) {
    for (const char* key : {"auc", "logloss", "count"}) {
      EXPECT_EQ(SplitMetric(resumed, split, key), SplitMetric(whole, split, key))
          << split << " " << key;
      // The paused run reported the same best step's metrics.
      EXPECT_EQ(SplitMetric(paused, split, key), SplitMetric(whole, split, key))
          << split << " " << key;
    }
  }
  std::smatch w, r;
  ASSERT_TRUE(std::regex_search(whole, w, std::regex("\"steps\":(\\d+)")));
  ASSERT_TRUE(std::regex_search(resumed, r, std::regex("\"steps\":(\\d+)")));
  EXPECT_EQ(w[1], r[1]);

  // Resuming a job that already stopped trains nothing and reports the same.
  const std::string again = train(*dir_ + "/parts", 0, true);
  EXPECT_EQ(BestStep(again), best) << again;
  EXPECT_EQ(SplitMetric(again, "test", "auc"), SplitMetric(whole, "test", "auc"));
}

TEST_F(MpiEarlyStopTest, MissingOutputDirIsAUsageErrorNamingTheField) {
  Subprocess job(Metaps(1, 1, "train", {"--set", "training.early_stop.metric=auc"}));
  EXPECT_EQ(job.Wait(), 2);
  EXPECT_NE(job.stderr_text().find("output_dir: required by training.early_stop"),
            std::string::npos)
      << job.stderr_text();
}

}  // namespace
}  // namespace metaps
