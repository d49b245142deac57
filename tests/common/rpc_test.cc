// RpcServer/RpcClient over real ZeroMQ tcp sockets on loopback: CURVE refuses
// clients whose key is not a member's, spoofed senders and malformed messages
// are dropped and counted, and the server keeps serving members throughout.
#include "common/rpc.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <zmq_addon.hpp>

namespace metaps {
namespace {

using std::chrono::milliseconds;

constexpr int kWorld = 3;  // rank 0 unused, 1 = server, 2 = client

class RpcTest : public ::testing::Test {
 protected:
  void StartServer(bool curve) {
    TransportOptions options;
    options.curve = curve;
    transport_ = Transport::Create(options).value();
    if (curve) {
      server_keys_ = GenerateCurveKeyPair().value();
      client_keys_ = GenerateCurveKeyPair().value();
      transport_->Authorize(server_keys_.public_key, 1);
      transport_->Authorize(client_keys_.public_key, 2);
    }
    RpcServer::Options so;
    so.name = "test-server";
    so.world_size = kWorld;
    so.rank = 1;  // with CURVE, PULL and PUSH use the aead data plane
    server_ = RpcServer::Create(transport_.get(), server_keys_, so).value();
    server_->Start([this](const PeerAddress& from, Message m) {
      ++served_;
      if (m.header.type() == wire::PULL) {
        server_->Reply(from, MakeReply(m.header, 1, InvalidArgument("no tables here")));
        return;
      }
      if (m.header.type() == wire::PUSH) return;  // never answers
      // A handler that fails to parse a peer's payload and throws.
      if (!m.frames.empty() && m.frames[0].to_string() == "throw") {
        throw std::runtime_error("cannot parse 'throw'");
      }
      Message reply = MakeReply(m.header, 1);
      reply.frames = std::move(m.frames);
      server_->Reply(from, std::move(reply));
    });
  }

  std::unique_ptr<RpcClient> Client(int rank, const CurveKeyPair& keys) {
    auto c = RpcClient::Create(transport_.get(), keys, rank, kWorld, "c").value();
    c->AddPeer(1, server_->endpoint(), server_keys_.public_key);
    return c;
  }

  StatusOr<Message> Ping(RpcClient* c, milliseconds timeout = milliseconds(10000)) {
    Message m = MakeMessage(wire::PING, 0);
    m.AddCopy("hello", 5);
    return c->Call(1, std::move(m), timeout).get();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
  }

  std::unique_ptr<Transport> transport_;
  CurveKeyPair server_keys_, client_keys_;
  std::unique_ptr<RpcServer> server_;
  std::atomic<int> served_{0};
};

TEST_F(RpcTest, MemberIsServedOverCurve) {
  StartServer(/*curve=*/true);
  auto client = Client(2, client_keys_);
  auto reply = Ping(client.get());
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->frames.size(), 1u);
  EXPECT_EQ(reply->frames[0].to_string(), "hello");
  EXPECT_EQ(reply->header.sender(), 1);
  EXPECT_GE(transport_->zap_stats().accepted, 1u);
}

TEST_F(RpcTest, ClientWithoutClusterKeyIsRefusedAndMembersKeepBeingServed) {
  StartServer(/*curve=*/true);
  auto member = Client(2, client_keys_);
  ASSERT_TRUE(Ping(member.get()).ok());

  // Knows the server's public key and a member's rank, but not a member's key.
  auto rogue = Client(2, GenerateCurveKeyPair().value());
  auto refused = Ping(rogue.get(), milliseconds(1500));
  EXPECT_EQ(refused.status().code(), StatusCode::kDeadlineExceeded) << refused.status();
  EXPECT_GE(transport_->zap_stats().refused, 1u);
  EXPECT_EQ(served_.load(), 1);  // the rogue's request never reached the handler

  auto again = Ping(member.get());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(served_.load(), 2);
}

// A refused client and a client whose server is gone: every call ends by its
// deadline. (The client's loop used to block in a send with no connection to
// put it on, and then no deadline fired.)
TEST_F(RpcTest, CallsEndByTheirDeadlineWhenThereIsNoConnection) {
  StartServer(/*curve=*/true);
  auto rogue = Client(2, GenerateCurveKeyPair().value());
  auto member = Client(2, client_keys_);
  ASSERT_TRUE(Ping(member.get()).ok());
  server_->Stop();
  server_.reset();
  for (RpcClient* client : {rogue.get(), member.get()}) {
    for (int i = 0; i < 5; ++i) {
      Message m = MakeMessage(wire::PING, 0);
      auto call = client->Call(1, std::move(m), milliseconds(200));
      ASSERT_EQ(call.wait_for(std::chrono::seconds(10)), std::future_status::ready)
          << "call " << i << " never ended";
      EXPECT_FALSE(call.get().ok());
    }
  }
}

TEST_F(RpcTest, SpoofedSenderIsDroppedAndCounted) {
  StartServer(/*curve=*/true);
  // Rank 2's key, but its messages claim to come from rank 1.
  auto spoofer = Client(1, client_keys_);
  auto r = Ping(spoofer.get(), milliseconds(1000));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  DropStats drops = server_->drop_stats();
  EXPECT_EQ(drops.total, 1u);
  ASSERT_EQ(drops.by_reason.size(), 1u);
  EXPECT_NE(drops.by_reason.begin()->first.find("authenticated as rank 2"), std::string::npos);
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(RpcTest, MalformedMessagesAreDroppedAndServerKeepsServing) {
  StartServer(/*curve=*/false);
  zmq::socket_t raw(transport_->context(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 10000);
  raw.connect(server_->endpoint());

  auto send = [&](std::vector<zmq::message_t> parts) { zmq::send_multipart(raw, parts); };
  auto ping = [](int sender) {
    Message m = MakeMessage(wire::PING, sender);
    m.AddCopy("x", 1);
    return m;
  };
  {  // not a protobuf header
    std::vector<zmq::message_t> p;
    p.emplace_back(std::string("\x0a\xff\xff", 3));
    send(std::move(p));
  }
  {  // declares one frame, carries none
    auto p = EncodeMessage(ping(2));
    p.pop_back();
    send(std::move(p));
  }
  {  // unknown type
    Message m = ping(2);
    m.header.set_type(static_cast<wire::MessageType>(55));
    send(EncodeMessage(std::move(m)));
  }
  {  // wrong protocol version
    Message m = ping(2);
    m.header.set_version(99);
    send(EncodeMessage(std::move(m)));
  }
  {  // not a member
    send(EncodeMessage(ping(17)));
  }
  {  // a reply where a request belongs
    Message m = ping(2);
    m.header.set_is_reply(true);
    send(EncodeMessage(std::move(m)));
  }
  // A valid request on the same connection is handled after all of the above.
  send(EncodeMessage(ping(2)));
  std::vector<zmq::message_t> reply;
  ASSERT_TRUE(zmq::recv_multipart(raw, std::back_inserter(reply)));
  auto decoded = DecodeMessage(std::move(reply));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->header.is_reply());

  DropStats drops = server_->drop_stats();
  EXPECT_EQ(drops.total, 6u);
  EXPECT_EQ(served_.load(), 1);
  raw.close();
}

// A handler that throws does not take the server down: the message is dropped
// and counted with the peer's reason, and the next request is served.
TEST_F(RpcTest, ThrowingHandlerDropsTheMessageAndServingGoesOn) {
  StartServer(/*curve=*/false);
  auto client = Client(2, CurveKeyPair{});
  Message bad = MakeMessage(wire::PING, 2);
  bad.AddCopy("throw", 5);
  auto dropped = client->Call(1, std::move(bad), milliseconds(300)).get();
  EXPECT_EQ(dropped.status().code(), StatusCode::kDeadlineExceeded) << dropped.status();
  auto served = Ping(client.get());
  ASSERT_TRUE(served.ok()) << served.status();
  const DropStats drops = server_->drop_stats();
  EXPECT_EQ(drops.total, 1u);
  // Counted under the reason's kind (the log line has the whole reason).
  ASSERT_EQ(drops.by_reason.size(), 1u);
  EXPECT_EQ(drops.by_reason.begin()->first, "handler failed");
}

TEST_F(RpcTest, ErrorRepliesAndCloseResolveFutures) {
  StartServer(/*curve=*/false);
  auto client = Client(2, CurveKeyPair{});
  auto err = client->Call(1, MakeMessage(wire::PULL, 2), milliseconds(10000)).get();
  EXPECT_EQ(err.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(err.status().message().find("no tables here"), std::string::npos);

  auto never = client->Call(1, MakeMessage(wire::PUSH, 2), milliseconds(60000));
  auto unknown_peer = client->Call(7, MakeMessage(wire::PING, 2), milliseconds(60000)).get();
  EXPECT_EQ(unknown_peer.status().code(), StatusCode::kUnavailable);
  client->Close();
  EXPECT_EQ(never.get().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client->Call(1, MakeMessage(wire::PING, 2), milliseconds(1)).get().status().code(),
            StatusCode::kUnavailable);
}

TEST(CurveKeysTest, Z85RoundTripAndKeyFiles) {
  auto keys = GenerateCurveKeyPair().value();
  EXPECT_EQ(keys.public_key.size(), 32u);
  EXPECT_EQ(Z85Decode(Z85Encode(keys.public_key)).value(), keys.public_key);
  EXPECT_FALSE(Z85Decode("short").ok());

  const std::string dir = ::testing::TempDir() + "/metaps_keys_" + std::to_string(getpid());
  ASSERT_TRUE(WriteKeyPair(dir, keys).ok());
  EXPECT_FALSE(WriteKeyPair(dir, keys).ok()) << "must refuse to overwrite a key";
  auto loaded = ReadKeyPair(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->secret_key, keys.secret_key);
  auto missing = ReadKeyPair(dir + "/nope");
  EXPECT_NE(missing.status().message().find("metaps.pub"), std::string::npos);

  const std::string authorized = dir + "/authorized";
  FILE* f = std::fopen(authorized.c_str(), "w");
  std::fprintf(f, "# operator keys\n%s\n\nnot-a-key\n", Z85Encode(keys.public_key).c_str());
  std::fclose(f);
  auto bad = ReadAuthorizedKeys(authorized);
  EXPECT_NE(bad.status().message().find("authorized:4"), std::string::npos) << bad.status();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metaps
