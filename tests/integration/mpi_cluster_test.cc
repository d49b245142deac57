// Integration: real mpirun clusters of the real binary over loopback, started
// through the README's launcher (launch/local.sh).
#include <gtest/gtest.h>

#include <map>

#include "common/rpc.h"
#include "tests/integration/cluster_file.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::JsonInt;
using metaps::testing::RankInfo;
using metaps::testing::ReadClusterFile;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;

std::vector<std::string> Local(int servers, int workers, std::vector<std::string> args) {
  std::vector<std::string> argv = {Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
                                   std::to_string(servers), std::to_string(workers), "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/metaps_it_" + std::to_string(getpid()) + "_" + name;
}

class MpiClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
      GTEST_SKIP() << "run through ctest (METAPS_BIN and METAPS_SOURCE_DIR unset)";
    }
  }
};

TEST_F(MpiClusterTest, PingTwoServersTwoWorkersOverCurve) {
  Subprocess job(Local(2, 2, {"ping"}));
  const int code = job.Wait();
  ASSERT_EQ(code, 0) << job.stderr_text();
  auto lines = job.stdout_lines();
  ASSERT_FALSE(lines.empty());
  const std::string& last = lines.back();
  EXPECT_NE(last.find("\"event\":\"ping\""), std::string::npos) << last;
  EXPECT_NE(last.find("\"curve\":true"), std::string::npos) << last;
  EXPECT_EQ(JsonInt(last, "ranks"), 5);
  EXPECT_EQ(JsonInt(last, "pairs"), 4);
  EXPECT_EQ(JsonInt(last, "pairs_ok"), 4);
}

TEST_F(MpiClusterTest, InsecureRunSaysSo) {
  Subprocess job(Local(1, 1, {"ping", "--insecure", "--repeat", "2"}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  auto lines = job.stdout_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines.back().find("\"curve\":false"), std::string::npos) << lines.back();
  EXPECT_EQ(JsonInt(lines.back(), "round"), 2);
  EXPECT_NE(job.stderr_text().find("--insecure: CURVE is off"), std::string::npos);
}

TEST_F(MpiClusterTest, KilledRankIsDetectedAndReportedByTheScheduler) {
  const std::string cluster_file = TempPath("kill.json");
  Subprocess job(Local(1, 2,
                       {"ping", "--repeat", "0", "--interval-ms", "20", "--cluster-file",
                        cluster_file, "--heartbeat-timeout-ms", "1000"}));
  ASSERT_TRUE(job.WaitForStderr("members registered")) << job.stderr_text();
  auto ranks = ReadClusterFile(cluster_file);
  ASSERT_EQ(ranks.size(), 4u);
  ASSERT_EQ(ranks[1].role, "server");
  ASSERT_TRUE(job.WaitForStdout("\"round\":1,")) << job.stderr_text();
  ASSERT_EQ(kill(ranks[1].pid, SIGKILL), 0);

  const int code = job.Wait();
  EXPECT_NE(code, 0);
  const std::string err = job.stderr_text();
  EXPECT_NE(err.find("[scheduler]"), std::string::npos) << err;
  EXPECT_NE(err.find("server 0 (rank 1, host"), std::string::npos) << err;
  EXPECT_NE(err.find("pid " + std::to_string(ranks[1].pid) + ") is dead"), std::string::npos)
      << err;
}

TEST_F(MpiClusterTest, RogueClientIsRefusedWhileMembersKeepBeingServed) {
  const std::string cluster_file = TempPath("rogue.json");
  Subprocess job(Local(2, 1,
                       {"ping", "--repeat", "0", "--interval-ms", "20", "--samples", "10",
                        "--messages", "2", "--cluster-file", cluster_file}));
  ASSERT_TRUE(job.WaitForStdout("\"round\":1,")) << job.stderr_text();
  auto ranks = ReadClusterFile(cluster_file);
  ASSERT_EQ(ranks.size(), 4u);

  // A client that knows a server's address and public key, but holds no key
  // of this job: it presents its own fresh key and claims to be worker rank 3.
  auto transport = Transport::Create(TransportOptions{}).value();
  auto rogue_keys = GenerateCurveKeyPair().value();
  auto rogue = RpcClient::Create(transport.get(), rogue_keys, 3, 4, "rogue").value();
  rogue->AddPeer(1, ranks[1].endpoint, Z85Decode(ranks[1].public_key).value());
  Message ping = MakeMessage(wire::PING, 3);
  ping.header.mutable_control()->set_echo(true);
  ping.AddCopy("let me in", 9);
  auto refused = rogue->Call(1, std::move(ping), std::chrono::milliseconds(1500)).get();
  EXPECT_EQ(refused.status().code(), StatusCode::kDeadlineExceeded) << refused.status();
  rogue->Close();
  ASSERT_TRUE(job.WaitForStderr("refused a CURVE client")) << job.stderr_text();

  // Members are still served: a later round completes with every pair.
  const size_t seen = job.stdout_lines().size();
  std::string later;
  ASSERT_TRUE(job.WaitForStdout("\"event\":\"ping\"", &later, seen)) << job.stderr_text();
  EXPECT_EQ(JsonInt(later, "pairs_ok"), 2) << later;

  // SIGTERM to the scheduler stops the job in order, with success.
  ASSERT_EQ(kill(ranks[0].pid, SIGTERM), 0);
  EXPECT_EQ(job.Wait(), 0) << job.stderr_text();
  EXPECT_NE(job.stderr_text().find("job finished in order"), std::string::npos);
}

TEST_F(MpiClusterTest, PersistentKeysFromKeygen) {
  const std::string dir = TempPath("keys");
  Subprocess keygen({Env("METAPS_BIN"), "keygen", "--out", dir});
  ASSERT_EQ(keygen.Wait(), 0) << keygen.stderr_text();
  ASSERT_FALSE(keygen.stdout_lines().empty());
  EXPECT_NE(keygen.stdout_lines().back().find("\"public_key\":\""), std::string::npos);

  Subprocess job(Local(1, 1, {"ping", "--curve-keys", dir}));
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  EXPECT_NE(job.stdout_lines().back().find("\"curve\":true"), std::string::npos);
}

TEST(CommandLineTest, BadFlagsAreUsageErrors) {
  if (Env("METAPS_BIN").empty()) GTEST_SKIP() << "METAPS_BIN unset";
  Subprocess bogus({Env("METAPS_BIN"), "ping", "--bogus"});
  EXPECT_EQ(bogus.Wait(), 2);
  EXPECT_NE(bogus.stderr_text().find("unknown flag --bogus"), std::string::npos);

  Subprocess bad_value({Env("METAPS_BIN"), "ping", "--servers", "two"});
  EXPECT_EQ(bad_value.Wait(), 2);
  EXPECT_NE(bad_value.stderr_text().find("--servers expects an integer, got 'two'"),
            std::string::npos);

  Subprocess unknown({Env("METAPS_BIN"), "frobnicate"});
  EXPECT_EQ(unknown.Wait(), 2);
  EXPECT_NE(unknown.stderr_text().find("unknown subcommand 'frobnicate'"), std::string::npos);

  Subprocess too_few({Env("METAPS_BIN"), "ping", "--servers", "3", "--workers", "0"});
  EXPECT_EQ(too_few.Wait(), 2);
  EXPECT_NE(too_few.stderr_text().find("--workers must be in [1, 65535], got 0"), std::string::npos)
      << too_few.stderr_text();
}

TEST(CommandLineTest, SingleProcessClusterPings) {
  if (Env("METAPS_BIN").empty()) GTEST_SKIP() << "METAPS_BIN unset";
  Subprocess job({Env("METAPS_BIN"), "ping", "--servers", "2", "--workers", "2"});
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  EXPECT_EQ(JsonInt(job.stdout_lines().back(), "pairs_ok"), 4);
}

}  // namespace
}  // namespace metaps
