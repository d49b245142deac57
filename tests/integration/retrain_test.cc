// Integration: `metaps retrain` runs a daily pipeline whose jobs are real
// mpirun clusters (launch/local.sh 1 1). Days come from `metaps datagen
// --days --drift`; a partition becomes visible by linking it into the
// pipeline's data root, as a daily export job would drop it there.
//  - three drifting days publish three versions, CURRENT follows, and each
//    published model equals a direct `metaps export` of its checkpoint;
//  - a day with inverted training labels is refused by the gate: exit 3,
//    CURRENT stays, and the next clean day trains from the published model;
//  - a run killed mid-train, after a partition's checkpoint, or mid-publish,
//    then rerun, consumes every partition exactly once and publishes the very
//    model an uninterrupted pipeline publishes;
//  - a second run while one holds the lock exits 4 at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

namespace fs = std::filesystem;
using metaps::testing::Env;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;
using Json = nlohmann::json;

constexpr int kDays = 4;

class RetrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Env("METAPS_BIN").empty()) return;
    dir_ = new std::string(::testing::TempDir() + "/metaps_retrain_" + std::to_string(getpid()));
    Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "ctr", "--days", std::to_string(kDays),
                    "--drift", "0.1", "--rows", "20000", "--seed", "3", "--out", *dir_ + "/days"});
    ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
  }
  static void TearDownTestSuite() {
    if (dir_ == nullptr) return;
    if (!::testing::UnitTest::GetInstance()->Failed()) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
      GTEST_SKIP() << "run through ctest";
    }
  }

  static std::string Day(int i) { return "day=2026-01-0" + std::to_string(i + 1); }

  // A pipeline named `name` with its own data root and state directory.
  std::string MakePipeline(const std::string& name, const std::string& launcher = "") {
    const std::string root = *dir_ + "/" + name;
    fs::create_directories(root + "/data");
    std::ofstream(root + "/pipeline.pbtxt")
        << "name: \"" << name << "\"\n"
        << "job: \"" << Env("METAPS_SOURCE_DIR") << "/launch/jobs/retrain_ctr.pbtxt\"\n"
        << "set: \"training.log_every=0\"\n"
        << "data_root: \"data\"\nstate_dir: \"state\"\n"
        << "launcher: \""
        << (launcher.empty() ? Env("METAPS_SOURCE_DIR") + "/launch/local.sh 1 1 --" : launcher)
        << "\"\nkeep_versions: 2\n"
        << "gate { rule { metric: \"auc\" max_regression: 0.01 } min_eval_samples: 1000 }\n";
    return root;
  }
  // Makes day i visible to the pipeline at `root`; `partition` replaces the
  // generated directory (a corrupted copy).
  static void Drop(const std::string& root, int i, const std::string& partition = "") {
    fs::create_directory_symlink(partition.empty() ? *dir_ + "/days/" + Day(i) : partition,
                                 root + "/data/" + Day(i));
  }
  std::vector<std::string> Retrain(const std::string& root) {
    return {Env("METAPS_BIN"), "retrain", "--pipeline", root + "/pipeline.pbtxt"};
  }
  // Runs the pipeline once; returns the exit code and its {"event":"retrain"} line.
  int RunOnce(const std::string& root, Json* line = nullptr,
              std::vector<std::pair<std::string, std::string>> env = {}) {
    std::vector<std::string> argv;
    if (!env.empty()) argv.push_back("env");
    for (auto& [k, v] : env) argv.push_back(k + "=" + v);
    for (const std::string& a : Retrain(root)) argv.push_back(a);
    Subprocess run(argv);
    const int code = run.Wait();
    if (line != nullptr) {
      *line = Json();
      for (const std::string& l : run.stdout_lines()) {
        Json j = Json::parse(l, nullptr, false);
        if (j.is_object() && j.value("event", "") == "retrain") *line = j;
      }
      EXPECT_TRUE(line->is_object()) << run.stderr_text();
    }
    last_stderr_ = run.stderr_text();
    return code;
  }
  static std::string Current(const std::string& root) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(root + "/state/CURRENT", ec);
    return ec ? "" : target.string();
  }
  // Every file of the published model, by name.
  static std::map<std::string, std::string> ModelFiles(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      files[e.path().filename().string()] = ReadFile(e.path().string());
    }
    return files;
  }
  static Json State(const std::string& root) {
    return Json::parse(ReadFile(root + "/state/state.json"), nullptr, false);
  }
  // partition -> how many times state.json lists it as consumed.
  static std::map<std::string, int> Consumed(const std::string& root) {
    std::map<std::string, int> n;
    const Json state = State(root);
    for (const Json& c : state["consumed"]) ++n[c["partition"].get<std::string>()];
    return n;
  }

  static inline std::string* dir_ = nullptr;
  std::string last_stderr_;
};

TEST_F(RetrainTest, DriftingDaysPublishVersionsAndCurrentFollows) {
  const std::string root = MakePipeline("daily");
  Json line;
  for (int day = 0; day < 3; ++day) {
    Drop(root, day);
    ASSERT_EQ(RunOnce(root, &line), 0) << last_stderr_;
    EXPECT_EQ(line["decision"], "published") << line.dump();
    EXPECT_EQ(line["version"], day + 1);
    EXPECT_EQ(line["partitions"], Json::array({Day(day)}));
    EXPECT_EQ(Current(root), "versions/v00000" + std::to_string(day + 1));
    // After the first version the candidate warm-starts from the published
    // model and both are scored on the new day's test split.
    if (day == 0) {
      EXPECT_TRUE(line["published"].is_null());
      EXPECT_TRUE(line["warm_start"].is_null());
    } else {
      EXPECT_EQ(line["published_before"], day);
      EXPECT_TRUE(line["published"]["auc"].is_number()) << line.dump();
      EXPECT_NE(line["warm_start"].get<std::string>().find("versions/v00000" + std::to_string(day)),
                std::string::npos);
    }
    EXPECT_EQ(line["candidate"]["count"], 2000);
  }
  // Nothing new: exit 0, nothing changes.
  ASSERT_EQ(RunOnce(root, &line), 0);
  EXPECT_EQ(line["decision"], "up_to_date");
  EXPECT_EQ(Current(root), "versions/v000003");
  // keep_versions 2: v000001 is gone.
  EXPECT_FALSE(fs::exists(root + "/state/versions/v000001"));
  EXPECT_TRUE(fs::exists(root + "/state/versions/v000002"));
  // One history line a run.
  std::ifstream history(root + "/state/history.jsonl");
  int lines = 0;
  for (std::string l; std::getline(history, l);) ++lines;
  EXPECT_EQ(lines, 4);

  // The published model is the export of its checkpoint, byte for byte.
  Subprocess exported({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "1", "--", "export",
                       "--config", Env("METAPS_SOURCE_DIR") + "/launch/jobs/retrain_ctr.pbtxt",
                       "--checkpoint", root + "/state/CURRENT/checkpoints", "--out",
                       root + "/direct-export"});
  ASSERT_EQ(exported.Wait(), 0) << exported.stderr_text();
  const auto published = ModelFiles(root + "/state/CURRENT/model");
  EXPECT_EQ(published, ModelFiles(root + "/direct-export"));
  EXPECT_TRUE(published.count("dense.bin") && published.count("server-0.emb"));
}

TEST_F(RetrainTest, CorruptedLabelsAreRefusedAndCurrentStays) {
  const std::string root = MakePipeline("gate");
  Drop(root, 0);
  ASSERT_EQ(RunOnce(root), 0) << last_stderr_;
  // Day 2 with every training label inverted; its test split is clean.
  const std::string bad = *dir_ + "/bad-" + Day(1);
  fs::create_directories(bad);
  for (const char* f : {"valid.txt", "test.txt"}) {
    fs::copy_file(*dir_ + "/days/" + Day(1) + "/" + f, bad + "/" + f);
  }
  {
    std::ifstream in(*dir_ + "/days/" + Day(1) + "/train.txt");
    std::ofstream out(bad + "/train.txt");
    for (std::string l; std::getline(in, l);) {
      l[0] = l[0] == '1' ? '0' : '1';
      out << l << "\n";
    }
  }
  Drop(root, 1, bad);
  Json line;
  EXPECT_EQ(RunOnce(root, &line), 3) << last_stderr_;
  EXPECT_EQ(line["decision"], "refused");
  EXPECT_NE(line["reason"].get<std::string>().find("auc"), std::string::npos) << line.dump();
  EXPECT_LT(line["candidate"]["auc"].get<double>(), line["published"]["auc"].get<double>() - 0.01);
  EXPECT_EQ(Current(root), "versions/v000001");
  EXPECT_FALSE(fs::exists(root + "/state/versions/v000002"));
  // The bad day is judged (not trained on again); the next clean day trains
  // from the still-published version 1 and is published as version 2.
  EXPECT_EQ(State(root)["consumed"][1]["decision"], "refused");
  Drop(root, 2);
  ASSERT_EQ(RunOnce(root, &line), 0) << last_stderr_;
  EXPECT_EQ(line["partitions"], Json::array({Day(2)}));
  EXPECT_NE(line["warm_start"].get<std::string>().find("versions/v000001"), std::string::npos);
  EXPECT_EQ(Current(root), "versions/v000002");
}

// The same days through three pipelines: uninterrupted, and killed at three
// points; every partition is consumed once and the final models are equal.
TEST_F(RetrainTest, KilledRunsConsumeEachPartitionOnceAndLoseNone) {
  const std::string reference = MakePipeline("reference");
  Drop(reference, 0);
  ASSERT_EQ(RunOnce(reference), 0) << last_stderr_;
  for (int day = 1; day < kDays; ++day) Drop(reference, day);
  ASSERT_EQ(RunOnce(reference), 0) << last_stderr_;
  const auto want = ModelFiles(reference + "/state/CURRENT/model");

  for (const std::string point : {"mid_train", "after_train", "before_current"}) {
    SCOPED_TRACE(point);
    const std::string root = MakePipeline("killed-" + point);
    Drop(root, 0);
    ASSERT_EQ(RunOnce(root), 0) << last_stderr_;
    for (int day = 1; day < kDays; ++day) Drop(root, day);
    if (point == "mid_train") {
      // Killed, with every process of the run, while day 3's train job runs.
      Subprocess run(Retrain(root));
      ASSERT_TRUE(run.WaitForStderr("running .* train .*" + Day(2)));
      kill(-run.pid(), SIGKILL);
      run.Wait();
    } else {
      // Killed at a named point (METAPS_RETRAIN_CRASH_AT): after day 2's
      // checkpoint is recorded, or with versions/v2 complete but CURRENT not moved.
      EXPECT_EQ(RunOnce(root, nullptr, {{"METAPS_RETRAIN_CRASH_AT", point}}), 128 + SIGKILL)
          << last_stderr_;
    }
    EXPECT_EQ(Current(root), "versions/v000001");
    Json line;
    ASSERT_EQ(RunOnce(root, &line), 0) << last_stderr_;
    if (point != "before_current") {
      EXPECT_EQ(line["decision"], "published");
      EXPECT_FALSE(line["resumed_candidate"].empty()) << line.dump();
    }
    EXPECT_EQ(Current(root), "versions/v000002");
    const auto consumed = Consumed(root);
    EXPECT_EQ(consumed.size(), static_cast<size_t>(kDays));
    for (const auto& [partition, times] : consumed) EXPECT_EQ(times, 1) << partition;
    EXPECT_TRUE(State(root)["pending"].is_null());
    EXPECT_EQ(ModelFiles(root + "/state/CURRENT/model"), want)
        << "the published model differs from the uninterrupted pipeline's";
  }
}

TEST_F(RetrainTest, ASecondRunIsRefusedByTheLock) {
  // The first run's first job (its train) waits on a FIFO, holding the run
  // in progress until the test lets it go.
  const std::string fifo = *dir_ + "/hold.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string wrapper = *dir_ + "/hold.sh";
  std::ofstream(wrapper) << "#!/bin/sh\nif [ ! -e '" << fifo << ".done' ]; then\n  touch '" << fifo
                         << ".done'\n  read go < '" << fifo << "'\nfi\nexec \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const std::string root =
      MakePipeline("locked", wrapper + " " + Env("METAPS_SOURCE_DIR") + "/launch/local.sh 1 1 --");
  Drop(root, 0);
  Subprocess first(Retrain(root));
  ASSERT_TRUE(first.WaitForStderr("running .* train"));
  Subprocess second(Retrain(root));
  EXPECT_EQ(second.Wait(), 4);
  EXPECT_NE(second.stderr_text().find("holds the lock"), std::string::npos) << second.stderr_text();
  EXPECT_NE(second.stderr_text().find("pid " + std::to_string(first.pid())), std::string::npos)
      << second.stderr_text();
  std::ofstream(fifo) << "go\n";  // let the first run go on
  EXPECT_EQ(first.Wait(), 0) << first.stderr_text();
  EXPECT_EQ(Current(root), "versions/v000001");
}

// train --init-from: the weights (tables with optimizer state, dense) carry
// over exactly, the data starts from its first epoch, the step count goes on.
TEST_F(RetrainTest, WarmStartCarriesTheWeightsAndTrainsTheNewData) {
  const std::string root = *dir_ + "/warm";
  const std::string job = Env("METAPS_SOURCE_DIR") + "/launch/jobs/retrain_ctr.pbtxt";
  auto train = [&](const std::string& out, int day, std::vector<std::string> extra) {
    std::vector<std::string> argv = {Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
                                     "1",
                                     "1",
                                     "--",
                                     "train",
                                     "--config",
                                     job,
                                     "--data",
                                     *dir_ + "/days/" + Day(day),
                                     "--set",
                                     "output_dir=" + out,
                                     "--set",
                                     "training.log_every=0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  };
  auto export_to = [&](const std::string& checkpoint, const std::string& out) {
    Subprocess e({Env("METAPS_BIN"), "export", "--servers", "1", "--workers", "1", "--config", job,
                  "--checkpoint", checkpoint, "--out", out});
    EXPECT_EQ(e.Wait(), 0) << e.stderr_text();
    return ModelFiles(out);
  };
  Subprocess a(train(root + "/a", 0, {}));
  ASSERT_EQ(a.Wait(), 0) << a.stderr_text();
  const std::string a_done = a.stdout_lines().back();
  const long steps = metaps::testing::JsonInt(a_done, "steps");
  ASSERT_GT(steps, 10) << a_done;

  // Started from A and stopped at once (max_steps counts the model's steps):
  // its checkpoint exports exactly A's model.
  Subprocess b(train(root + "/b", 1,
                     {"--init-from", root + "/a/checkpoints", "--set",
                      "training.max_steps=" + std::to_string(steps)}));
  ASSERT_EQ(b.Wait(), 0) << b.stderr_text();
  EXPECT_EQ(metaps::testing::JsonInt(b.stdout_lines().back(), "steps"), steps);
  EXPECT_TRUE(fs::exists(root + "/b/checkpoints/step-" + std::to_string(steps)));
  EXPECT_EQ(export_to(root + "/b/checkpoints", root + "/b-export"),
            export_to(root + "/a/checkpoints", root + "/a-export"));

  // Trained on day 2 from A: a full epoch of the new day, and better on day 2
  // than A and than a cold start on day 2 alone.
  Subprocess c(train(root + "/c", 1, {"--init-from", root + "/a/checkpoints"}));
  ASSERT_EQ(c.Wait(), 0) << c.stderr_text();
  const std::string c_done = c.stdout_lines().back();
  EXPECT_EQ(metaps::testing::JsonInt(c_done, "steps"), 2 * steps) << c_done;
  EXPECT_EQ(metaps::testing::JsonInt(c_done, "samples"), 16000) << c_done;
  Subprocess cold(train(root + "/cold", 1, {}));
  ASSERT_EQ(cold.Wait(), 0) << cold.stderr_text();
  EXPECT_GT(metaps::testing::SplitMetric(c_done, "test", "auc"),
            metaps::testing::SplitMetric(cold.stdout_lines().back(), "test", "auc"));

  // Usage errors, before any rank starts.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--init-from", root + "/a/checkpoints", "--resume"},
           {"--init-step", "3"},
           {"--init-from", root + "/nowhere"},
           {"--init-from", root + "/a/checkpoints", "--init-step", "7"}}) {
    Subprocess bad(train(root + "/bad", 1, extra));
    EXPECT_EQ(bad.Wait(), 2) << extra[0] << " " << extra.back();
    if (extra.back() == "7") {
      EXPECT_NE(bad.stderr_text().find("no step 7 checkpoint there"), std::string::npos)
          << bad.stderr_text();
    }
  }
}

}  // namespace
}  // namespace metaps
