// The typed reports of `ping` and `bench-ps`: a well-formed round is merged and
// printed; a report that does not parse, names a rank that is not a server or
// carries a negative amount is a ProtocolError naming the sender, never a
// crash or a figure made of garbage.
#include <gtest/gtest.h>

#include <cmath>

#include "common/control.h"
#include "scheduler/bench_ps_job.h"
#include "scheduler/ping_job.h"

namespace metaps {
namespace {

class ReportJobsTest : public ::testing::Test {
 protected:
  ReportJobsTest() {
    view_.layout = ClusterLayout::Make(5, 2).value();  // scheduler, servers 1-2, workers 3-4
  }
  // A worker's ping round against both servers.
  static control::PingReport GoodPing() {
    control::PingReport r;
    r.set_bandwidth_s(0.5);
    for (double rtt : {40.0, 50.0, 60.0}) r.add_rtt_us(rtt);
    for (int server : {1, 2}) {
      auto* p = r.add_pairs();
      p->set_server_rank(server);
      p->set_answered(true);
      p->set_bytes(1 << 20);
      p->set_seconds(0.25);
    }
    return r;
  }
  static GatherEntry Entry(int rank, const std::string& frame) {
    GatherEntry e;
    e.rank = rank;
    e.request.AddCopy(frame.data(), frame.size());
    return e;
  }
  std::vector<GatherEntry> Pings(const control::PingReport& worker4) {
    std::vector<GatherEntry> entries;
    entries.push_back(Entry(3, EncodePingReport(GoodPing())));
    entries.push_back(Entry(4, EncodePingReport(worker4)));
    return entries;
  }
  ClusterView view_;
};

TEST_F(ReportJobsTest, PingRoundsAreCheckedFieldByField) {
  PingJob job(view_, PingJobOptions{2, false});
  wire::Control reply;
  auto good = Pings(GoodPing());
  ASSERT_TRUE(job.OnGather("ping/1", good, &reply).ok());
  EXPECT_EQ(reply.value(), 1);  // a second round follows
  EXPECT_EQ(job.rounds(), 1);
  EXPECT_TRUE(job.all_answered());

  control::PingReport client = GoodPing();
  client.mutable_pairs(1)->set_server_rank(3);  // a worker, not a server
  auto entries = Pings(client);
  Status s = job.OnGather("ping/2", entries, &reply);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("server_rank 3 is not a server"), std::string::npos) << s;

  client = GoodPing();
  client.mutable_pairs(1)->set_server_rank(1);  // the same server twice
  entries = Pings(client);
  EXPECT_EQ(job.OnGather("ping/2", entries, &reply).code(), StatusCode::kProtocolError);

  client = GoodPing();
  client.mutable_pairs(0)->set_server_rank(1 << 30);  // out of the world
  entries = Pings(client);
  EXPECT_EQ(job.OnGather("ping/2", entries, &reply).code(), StatusCode::kProtocolError);

  client = GoodPing();
  client.add_rtt_us(-1);
  entries = Pings(client);
  s = job.OnGather("ping/2", entries, &reply);
  EXPECT_NE(s.message().find("PingReport.rtt_us"), std::string::npos) << s;

  client = GoodPing();
  client.mutable_pairs(0)->set_bytes(NAN);
  entries = Pings(client);
  EXPECT_EQ(job.OnGather("ping/2", entries, &reply).code(), StatusCode::kProtocolError);

  entries = Pings(GoodPing());
  entries[1].request.frames.clear();
  entries[1].request.AddCopy("\x01\x02\x03", 3);  // not a PingReport
  s = job.OnGather("ping/2", entries, &reply);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("not a PingReport payload"), std::string::npos) << s;

  entries = Pings(GoodPing());
  entries[1].request.AddCopy("x", 1);  // a second frame
  EXPECT_EQ(job.OnGather("ping/2", entries, &reply).code(), StatusCode::kProtocolError);
  EXPECT_EQ(job.rounds(), 1);  // none of the malformed rounds counted
}

TEST_F(ReportJobsTest, BenchResultsAndTableCountsAreTyped) {
  BenchPsJob job(view_, BenchPsReport{16, 1000, "adagrad", "zipf", false, true});
  control::BenchPsResult result;
  result.set_pull_rows(1000);
  result.set_push_rows(1000);
  result.set_pull_s(1);
  result.set_push_s(2);
  result.add_pull_ms(1.5);
  result.add_push_ms(2.5);
  std::vector<GatherEntry> entries;
  entries.push_back(Entry(3, EncodeBenchPsResult(result)));
  result.set_push_s(-2);
  entries.push_back(Entry(4, EncodeBenchPsResult(result)));
  wire::Control reply;
  Status s = job.OnGather("bench-ps/result", entries, &reply);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("BenchPsResult.push_s"), std::string::npos) << s;
  result.set_push_s(2);
  entries[1] = Entry(4, EncodeBenchPsResult(result));
  ASSERT_TRUE(job.OnGather("bench-ps/result", entries, &reply).ok());

  // Servers' counters: text is not read, a negative count is refused.
  std::vector<GatherEntry> tables(2);
  tables[0].rank = 1;
  tables[1].rank = 2;
  tables[0].request.header.mutable_control()->set_text("1 2 3 4");
  EXPECT_EQ(job.OnGather("bench-ps/tables", tables, &reply).code(), StatusCode::kProtocolError);
  control::TableCounts counts;
  counts.set_rows(10);
  tables[0].request.header.mutable_control()->set_payload(EncodeTableCounts(counts));
  counts.set_evicted(-1);
  tables[1].request.header.mutable_control()->set_payload(EncodeTableCounts(counts));
  s = job.OnGather("bench-ps/tables", tables, &reply);
  EXPECT_NE(s.message().find("negative count"), std::string::npos) << s;
  EXPECT_FALSE(job.reported());
  counts.set_evicted(0);
  tables[1].request.header.mutable_control()->set_payload(EncodeTableCounts(counts));
  testing::internal::CaptureStdout();
  ASSERT_TRUE(job.OnGather("bench-ps/tables", tables, &reply).ok());
  const std::string line = testing::internal::GetCapturedStdout();
  EXPECT_NE(line.find("\"table_rows\":20"), std::string::npos) << line;
  EXPECT_NE(line.find("\"pull_rows_per_s\":2000"), std::string::npos) << line;
  EXPECT_TRUE(job.reported());
}

TEST(ControlCodecTest, CheckpointShardsAndEvalKinds) {
  ShardRecord shard{1, "shard-1.bin", 4096, 0xdeadbeef};
  auto back = DecodeShardSaved(EncodeShardSaved(shard), 2, "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->server_index, 1);
  EXPECT_EQ(back->name, "shard-1.bin");
  EXPECT_EQ(back->size, 4096u);
  EXPECT_EQ(back->crc32c, 0xdeadbeefu);
  EXPECT_EQ(DecodeShardSaved(EncodeShardSaved(shard), 1, "x").status().code(),
            StatusCode::kProtocolError);  // index beyond the servers
  for (const char* name : {"", ".", "..", "../shard", "a/b", "a\\b"}) {
    shard.name = name;
    EXPECT_EQ(DecodeShardSaved(EncodeShardSaved(shard), 2, "x").status().code(),
              StatusCode::kProtocolError)
        << name;
  }
  shard.name = std::string("a\0b", 3);
  EXPECT_EQ(DecodeShardSaved(EncodeShardSaved(shard), 2, "x").status().code(),
            StatusCode::kProtocolError);

  auto all = DecodeCollected(EncodeCollected({"a", "", "c"}), 3, "x");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"a", "", "c"}));
  EXPECT_EQ(DecodeCollected(EncodeCollected({"a"}), 2, "x").status().code(),
            StatusCode::kProtocolError);

  EXPECT_TRUE(DecodeEvalPartialIsBinary(EncodeEvalPartial(true), "x").value());
  EXPECT_FALSE(DecodeEvalPartialIsBinary(EncodeEvalPartial(false), "x").value());
  control::EvalPartial unset;
  unset.set_version(kControlVersion);
  EXPECT_EQ(DecodeEvalPartialIsBinary(unset.SerializeAsString(), "x").status().code(),
            StatusCode::kProtocolError);
  unset.set_version(kControlVersion + 1);
  unset.set_kind(control::EvalPartial::BINARY);
  EXPECT_NE(DecodeEvalPartialIsBinary(unset.SerializeAsString(), "x")
                .status()
                .message()
                .find("EvalPartial.version"),
            std::string::npos);
}

}  // namespace
}  // namespace metaps
