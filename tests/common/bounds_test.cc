// Bounds on what a peer controls (issue 13): the header frame size, the drop
// counters' keys, and the roles of --authorized-keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/curve_keys.h"
#include "common/rpc.h"

namespace metaps {
namespace {

TEST(WireBoundsTest, HeaderFrameOverTheLimitIsRefusedBeforeParsing) {
  std::vector<zmq::message_t> parts;
  parts.emplace_back(kMaxHeaderBytes + 1);
  std::memset(parts[0].data(), 0x0a, parts[0].size());
  auto decoded = DecodeMessage(std::move(parts));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kProtocolError);
  EXPECT_NE(decoded.status().message().find("header frame too large: 1048577 bytes"),
            std::string::npos)
      << decoded.status();
  // A header at the limit is parsed as usual (this one is not a valid header).
  std::vector<zmq::message_t> at_limit;
  at_limit.emplace_back(kMaxHeaderBytes);
  std::memset(at_limit[0].data(), 0xff, at_limit[0].size());
  auto parsed = DecodeMessage(std::move(at_limit));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("not a valid wire.Header"), std::string::npos);
}

TEST(DropStatsTest, DistinctReasonsAreCappedAndEveryDropIsCounted) {
  DropStats drops;
  for (int i = 0; i < 1000; ++i) drops.Count("protocol version " + std::to_string(i));
  drops.Count("protocol version 3");  // a kept reason still counts on its own
  EXPECT_EQ(drops.total, 1001u);
  EXPECT_EQ(drops.by_reason.size(), DropStats::kMaxDropReasons);
  EXPECT_EQ(drops.by_reason["protocol version 3"], 2u);
  EXPECT_EQ(drops.by_reason["other"], 1000u - (DropStats::kMaxDropReasons - 1));
  // Reasons are cut at ':' and at kMaxReasonChars.
  DropStats one;
  one.Count(std::string(10000, 'x'));
  one.Count("role: anything");
  EXPECT_EQ(one.by_reason.count(std::string(DropStats::kMaxReasonChars, 'x')), 1u);
  EXPECT_EQ(one.by_reason.count("role"), 1u);
}

class AuthorizedKeysTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    path_ = ::testing::TempDir() + "/metaps_authorized_" + std::to_string(getpid());
    FILE* f = std::fopen(path_.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(AuthorizedKeysTest, KeysHaveTheMonitorRoleAndNoOther) {
  const std::string a = Z85Encode(GenerateCurveKeyPair().value().public_key);
  const std::string b = Z85Encode(GenerateCurveKeyPair().value().public_key);
  auto keys = ReadAuthorizedKeys(Write("# ops\n" + a + "\nmonitor  " + b + "\n"));
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].role, "monitor");
  EXPECT_EQ((*keys)[1].role, "monitor");
  EXPECT_EQ(Z85Encode((*keys)[1].public_key), b);

  auto worker = ReadAuthorizedKeys(Write(a + "\nworker " + b + "\n"));
  ASSERT_FALSE(worker.ok());
  EXPECT_NE(worker.status().message().find(":2: unknown role 'worker'"), std::string::npos)
      << worker.status();
  auto bad_key = ReadAuthorizedKeys(Write("monitor not-a-key\n"));
  EXPECT_NE(bad_key.status().message().find(":1"), std::string::npos) << bad_key.status();
}

TEST(TransportBoundsTest, MaximumMessageSizeIsChecked) {
  TransportOptions options;
  options.curve = false;
  options.max_message_bytes = 10;
  auto transport = Transport::Create(options);
  ASSERT_FALSE(transport.ok());
  EXPECT_NE(transport.status().message().find("maximum message size"), std::string::npos);
}

}  // namespace
}  // namespace metaps
