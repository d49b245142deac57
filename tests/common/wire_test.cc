// Wire codec: round trip, and every malformed variant is rejected with a
// reason naming the problem.
#include "common/wire.h"

#include <gtest/gtest.h>

namespace metaps {
namespace {

std::vector<zmq::message_t> EncodePull(int sender, size_t keys) {
  Message m = MakeMessage(wire::PULL, sender);
  m.header.set_table_id(7);
  m.header.set_clock(42);
  std::vector<uint64_t> k(keys);
  for (size_t i = 0; i < keys; ++i) k[i] = i * 1000003u;
  m.AddCopy(k.data(), k.size() * sizeof(uint64_t));
  std::vector<float> v(keys * 4, 1.5f);
  m.AddCopy(v.data(), v.size() * sizeof(float));
  return EncodeMessage(std::move(m));
}

TEST(WireTest, RoundTripKeepsHeaderAndFrames) {
  auto parts = EncodePull(3, 100);
  ASSERT_EQ(parts.size(), 3u);
  auto m = DecodeMessage(std::move(parts));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->header.type(), wire::PULL);
  EXPECT_EQ(m->header.sender(), 3);
  EXPECT_EQ(m->header.table_id(), 7u);
  EXPECT_EQ(m->header.clock(), 42);
  ASSERT_EQ(m->frames.size(), 2u);
  ASSERT_EQ(m->FrameCount<uint64_t>(0), 100u);
  EXPECT_EQ(m->FrameAs<uint64_t>(0)[99], 99u * 1000003u);
  ASSERT_EQ(m->FrameCount<float>(1), 400u);
  EXPECT_EQ(m->FrameAs<float>(1)[399], 1.5f);
  EXPECT_TRUE(ValidateHeader(m->header, 5, 3, false).ok());
}

TEST(WireTest, SharedFrameIsSentWithoutCopy) {
  auto buffer = std::make_shared<const std::vector<char>>(1 << 16, 'x');
  Message m = MakeMessage(wire::PING, 1);
  m.AddShared(buffer);
  EXPECT_EQ(m.frames[0].data(), buffer->data());
  EXPECT_EQ(buffer.use_count(), 2);
  m.frames.clear();
  EXPECT_EQ(buffer.use_count(), 1);
}

TEST(WireTest, ReplyCarriesStatus) {
  Message req = MakeMessage(wire::PUSH, 2);
  req.header.set_request_id(99);
  Message reply = MakeReply(req.header, 1, InvalidArgument("table 3 has dim 8"));
  EXPECT_TRUE(reply.header.is_reply());
  EXPECT_EQ(reply.header.request_id(), 99u);
  Status s = ReplyStatus(reply.header);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "table 3 has dim 8");
  reply.header.set_status_code(1000);
  EXPECT_EQ(ReplyStatus(reply.header).code(), StatusCode::kProtocolError);
}

TEST(WireTest, RejectsEmptyAndGarbage) {
  std::vector<zmq::message_t> none;
  EXPECT_EQ(DecodeMessage(std::move(none)).status().code(), StatusCode::kProtocolError);
  std::vector<zmq::message_t> garbage;
  garbage.emplace_back(std::string("\xff\xff\xff\xff\xff", 5));
  auto s = DecodeMessage(std::move(garbage)).status();
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("not a valid wire.Header"), std::string::npos) << s;
}

TEST(WireTest, RejectsMissingFrame) {
  auto parts = EncodePull(1, 10);
  parts.pop_back();  // truncated: the values frame never arrived
  auto s = DecodeMessage(std::move(parts)).status();
  EXPECT_EQ(s.code(), StatusCode::kProtocolError);
  EXPECT_NE(s.message().find("declares 2 frames, message has 1"), std::string::npos) << s;
}

TEST(WireTest, RejectsExtraFrame) {
  auto parts = EncodePull(1, 10);
  parts.emplace_back(std::string("surprise"));
  EXPECT_NE(DecodeMessage(std::move(parts)).status().message().find("declares 2 frames"),
            std::string::npos);
}

TEST(WireTest, RejectsTruncatedFrame) {
  auto parts = EncodePull(1, 10);
  parts[1] = zmq::message_t(parts[1].data(), parts[1].size() - 3);
  auto s = DecodeMessage(std::move(parts)).status();
  EXPECT_NE(s.message().find("frame 0 has 77 bytes, header declares 80"), std::string::npos) << s;
}

TEST(WireTest, RejectsTooManyFrames) {
  Message m = MakeMessage(wire::PING, 1);
  for (int i = 0; i < kMaxFrames + 1; ++i) m.AddCopy("a", 1);
  EXPECT_NE(DecodeMessage(EncodeMessage(std::move(m))).status().message().find("too many frames"),
            std::string::npos);
}

TEST(WireTest, ValidateRejectsPolicyViolations) {
  wire::Header h = MakeMessage(wire::PULL, 2).header;
  EXPECT_TRUE(ValidateHeader(h, 4, -1, false).ok());

  wire::Header old = h;
  old.set_version(kProtocolVersion + 1);
  EXPECT_NE(ValidateHeader(old, 4, -1, false).message().find("protocol version"),
            std::string::npos);

  wire::Header unknown = h;
  unknown.set_type(static_cast<wire::MessageType>(77));
  EXPECT_NE(ValidateHeader(unknown, 4, -1, false).message().find("unknown message type 77"),
            std::string::npos);
  wire::Header unset = h;
  unset.set_type(wire::MESSAGE_TYPE_UNSPECIFIED);
  EXPECT_FALSE(ValidateHeader(unset, 4, -1, false).ok());

  wire::Header stranger = h;
  stranger.set_sender(9);
  EXPECT_NE(ValidateHeader(stranger, 4, -1, false).message().find("not a member"),
            std::string::npos);
  stranger.set_sender(-1);
  EXPECT_FALSE(ValidateHeader(stranger, 4, -1, false).ok());

  // Claims rank 2 on a connection authenticated as rank 3.
  Status spoof = ValidateHeader(h, 4, 3, false);
  EXPECT_EQ(spoof.code(), StatusCode::kProtocolError);
  EXPECT_NE(spoof.message().find("authenticated as rank 3"), std::string::npos);

  EXPECT_NE(ValidateHeader(h, 4, -1, true).message().find("expected a reply"), std::string::npos);
}

}  // namespace
}  // namespace metaps
