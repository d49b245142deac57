// TrainJob's eval merge and JSON: partials from two workers give exactly the
// metrics of one, per-scenario and GAUC figures appear, numbers are exact.
#include "scheduler/train_job.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "common/control.h"
#include "common/metrics.h"

namespace metaps {
namespace {

TrainReport Report(const std::string& model) {
  TrainReport r;
  r.model = model;
  return r;
}

TEST(JsonNumberTest, IntegersExactAndDoublesRoundTrip) {
  EXPECT_EQ(JsonText(JsonCount(1998650.0)), "1998650");
  EXPECT_EQ(JsonText(JsonCount(9007199254740991.0)), "9007199254740991");
  EXPECT_EQ(JsonText(uint64_t{18446744073709551615u}), "18446744073709551615");
  EXPECT_EQ(JsonText(1998650.0), "1998650.0");
  EXPECT_EQ(JsonText(0.1), "0.1");
  EXPECT_EQ(JsonText(0.5), "0.5");
  EXPECT_EQ(JsonText(1e-9), "1e-09");
  EXPECT_EQ(JsonText(NAN), "null");
  EXPECT_EQ(JsonText(-INFINITY), "null");
  EXPECT_EQ(JsonText(JsonCount(2.5)), "2.5");
  EXPECT_EQ(JsonText(JsonRounded(12.345678, 3)), "12.346");
  EXPECT_EQ(JsonText(JsonRounded(1234567.8, 0)), "1234568");
  EXPECT_EQ(JsonText(JsonRounded(NAN, 1)), "null");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const double v =
        std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 80) - 90);
    EXPECT_EQ(std::strtod(JsonText(v).c_str(), nullptr), v);
  }
}

TEST(JsonNumberTest, KeysKeepTheirOrderAndBadUtf8IsReplaced) {
  const OrderedJson line = {{"event", "done"}, {"b", 1}, {"a", "x\"y"}};
  EXPECT_EQ(JsonText(line), "{\"event\":\"done\",\"b\":1,\"a\":\"x\\\"y\"}");
  EXPECT_EQ(JsonText(std::string("a\xff")), "\"a\xef\xbf\xbd\"");
}

struct Partial {
  ScenarioMetricsAccumulator scenarios{true};
  GaucAccumulator gauc;
};

GatherEntry Entry(int rank, const Partial& p) {
  GatherEntry e;
  e.rank = rank;
  e.request.header.mutable_control()->set_payload(EncodeEvalPartial(true));
  const auto overall = p.scenarios.MergedBinary().Serialize();
  const auto scenarios = p.scenarios.Serialize(true);
  const auto gauc = p.gauc.Serialize();
  e.request.AddCopy(overall.data(), overall.size());
  e.request.AddCopy(scenarios.data(), scenarios.size());
  e.request.AddCopy(gauc.data(), gauc.size());
  return e;
}

class TrainJobTest : public ::testing::Test {
 protected:
  TrainJobTest() {
    view_.layout = ClusterLayout::Make(4, 1).value();  // scheduler, 1 server, 2 workers
  }
  // Workers' partials, from ranks 2, 3, ...
  std::map<std::string, double> Eval(TrainJob* job, std::vector<const Partial*> parts) {
    std::vector<GatherEntry> entries;
    for (size_t i = 0; i < parts.size(); ++i) {
      entries.push_back(Entry(2 + static_cast<int>(i), *parts[i]));
    }
    wire::Control reply;
    const Status s = job->OnGather("eval/valid/7", entries, &reply);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(job->LastEvalStep("valid"), 7);
    return *job->LastMetrics("valid");
  }
  ClusterView view_;
};

TEST_F(TrainJobTest, TwoWorkersPartialsMergeToOneWorkersMetrics) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> unit(0, 1);
  Partial whole, halves[2];
  for (int i = 0; i < 3000; ++i) {
    const uint32_t scenario = rng() % 2;
    const uint64_t user = 1 + rng() % 40;
    const float score = std::round(unit(rng) * 100) / 100;
    const float label = unit(rng) < score ? 1.0f : 0.0f;
    for (Partial* p : {&whole, &halves[i % 2]}) {
      p->scenarios.AddBatch(&scenario, &score, &label, 1);
      p->gauc.Add(user, score, label);
    }
  }
  TrainJob one(view_, Report("deepfm")), two(view_, Report("deepfm"));
  const auto a = Eval(&one, {&whole});
  const auto b = Eval(&two, {&halves[0], &halves[1]});
  EXPECT_EQ(a, b);  // every number, bit for bit
  for (const char* key : {"auc", "logloss", "gauc", "gauc_users", "per_scenario/0/auc",
                          "per_scenario/1/auc", "per_scenario/1/count"}) {
    EXPECT_EQ(a.count(key), 1u) << key;
  }
  EXPECT_EQ(a.at("count"), 3000);
  EXPECT_EQ(a.at("per_scenario/0/count") + a.at("per_scenario/1/count"), 3000);
  EXPECT_EQ(a.at("gauc_users"), 40);
}

TEST_F(TrainJobTest, OneScenarioIsNotSplitOutUnlessMultiScenario) {
  Partial p;
  const uint32_t scenario = 0;
  const float scores[2] = {0.2f, 0.8f}, labels[2] = {0, 1};
  for (int i = 0; i < 2; ++i) p.scenarios.AddBatch(&scenario, &scores[i], &labels[i], 1);
  TrainJob plain(view_, Report("deepfm"));
  EXPECT_EQ(Eval(&plain, {&p}).count("per_scenario/0/auc"), 0u);
  TrainJob multi(view_, Report("multi_scenario"));
  const auto m = Eval(&multi, {&p});
  EXPECT_EQ(m.at("per_scenario/0/auc"), 1.0);
  EXPECT_EQ(m.count("gauc"), 0u);  // no known user
}

TEST_F(TrainJobTest, DoneLinePrintsCountsAsIntegers) {
  TrainJob job(view_, Report("mf"));
  std::vector<GatherEntry> entries(2);
  for (int w = 0; w < 2; ++w) {
    entries[w].rank = 2 + w;
    control::Done done;
    done.set_steps(7808);
    done.set_samples(1998650);
    done.set_loss(0.75);
    done.set_seconds(12.5 + w);
    done.set_push_s(4 + w);
    done.set_run_samples(1998650);
    entries[w].request.header.mutable_control()->set_payload(EncodeDone(done));
  }
  wire::Control reply;
  ::testing::internal::CaptureStdout();
  ASSERT_TRUE(job.OnGather("train/done", entries, &reply).ok());
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("\"steps\":7808,\"samples\":1998650,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"train_loss\":0.75"), std::string::npos) << out;
  // The slowest worker's seconds.
  EXPECT_NE(out.find("\"seconds\":13.5"), std::string::npos) << out;
  EXPECT_NE(out.find("\"push\":5"), std::string::npos) << out;
  // A report that is not a Done, or has a negative count, is refused.
  entries[1].request.header.mutable_control()->set_payload("7808 1998650 0.75");
  EXPECT_EQ(job.OnGather("train/done", entries, &reply).code(), StatusCode::kProtocolError);
  control::Done negative;
  negative.set_samples(-1);
  entries[1].request.header.mutable_control()->set_payload(EncodeDone(negative));
  const Status s = job.OnGather("train/done", entries, &reply);
  EXPECT_NE(s.message().find("train/done from rank 3: Done.samples -1"), std::string::npos) << s;
}

TEST_F(TrainJobTest, UnknownEvalFrameIsAProtocolError) {
  Partial p;
  GatherEntry e = Entry(2, p);
  const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  e.request.AddCopy(junk, sizeof(junk));
  std::vector<GatherEntry> entries;
  entries.push_back(std::move(e));
  TrainJob job(view_, Report("deepfm"));
  wire::Control reply;
  EXPECT_EQ(job.OnGather("eval/valid/1", entries, &reply).code(), StatusCode::kProtocolError);
}

// The accumulator kind is a typed EvalPartial, the same from every worker.
TEST_F(TrainJobTest, EvalPartialKindIsTypedAndAgreed) {
  Partial p;
  TrainJob job(view_, Report("deepfm"));
  wire::Control reply;
  std::vector<GatherEntry> entries;
  entries.push_back(Entry(2, p));
  entries.push_back(Entry(3, p));
  entries[1].request.header.mutable_control()->set_payload(EncodeEvalPartial(false));
  Status s = job.OnGather("eval/valid/1", entries, &reply);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("rank 3 sent regression eval partials"), std::string::npos) << s;
  entries[1].request.header.mutable_control()->clear_payload();
  entries[1].request.header.mutable_control()->set_text("binary");  // the old text marker
  s = job.OnGather("eval/valid/1", entries, &reply);
  EXPECT_NE(s.message().find("not a EvalPartial payload"), std::string::npos) << s;
  EXPECT_EQ(job.LastEvalStep("valid"), -1);
}

// Numbers in gather names and texts come from peers: anything but a step is a
// protocol error (it used to reach std::stoll, whose exception aborted the
// scheduler).
TEST_F(TrainJobTest, MalformedStepsArePeerErrorsNotCrashes) {
  TrainJob job(view_, Report("deepfm"));
  wire::Control reply;
  std::vector<GatherEntry> none;
  for (const char* name : {"eval/valid/x7", "eval/valid/", "eval/valid", "eval/valid/-3",
                           "eval/valid/99999999999999999999"}) {
    Partial p;
    std::vector<GatherEntry> entries;
    entries.push_back(Entry(2, p));
    EXPECT_EQ(job.OnGather(name, entries, &reply).code(), StatusCode::kProtocolError) << name;
  }
  // ps/resume carries each server's typed Restored step; text is not parsed.
  std::vector<GatherEntry> resume(2);
  resume[0].rank = 1;  // the server
  resume[0].request.header.mutable_control()->set_payload("twelve");
  resume[1].rank = 2;
  EXPECT_EQ(job.OnGather("ps/resume", resume, &reply).code(), StatusCode::kProtocolError);
  resume[0].request.header.mutable_control()->set_payload(EncodeRestored(12));
  ASSERT_TRUE(job.OnGather("ps/resume", resume, &reply).ok());
  EXPECT_EQ(reply.value(), 12);
}

// ps/sync passes the workers' ServerSync to everyone, after checking it and
// that every worker said the same.
TEST_F(TrainJobTest, ServerSyncIsCheckedAndTheSameFromEveryWorker) {
  TrainJob job(view_, Report("deepfm"));
  std::vector<GatherEntry> entries(3);
  entries[0].rank = 1;  // the server says nothing
  for (int w : {1, 2}) {
    entries[w].rank = 1 + w;
    entries[w].request.header.mutable_control()->set_payload(
        EncodeServerSync(control::ServerSync::CHECKPOINT, 40));
  }
  wire::Control reply;
  ASSERT_TRUE(job.OnGather("ps/sync/3", entries, &reply).ok());
  auto sync = DecodeServerSync(reply.payload(), "reply");
  ASSERT_TRUE(sync.ok()) << sync.status();
  EXPECT_EQ(sync->action(), control::ServerSync::CHECKPOINT);
  EXPECT_EQ(sync->step(), 40);
  entries[2].request.header.mutable_control()->set_payload(
      EncodeServerSync(control::ServerSync::END, 40));
  wire::Control differ;
  const Status s = job.OnGather("ps/sync/4", entries, &differ);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("ps/sync/4 from rank 3: ServerSync differs"), std::string::npos) << s;
}

TEST(ControlCodecTest, EveryFieldIsChecked) {
  EXPECT_EQ(DecodeServerSync("", "ps/sync/0").status().message(),
            "ps/sync/0: not a ServerSync payload (0 bytes)");
  EXPECT_EQ(DecodeServerSync("\xff\xff\xff", "x").status().code(), StatusCode::kProtocolError);
  control::ServerSync m;
  m.set_version(kControlVersion + 1);
  m.set_action(control::ServerSync::END);
  EXPECT_NE(DecodeServerSync(m.SerializeAsString(), "x")
                .status()
                .message()
                .find("ServerSync.version 2, this build speaks 1"),
            std::string::npos);
  m.set_version(kControlVersion);
  m.set_action(control::ServerSync::ACTION_UNSPECIFIED);
  m.set_step(3);
  EXPECT_NE(DecodeServerSync(m.SerializeAsString(), "x")
                .status()
                .message()
                .find("ServerSync.action 0 is not an action"),
            std::string::npos);
  m.set_action(static_cast<control::ServerSync::Action>(99));
  EXPECT_EQ(DecodeServerSync(m.SerializeAsString(), "x").status().code(),
            StatusCode::kProtocolError);
  m.set_action(control::ServerSync::RESTORE);
  m.set_step(-1);
  EXPECT_NE(DecodeServerSync(m.SerializeAsString(), "x")
                .status()
                .message()
                .find("ServerSync.step -1 is negative"),
            std::string::npos);
  auto ok = DecodeServerSync(EncodeServerSync(control::ServerSync::RESTORE, 7), "x");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->step(), 7);
  EXPECT_EQ(DecodeRestored(EncodeRestored(0), "x").value(), 0);
  EXPECT_EQ(DecodeRestored("", "ps/resume").status().code(), StatusCode::kProtocolError);
}

TEST(ControlCodecTest, EarlyStopMessagesRoundTripAndAreChecked) {
  EarlyStopState state;
  state.best_step = 939;
  state.best_epoch = 3;
  state.best_value = 0.4587;
  state.last_step = 1252;
  state.bad_evals = 1;
  auto answer = DecodeEarlyStopAnswer(EncodeEarlyStopAnswer(EarlyStopper::Decision::kStop, state),
                                      "early/1252 reply");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->first, EarlyStopper::Decision::kStop);
  EXPECT_EQ(answer->second.Serialize(), state.Serialize());
  control::EarlyStopAnswer bad;
  bad.set_version(kControlVersion);
  bad.set_decision(control::EarlyStopAnswer::IMPROVED);
  bad.mutable_state()->set_bad_evals(-2);
  EXPECT_NE(
      DecodeEarlyStopAnswer(bad.SerializeAsString(), "x").status().message().find("negative count"),
      std::string::npos);
  EXPECT_EQ(DecodeEarlyStopReport(EncodeEarlyStopReport(4), "x").value(), 4);
  EXPECT_EQ(DecodeEarlyStopReport(EncodeEarlyStopReport(-1), "x").status().code(),
            StatusCode::kProtocolError);
  auto none = DecodeEarlyStopResume(EncodeEarlyStopResume("auc", nullptr), "x");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_state);
  EXPECT_EQ(none->metric, "auc");
  auto saved = DecodeEarlyStopResume(EncodeEarlyStopResume("logloss", &state), "x");
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->has_state);
  EXPECT_EQ(saved->state.best_step, 939);
}

}  // namespace
}  // namespace metaps
