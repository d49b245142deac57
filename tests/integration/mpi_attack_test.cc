// The attack table end to end: a real mpirun job (launch/local.sh ... ping)
// under CURVE with an operator key in --authorized-keys. The monitor key may
// ping; its PUSH, BARRIER and HEARTBEAT are dropped and logged, and the job
// keeps serving its members and ends in order. A key file with a member role
// is refused with file:line. A training job attacked the same way ends with
// the metrics of the job left alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <map>
#include <regex>

#include "common/rpc.h"
#include "tests/integration/subprocess.h"

namespace metaps {
namespace {

using metaps::testing::Env;
using metaps::testing::JsonInt;
using metaps::testing::ReadFile;
using metaps::testing::Subprocess;
using std::chrono::milliseconds;

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/metaps_attack_" + std::to_string(getpid()) + "_" + name;
}

void WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

struct RankInfo {
  std::string endpoint, public_key;
  pid_t pid = 0;
};

std::map<int, RankInfo> ReadClusterFile(const std::string& path) {
  const std::string text = ReadFile(path);
  const std::regex re(
      "\"rank\":([0-9]+),\"role\":\"[a-z]+\",\"host\":\"[^\"]*\",\"pid\":([0-9]+),"
      "\"endpoint\":\"([^\"]*)\",\"public_key\":\"([^\"]*)\"");
  std::map<int, RankInfo> ranks;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    ranks[std::stoi((*it)[1])] = {(*it)[3], (*it)[4], static_cast<pid_t>(std::stol((*it)[2]))};
  }
  return ranks;
}

class MpiAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
      GTEST_SKIP() << "run through ctest (METAPS_BIN and METAPS_SOURCE_DIR unset)";
    }
  }
};

TEST_F(MpiAttackTest, MonitorKeyMayOnlyPingAndTheJobEndsInOrder) {
  const std::string keys_file = TempPath("authorized");
  const std::string cluster_file = TempPath("cluster.json");
  auto monitor_keys = GenerateCurveKeyPair().value();
  WriteText(keys_file, "# operator clients\nmonitor " + Z85Encode(monitor_keys.public_key) + "\n");
  Subprocess job({Env("METAPS_SOURCE_DIR") + "/launch/local.sh", "1", "1", "--", "ping", "--repeat",
                  "0", "--interval-ms", "20", "--samples", "10", "--messages", "2",
                  "--authorized-keys", keys_file, "--cluster-file", cluster_file});
  ASSERT_TRUE(job.WaitForStdout("\"round\":1,")) << job.stderr_text();
  auto ranks = ReadClusterFile(cluster_file);
  ASSERT_EQ(ranks.size(), 3u);

  // The attacker sends PUSH and PULL over CURVE (--data-plane curve), where
  // the server's role checks see them; with the aead data plane its key
  // exchange is refused the same way (data_plane_test).
  TransportOptions attacker_options;
  attacker_options.data_plane = "curve";
  auto transport = Transport::Create(attacker_options).value();
  // The monitor claims to be the worker (rank 2).
  auto monitor = RpcClient::Create(transport.get(), monitor_keys, 2, 3, "monitor").value();
  monitor->AddPeer(0, ranks[0].endpoint, Z85Decode(ranks[0].public_key).value());
  monitor->AddPeer(1, ranks[1].endpoint, Z85Decode(ranks[1].public_key).value());
  Message ping = MakeMessage(wire::PING, 2);
  ping.header.mutable_control()->set_echo(true);
  ping.AddCopy("status?", 7);
  auto pong = monitor->Call(1, std::move(ping), milliseconds(10000)).get();
  ASSERT_TRUE(pong.ok()) << pong.status();
  ASSERT_EQ(pong->frames.size(), 1u);
  EXPECT_EQ(pong->frames[0].to_string(), "status?");

  Message push = MakeMessage(wire::PUSH, 2);
  push.header.set_clock(1);
  auto pushed = monitor->Call(1, std::move(push), milliseconds(1000));
  Message barrier = MakeMessage(wire::BARRIER, 2);
  barrier.header.mutable_control()->set_name("shutdown");
  barrier.header.mutable_control()->set_group(3);
  auto joined = monitor->Call(0, std::move(barrier), milliseconds(1000));
  auto beat = monitor->Call(0, MakeMessage(wire::HEARTBEAT, 2), milliseconds(1000));
  EXPECT_EQ(pushed.get().status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(joined.get().status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(beat.get().status().code(), StatusCode::kDeadlineExceeded);
  monitor->Close();
  ASSERT_TRUE(job.WaitForStderr("a monitor client may only PING, not PUSH")) << job.stderr_text();
  ASSERT_TRUE(job.WaitForStderr("a monitor client may only PING, not BARRIER"))
      << job.stderr_text();

  // The members are still served: a later round completes with every pair.
  const size_t seen = job.stdout_lines().size();
  std::string later;
  ASSERT_TRUE(job.WaitForStdout("\"event\":\"ping\"", &later, seen)) << job.stderr_text();
  EXPECT_EQ(JsonInt(later, "pairs_ok"), 1) << later;
  ASSERT_EQ(kill(ranks[0].pid, SIGTERM), 0);
  EXPECT_EQ(job.Wait(), 0) << job.stderr_text();
  EXPECT_NE(job.stderr_text().find("job finished in order"), std::string::npos);
  std::remove(keys_file.c_str());
}

// A full training job (1 server, 2 workers, BSP, CURVE) attacked while it
// trains: a monitor key sends a well-formed PUSH claiming a worker's rank at
// the current clock, a PULL, a BARRIER and a HEARTBEAT, and a client whose key
// is not authorized tries the same. All are dropped; the job ends with exactly
// the test metrics of the same job left alone.
TEST_F(MpiAttackTest, TrainingJobUnderAttackEndsWithTheUnattackedMetrics) {
  const std::string data = TempPath("ctr");
  Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "ctr", "--rows", "60000", "--seed", "5",
                  "--out", data});
  ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
  const std::string keys_file = TempPath("train_authorized");
  auto monitor_keys = GenerateCurveKeyPair().value();
  WriteText(keys_file, "monitor " + Z85Encode(monitor_keys.public_key) + "\n");
  auto train = [&](const std::string& cluster_file) {
    return std::vector<std::string>{
        Env("METAPS_SOURCE_DIR") + "/launch/local.sh",
        "1",
        "2",
        "--",
        "train",
        "--config",
        Env("METAPS_SOURCE_DIR") + "/launch/jobs/quickstart_deepfm.pbtxt",
        "--data",
        data,
        "--set",
        "training.log_every=0",
        "--authorized-keys",
        keys_file,
        "--cluster-file",
        cluster_file};
  };
  Subprocess quiet(train(TempPath("quiet.json")));
  ASSERT_EQ(quiet.Wait(), 0) << quiet.stderr_text();
  ASSERT_FALSE(quiet.stdout_lines().empty());
  const std::string reference = quiet.stdout_lines().back();
  ASSERT_NE(reference.find("\"test\":{"), std::string::npos) << reference;

  const std::string cluster_file = TempPath("attacked.json");
  Subprocess job(train(cluster_file));
  ASSERT_TRUE(job.WaitForStderr("members registered")) << job.stderr_text();
  auto ranks = ReadClusterFile(cluster_file);
  ASSERT_EQ(ranks.size(), 4u);
  // The attacker sends PUSH and PULL over CURVE (--data-plane curve), where
  // the server's role checks see them; with the aead data plane its key
  // exchange is refused the same way (data_plane_test).
  TransportOptions attacker_options;
  attacker_options.data_plane = "curve";
  auto transport = Transport::Create(attacker_options).value();
  auto attack = [&](const CurveKeyPair& keys) {
    auto client = RpcClient::Create(transport.get(), keys, 2, 4, "attacker").value();
    client->AddPeer(0, ranks[0].endpoint, Z85Decode(ranks[0].public_key).value());
    client->AddPeer(1, ranks[1].endpoint, Z85Decode(ranks[1].public_key).value());
    Message push = MakeMessage(wire::PUSH, 2);  // claims worker 0's rank
    push.header.set_table_id(0);
    push.header.set_clock(1);
    const uint64_t key = 12345;
    std::vector<float> grad(16, 1000.0f);
    push.AddCopy(&key, sizeof(key));
    push.AddCopy(grad.data(), grad.size() * sizeof(float));
    Message pull = MakeMessage(wire::PULL, 2);
    pull.header.set_table_id(0);
    pull.AddCopy(&key, sizeof(key));
    Message barrier = MakeMessage(wire::BARRIER, 2);
    barrier.header.mutable_control()->set_name("ps/sync/0");
    barrier.header.mutable_control()->set_group(3);
    std::vector<std::future<StatusOr<Message>>> calls;
    calls.push_back(client->Call(1, std::move(push), milliseconds(500)));
    calls.push_back(client->Call(1, std::move(pull), milliseconds(500)));
    calls.push_back(client->Call(0, std::move(barrier), milliseconds(500)));
    calls.push_back(client->Call(0, MakeMessage(wire::HEARTBEAT, 2), milliseconds(500)));
    for (auto& c : calls) EXPECT_FALSE(c.get().ok());
    client->Close();
  };
  attack(monitor_keys);
  attack(GenerateCurveKeyPair().value());  // a key nobody authorized
  ASSERT_EQ(job.Wait(), 0) << job.stderr_text();
  EXPECT_NE(job.stderr_text().find("a monitor client may only PING, not PUSH"), std::string::npos)
      << job.stderr_text();
  ASSERT_FALSE(job.stdout_lines().empty());
  const std::string attacked = job.stdout_lines().back();
  auto test_metrics = [](const std::string& line) {
    const size_t at = line.find("\"test\":{");
    return at == std::string::npos ? std::string() : line.substr(at, line.find('}', at) - at);
  };
  EXPECT_EQ(test_metrics(attacked), test_metrics(reference));
  std::remove(keys_file.c_str());
}

TEST_F(MpiAttackTest, AuthorizedKeyWithAMemberRoleIsRefusedWithFileAndLine) {
  const std::string keys_file = TempPath("authorized_bad");
  WriteText(keys_file, "worker " + Z85Encode(GenerateCurveKeyPair().value().public_key) + "\n");
  Subprocess job({Env("METAPS_BIN"), "ping", "--transport", "tcp", "--servers", "1", "--workers",
                  "1", "--authorized-keys", keys_file});
  EXPECT_NE(job.Wait(), 0);
  EXPECT_NE(job.stderr_text().find(keys_file + ":1: unknown role 'worker'"), std::string::npos)
      << job.stderr_text();
  std::remove(keys_file.c_str());
}

}  // namespace
}  // namespace metaps
