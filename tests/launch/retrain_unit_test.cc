// The pieces of `metaps retrain` that need no cluster: the pipeline file, the
// state file, the partition scan, the gate, job output and the file helpers.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "launch/retrain.h"

namespace metaps {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string Scratch(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp ? tmp : "/tmp") + "/retrain_unit_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string SourceDir() {
  const char* s = std::getenv("METAPS_SOURCE_DIR");
  return s ? s : "";
}

config::Gate DefaultGate() {
  config::Gate g;
  g.set_split("test");
  g.set_min_eval_samples(100);
  g.set_min_train_samples(1);
  return g;
}

TEST(RetrainGateTest, DefaultBinaryRulesCompareAucAndLogloss) {
  const Json published = {{"count", 1000}, {"auc", 0.75}, {"logloss", 0.50}};
  Json candidate = {{"count", 1000}, {"auc", 0.749}, {"logloss", 0.505}};
  GateResult r = EvaluateGate(DefaultGate(), candidate, &published, 5000);
  EXPECT_TRUE(r.pass) << r.reason;  // 0.001 and 0.005 worse: within 0.002 and 0.01
  candidate["auc"] = 0.747;
  r = EvaluateGate(DefaultGate(), candidate, &published, 5000);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("auc 0.747 vs published 0.75"), std::string::npos) << r.reason;
  candidate["auc"] = 0.76;
  candidate["logloss"] = 0.52;
  r = EvaluateGate(DefaultGate(), candidate, &published, 5000);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("logloss"), std::string::npos) << r.reason;
}

TEST(RetrainGateTest, NotANumberTooFewExamplesAndFirstVersion) {
  const Json published = {{"count", 1000}, {"auc", 0.75}, {"logloss", 0.50}};
  Json nan = {{"count", 1000}, {"auc", nullptr}, {"logloss", 0.4}};  // NaN prints as null
  GateResult r = EvaluateGate(DefaultGate(), nan, &published, 5000);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("auc is not a number"), std::string::npos) << r.reason;

  const Json strange = {{"count", "many"}, {"auc", 0.8}, {"logloss", 0.4}};
  r = EvaluateGate(DefaultGate(), strange, &published, 5000);
  EXPECT_FALSE(r.pass);  // a count that is not a number: refused, no exception

  const Json few = {{"count", 99}, {"auc", 0.8}, {"logloss", 0.4}};
  r = EvaluateGate(DefaultGate(), few, &published, 5000);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("99 eval examples"), std::string::npos) << r.reason;

  const Json good = {{"count", 1000}, {"auc", 0.8}, {"logloss", 0.4}};
  r = EvaluateGate(DefaultGate(), good, &published, 0);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("0 training examples"), std::string::npos) << r.reason;

  // Nothing published: only the absolute checks.
  config::Gate g = DefaultGate();
  config::GateRule* floor = g.add_rule();
  floor->set_metric("auc");
  floor->set_min_value(0.85);
  r = EvaluateGate(g, good, nullptr, 5000);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("auc 0.8 below min_value 0.85"), std::string::npos) << r.reason;
  floor->set_min_value(0.7);
  r = EvaluateGate(g, good, nullptr, 5000);
  EXPECT_TRUE(r.pass) << r.reason;
  EXPECT_NE(r.reason.find("first version"), std::string::npos);
}

TEST(RetrainGateTest, LowerIsBetterAndMissingMetrics) {
  config::Gate g = DefaultGate();
  const Json published = {{"count", 500}, {"rmse", 0.90}, {"mae", 0.70}};
  Json candidate = {{"count", 500}, {"rmse", 0.905}, {"mae", 0.69}};
  EXPECT_TRUE(EvaluateGate(g, candidate, &published, 10).pass);  // default: rmse within 0.01
  candidate["rmse"] = 0.92;
  EXPECT_FALSE(EvaluateGate(g, candidate, &published, 10).pass);
  config::GateRule* rule = g.add_rule();
  rule->set_metric("ndcg@10");
  rule->set_max_regression(0.0);
  const GateResult r = EvaluateGate(g, candidate, &published, 10);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.reason.find("have no ndcg@10"), std::string::npos) << r.reason;
}

TEST(RetrainStateTest, RoundTripAndCorruption) {
  PipelineState s;
  s.next_run = 7;
  s.next_version = 3;
  s.consumed.push_back({"day=2026-01-01", "published", 1, 1});
  s.consumed.push_back({"day=2026-01-02", "refused", 2, 0});
  s.pending = PipelineState::Pending{6, {"day=2026-01-03"}, "/x/checkpoints", 1234};
  auto back = PipelineState::FromJson(s.ToJson().dump(), "state.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), s.ToJson());
  EXPECT_TRUE(back->IsConsumed("day=2026-01-02"));
  EXPECT_TRUE(back->IsConsumed("day=2026-01-03"));  // pending partitions count
  EXPECT_FALSE(back->IsConsumed("day=2026-01-04"));

  auto bad = PipelineState::FromJson("{\"format\":\"metaps-pipeline-state-1\"", "/s/state.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("/s/state.json"), std::string::npos);

  // Values of the wrong type are no crash: a malformed entry is refused, a
  // wrongly typed counter reads as 0.
  auto typed = PipelineState::FromJson(
      R"({"format":"metaps-pipeline-state-1","next_run":2,"next_version":1,)"
      R"("consumed":[{"partition":"day=1","decision":"published","run":"x","version":[1]}],)"
      R"("pending":{"run":{},"partitions":["day=2"],"checkpoint":"/c","train_samples":"many"}})",
      "state.json");
  ASSERT_TRUE(typed.ok()) << typed.status();
  EXPECT_EQ(typed->consumed[0].run, 0);
  EXPECT_EQ(typed->pending->train_samples, 0);
  EXPECT_FALSE(
      PipelineState::FromJson(
          R"({"format":"metaps-pipeline-state-1","next_run":"2","next_version":1,"consumed":[]})",
          "state.json")
          .ok());
  EXPECT_FALSE(PipelineState::FromJson(R"({"format":7})", "state.json").ok());
  EXPECT_FALSE(PipelineState::FromJson("[1,2]", "state.json").ok());

  const std::string dir = Scratch("state");
  auto fresh = ReadPipelineState(Env::Default(), dir + "/state.json");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->next_run, 1);
  ASSERT_TRUE(WritePipelineState(Env::Default(), dir + "/state.json", s).ok());
  auto read = ReadPipelineState(Env::Default(), dir + "/state.json");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->ToJson(), s.ToJson());
}

TEST(RetrainPartitionsTest, DirectoriesWithThePrefixInNameOrder) {
  const std::string dir = Scratch("partitions");
  for (const char* d : {"day=2026-01-10", "day=2026-01-02", "hour=2026-01-01-00", "day="}) {
    fs::create_directories(dir + "/" + d);
  }
  std::ofstream(dir + "/day=2026-01-03");  // a file, not a partition
  auto parts = ListPartitions(Env::Default(), dir, "day=");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(*parts, (std::vector<std::string>{"day=2026-01-02", "day=2026-01-10"}));
  EXPECT_FALSE(ListPartitions(Env::Default(), dir + "/missing", "day=").ok());
}

TEST(RetrainOutputTest, TheLastEventLine) {
  const std::string dir = Scratch("output");
  std::ofstream(dir + "/out.txt") << "{\"event\":\"done\",\"steps\":1}\nnoise\n"
                                  << "{\"event\":\"done\",\"steps\":2}\n{\"event\":\"x\"}\n";
  auto done = ReadEventLine(Env::Default(), dir + "/out.txt", "done");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ((*done)["steps"], 2);
  auto missing = ReadEventLine(Env::Default(), dir + "/out.txt", "export");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir + "/out.txt"), std::string::npos);
}

TEST(RetrainFilesTest, LinkTreeAndRemoveTree) {
  const std::string dir = Scratch("files");
  fs::create_directories(dir + "/a/step-3");
  std::ofstream(dir + "/a/LATEST") << "step-3";
  std::ofstream(dir + "/a/step-3/MANIFEST") << "m";
  ASSERT_TRUE(LinkTree(dir + "/a", dir + "/b").ok());
  std::ifstream in(dir + "/b/step-3/MANIFEST");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "m");
  struct stat st;
  ASSERT_EQ(stat((dir + "/b/LATEST").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);  // a hard link, not a copy
  ASSERT_TRUE(RemoveTree(dir + "/a").ok());
  EXPECT_FALSE(fs::exists(dir + "/a"));
  EXPECT_TRUE(fs::exists(dir + "/b/step-3/MANIFEST"));
  EXPECT_TRUE(RemoveTree(dir + "/never-there").ok());
  EXPECT_EQ(VersionName(12), "v000012");
}

TEST(RetrainPipelineFileTest, DefaultsPathsAndErrors) {
  if (SourceDir().empty()) GTEST_SKIP() << "run through ctest";
  const std::string dir = Scratch("pipeline");
  const std::string job = SourceDir() + "/launch/jobs/retrain_ctr.pbtxt";
  std::ofstream(dir + "/p.pbtxt") << "name: \"p\"\njob: \"" << job
                                  << "\"\ndata_root: \"data\"\nstate_dir: \"state\"\n"
                                  << "launcher: \"../bin/local.sh 1 2 --\"\n";
  auto p = LoadPipeline(dir + "/p.pbtxt", {"state_dir=/abs/state"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->data_root(), dir + "/data");  // relative to the file
  EXPECT_EQ(p->state_dir(), "/abs/state");
  EXPECT_EQ(p->launcher(), dir + "/../bin/local.sh 1 2 --");
  EXPECT_EQ(p->partition_prefix(), "day=");
  EXPECT_EQ(p->keep_versions(), 3);
  EXPECT_EQ(p->gate().split(), "test");
  EXPECT_EQ(p->gate().min_eval_samples(), 1000);

  std::ofstream(dir + "/bad.pbtxt")
      << "name: \"p\"\njob: \"" << job << "\"\nstate_dir: \"s\"\nkeep_versions: 0\n"
      << "gate { split: \"train\" }\n";
  auto bad = LoadPipeline(dir + "/bad.pbtxt", {});
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("bad.pbtxt (default value): data_root: is required"), std::string::npos) << m;
  EXPECT_NE(m.find("bad.pbtxt:4:1: keep_versions: must be at least 1"), std::string::npos) << m;
  EXPECT_NE(m.find("gate.split: 'train' is not one of test, valid"), std::string::npos) << m;

  std::ofstream(dir + "/metric.pbtxt")
      << "job: \"" << job << "\"\ndata_root: \"d\"\nstate_dir: \"s\"\n"
      << "gate { rule { metric: \"aucc\" } }\n";
  auto metric = LoadPipeline(dir + "/metric.pbtxt", {});
  ASSERT_FALSE(metric.ok());
  EXPECT_NE(metric.status().message().find("rule 1: unknown metric 'aucc'"), std::string::npos)
      << metric.status().message();

  std::ofstream(dir + "/typo.pbtxt") << "name: \"p\"\nstat_dir: \"s\"\n";
  auto typo = LoadPipeline(dir + "/typo.pbtxt", {});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("typo.pbtxt:2:"), std::string::npos)
      << typo.status().message();

  // The job must load with the pipeline's overrides.
  auto job_error = LoadPipeline(dir + "/p.pbtxt", {"set=training.epochs=0"});
  ASSERT_FALSE(job_error.ok());
  EXPECT_NE(job_error.status().message().find("training.epochs"), std::string::npos)
      << job_error.status().message();
  EXPECT_FALSE(LoadPipeline(dir + "/none.pbtxt", {}).ok());
}

}  // namespace
}  // namespace metaps
