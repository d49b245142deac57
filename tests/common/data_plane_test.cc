// The aead data plane over real ZeroMQ tcp sockets on loopback with CURVE:
// PULL and PUSH travel sealed on the data socket under a session opened over
// CURVE; a reconnect opens a new session; a non-member that connects to the
// data socket can neither inject (every message is dropped and counted, with
// the peer named) nor read (replies are sealed, and only to the session's
// own requests); "--data-plane curve" keeps everything on CURVE.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <zmq_addon.hpp>

#include "common/data_seal.h"
#include "common/rpc.h"
#include "tests/common/raw_dealer.h"

namespace metaps {
namespace {

using std::chrono::milliseconds;
using Parts = std::vector<zmq::message_t>;

constexpr int kWorld = 4;  // rank 0 unused, 1 = server, 2 and 3 = clients
const milliseconds kTimeout(10000);

Message Pull(int sender, uint64_t first_key) {
  Message m = MakeMessage(wire::PULL, sender);
  std::vector<uint64_t> keys = {first_key, first_key + 1, first_key + 2};
  m.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
  return m;
}

Parts Copy(const Parts& parts) {
  Parts out;
  for (const auto& p : parts) out.emplace_back(p.data(), p.size());
  return out;
}

class DataPlaneTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& data_plane = "aead") {
    TransportOptions options;
    options.data_plane = data_plane;
    transport_ = Transport::Create(options).value();
    server_keys_ = GenerateCurveKeyPair().value();
    for (auto& k : client_keys_) k = GenerateCurveKeyPair().value();
    transport_->Authorize(server_keys_.public_key, 1);
    transport_->Authorize(client_keys_[0].public_key, 2);
    transport_->Authorize(client_keys_[1].public_key, 3);
    RpcServer::Options so;
    so.name = "data-server";
    so.world_size = kWorld;
    so.rank = 1;
    server_ = RpcServer::Create(transport_.get(), server_keys_, so).value();
    // PULL: echoes the keys frame; PUSH: an empty reply.
    server_->Start([this](const PeerAddress& from, Message m) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        sessions_seen_.push_back(from.data_session);
      }
      Message reply = MakeReply(m.header, 1);
      if (m.header.type() == wire::PULL) reply.frames = std::move(m.frames);
      server_->Reply(from, std::move(reply));
    });
  }
  std::unique_ptr<RpcClient> Client(int rank) {
    auto c = RpcClient::Create(transport_.get(), client_keys_[rank - 2], rank, kWorld, "c").value();
    c->AddPeer(1, server_->endpoint(), server_keys_.public_key);
    return c;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
  }
  std::vector<uint64_t> SessionsSeen() {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_seen_;
  }

  std::unique_ptr<Transport> transport_;
  CurveKeyPair server_keys_, client_keys_[2];
  std::unique_ptr<RpcServer> server_;
  std::mutex mu_;
  std::vector<uint64_t> sessions_seen_;  // GUARDED_BY(mu_)
};

TEST_F(DataPlaneTest, PullAndPushTravelSealedOnOneSession) {
  StartServer();
  ASSERT_FALSE(server_->data_endpoint().empty());
  auto client = Client(2);
  for (uint64_t k = 0; k < 3; ++k) {
    auto pulled = client->Call(1, Pull(2, 100 * k), kTimeout).get();
    ASSERT_TRUE(pulled.ok()) << pulled.status();
    ASSERT_EQ(pulled->frames.size(), 1u);
    EXPECT_EQ(pulled->FrameAs<uint64_t>(0)[2], 100 * k + 2);
  }
  auto pushed = client->Call(1, MakeMessage(wire::PUSH, 2), kTimeout).get();
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  // Control messages stay on CURVE.
  auto pinged = client->Call(1, MakeMessage(wire::PING, 2), kTimeout).get();
  ASSERT_TRUE(pinged.ok()) << pinged.status();

  EXPECT_EQ(client->data_sessions_opened(), 1u);
  EXPECT_EQ(server_->data_sessions_opened(), 1u);
  const auto seen = SessionsSeen();
  ASSERT_EQ(seen.size(), 5u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NE(seen[i], 0u) << "request " << i;
    EXPECT_EQ(seen[i], seen[0]);
  }
  EXPECT_EQ(seen[4], 0u);  // the PING came over CURVE
  EXPECT_EQ(server_->drop_stats().total, 0u);
  EXPECT_EQ(client->drop_stats().total, 0u);
}

TEST_F(DataPlaneTest, AReconnectOpensANewSessionWithNewKeys) {
  StartServer();
  auto client = Client(2);
  ASSERT_TRUE(client->Call(1, Pull(2, 1), kTimeout).get().ok());
  client->AddPeer(1, server_->endpoint(), server_keys_.public_key);  // reconnect
  auto again = client->Call(1, Pull(2, 7), kTimeout).get();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->FrameAs<uint64_t>(0)[0], 7u);
  EXPECT_EQ(client->data_sessions_opened(), 2u);
  EXPECT_EQ(server_->data_sessions_opened(), 2u);
  const auto seen = SessionsSeen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0], seen[1]);
}

TEST_F(DataPlaneTest, CurveDataPlaneKeepsPullAndPushOnCurve) {
  StartServer("curve");
  EXPECT_TRUE(server_->data_endpoint().empty());
  auto client = Client(2);
  auto pulled = client->Call(1, Pull(2, 5), kTimeout).get();
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(client->data_sessions_opened(), 0u);
  EXPECT_EQ(SessionsSeen(), std::vector<uint64_t>{0u});
  EXPECT_EQ(client->drop_stats().total, 0u);
}

// A monitor key (an operator's client) may only PING: its key exchange is
// refused like any other request, and its PULL never reaches the handler.
TEST_F(DataPlaneTest, AMonitorKeyCannotOpenADataSession) {
  StartServer();
  const CurveKeyPair monitor_keys = GenerateCurveKeyPair().value();
  transport_->Authorize(monitor_keys.public_key, kMonitorRank);
  auto monitor = RpcClient::Create(transport_.get(), monitor_keys, 2, kWorld, "m").value();
  monitor->AddPeer(1, server_->endpoint(), server_keys_.public_key);
  auto pulled = monitor->Call(1, Pull(2, 1), milliseconds(300)).get();
  EXPECT_EQ(pulled.status().code(), StatusCode::kDeadlineExceeded) << pulled.status();
  EXPECT_EQ(server_->data_sessions_opened(), 0u);
  EXPECT_TRUE(SessionsSeen().empty());
  const DropStats drops = server_->drop_stats();
  EXPECT_EQ(drops.by_peer.at("monitor client"), 1u);
  EXPECT_EQ(drops.by_reason.at("role"), 1u);
}

TEST(DataPlaneOptionsTest, UnknownDataPlaneIsAnError) {
  TransportOptions options;
  options.data_plane = "rot13";
  auto t = Transport::Create(options);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("--data-plane must be aead or curve"), std::string::npos);
}

// A raw DEALER with an optional CURVE key pair; replies within kTimeout.
class RawSocket : public metaps::testing::RawDealer {
 public:
  using RawDealer::RawDealer;
  StatusOr<Parts> Receive() { return ReceiveParts(kTimeout); }
};

// Opens a session as rank `rank` over CURVE, as RpcClient does; returns the
// data endpoint.
std::string OpenSession(RawSocket& control, int rank, const DataSessionKeys& keys,
                        uint64_t request_id) {
  Message m = MakeMessage(wire::DATA_SESSION, rank);
  m.header.set_request_id(request_id);
  const std::string frame = keys.Serialize();
  m.AddCopy(frame.data(), frame.size());
  control.Send(EncodeMessage(std::move(m)));
  auto reply = control.Receive();
  if (!reply.ok()) return "";
  auto decoded = DecodeMessage(std::move(reply).value());
  if (!decoded.ok() || !ReplyStatus(decoded->header).ok()) return "";
  return decoded->header.control().host();
}

// A server that lost a client's session (here: evicted by newer sessions of
// the same rank; in practice a restart) drops its sealed calls; the call that
// times out drops the client's session, and the next call opens a new one.
TEST_F(DataPlaneTest, ALostSessionIsRenegotiatedAfterACallTimesOut) {
  StartServer();
  auto client = Client(2);
  ASSERT_TRUE(client->Call(1, Pull(2, 1), kTimeout).get().ok());
  RawSocket control(transport_->context(), server_->endpoint(), &client_keys_[0],
                    server_keys_.public_key);
  for (size_t i = 0; i < RpcServer::kMaxDataSessionsPerRank; ++i) {
    ASSERT_FALSE(OpenSession(control, 2, DataSessionKeys::Generate().value(), 100 + i).empty());
  }
  auto lost = client->Call(1, Pull(2, 2), milliseconds(300)).get();
  EXPECT_EQ(lost.status().code(), StatusCode::kDeadlineExceeded) << lost.status();
  auto again = client->Call(1, Pull(2, 3), kTimeout).get();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->FrameAs<uint64_t>(0)[0], 3u);
  EXPECT_EQ(client->data_sessions_opened(), 2u);
  EXPECT_EQ(server_->data_sessions_opened(), 2u + RpcServer::kMaxDataSessionsPerRank);
}

TEST_F(DataPlaneTest, ANonMemberCanNeitherInjectNorReadAndEveryRejectionIsCounted) {
  StartServer();
  // Rank 2 opens two sessions (say, two clients of the same process).
  RawSocket control(transport_->context(), server_->endpoint(), &client_keys_[0],
                    server_keys_.public_key);
  const auto keys = DataSessionKeys::Generate().value();
  const auto other = DataSessionKeys::Generate().value();
  const std::string data_endpoint = OpenSession(control, 2, keys, 1);
  ASSERT_EQ(data_endpoint, server_->data_endpoint());
  ASSERT_EQ(OpenSession(control, 2, other, 2), data_endpoint);
  auto sealer = DataSealer::Create(keys.id, keys.to_server).value();
  auto opener = DataOpener::Create(keys.id, keys.to_client).value();

  // The member's request, sealed; a non-member sees these bytes on the wire.
  Parts request = EncodeMessage(Pull(2, 40));
  ASSERT_TRUE(sealer->Seal(&request).ok());
  const Parts captured = Copy(request);
  RawSocket member(transport_->context(), data_endpoint, nullptr, "");
  member.Send(std::move(request));
  auto sealed_reply = member.Receive();
  ASSERT_TRUE(sealed_reply.ok()) << sealed_reply.status();
  // What comes back is ciphertext: the keys 40, 41, 42 are not in it.
  const uint64_t key40 = 40;
  for (const auto& part : *sealed_reply) {
    EXPECT_EQ(part.to_string().find(std::string(reinterpret_cast<const char*>(&key40), 8)),
              std::string::npos);
  }
  ASSERT_TRUE(opener->Open(&sealed_reply.value()).ok());
  auto reply = DecodeMessage(std::move(sealed_reply).value());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->FrameAs<uint64_t>(0)[1], 41u);

  // A non-member connects to the data socket (no CURVE there).
  RawSocket attacker(transport_->context(), data_endpoint, nullptr, "");
  // 1. A plain PULL: no session.
  attacker.Send(EncodeMessage(Pull(2, 1)));
  // 2. The captured request, replayed.
  attacker.Send(Copy(captured));
  // 3. A request sealed under the other key pair's key, naming the attacked id.
  {
    auto foreign = DataSealer::Create(keys.id, other.to_server).value();
    for (int i = 0; i < 10; ++i) {  // a counter above the session's, so the tags are checked
      Parts skipped = EncodeMessage(Pull(2, 2));
      ASSERT_TRUE(foreign->Seal(&skipped).ok());
    }
    Parts p = EncodeMessage(Pull(2, 2));
    ASSERT_TRUE(foreign->Seal(&p).ok());
    attacker.Send(std::move(p));
  }
  // 4. A member's later request, truncated (its last frame cut off).
  {
    Parts p = EncodeMessage(Pull(2, 3));
    ASSERT_TRUE(sealer->Seal(&p).ok());
    p.pop_back();
    attacker.Send(std::move(p));
  }
  // 5. A member's request, tampered (one ciphertext bit of the keys frame).
  {
    Parts p = EncodeMessage(Pull(2, 4));
    ASSERT_TRUE(sealer->Seal(&p).ok());
    static_cast<uint8_t*>(p[2].data())[0] ^= 1;
    attacker.Send(std::move(p));
  }
  // 6. Sealed in rank 2's session but claiming to be rank 3 (spoofing).
  Parts spoof = EncodeMessage(Pull(3, 5));
  ASSERT_TRUE(sealer->Seal(&spoof).ok());
  attacker.Send(std::move(spoof));
  // 7. Two of the member's requests, sealed in order, arrive reordered: the
  // later one is served (relayed through the attacker's connection), the
  // earlier one is rejected.
  Parts earlier = EncodeMessage(Pull(2, 60)), later = EncodeMessage(Pull(2, 70));
  ASSERT_TRUE(sealer->Seal(&earlier).ok());
  ASSERT_TRUE(sealer->Seal(&later).ok());
  attacker.Send(std::move(later));
  attacker.Send(std::move(earlier));
  // 8. Last on this connection, a relayed valid request: once its reply is
  // here, the server has handled everything above.
  Parts relayed = EncodeMessage(Pull(2, 80));
  ASSERT_TRUE(sealer->Seal(&relayed).ok());
  attacker.Send(std::move(relayed));

  // The attacker gets two replies (to the relayed 70 and 80), both sealed:
  // without the session's key they do not open, and hold no plaintext key.
  for (uint64_t first : {70u, 80u}) {
    auto got = attacker.Receive();
    ASSERT_TRUE(got.ok()) << got.status();
    const Parts copy = Copy(*got);
    auto wrong = DataOpener::Create(keys.id, other.to_client).value();
    Parts attempt = Copy(copy);
    EXPECT_FALSE(wrong->Open(&attempt).ok());
    for (const auto& part : copy) {
      EXPECT_EQ(part.to_string().find(std::string(reinterpret_cast<const char*>(&first), 8)),
                std::string::npos);
    }
    Parts mine = Copy(copy);
    ASSERT_TRUE(opener->Open(&mine).ok());
    auto decoded = DecodeMessage(std::move(mine));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->FrameAs<uint64_t>(0)[0], first);
  }
  EXPECT_FALSE(attacker.HasQueued());
  EXPECT_FALSE(member.HasQueued());

  const DropStats drops = server_->drop_stats();
  EXPECT_EQ(drops.total, 7u);
  EXPECT_EQ(drops.by_reason.at("data session"), 1u);
  EXPECT_EQ(drops.by_reason.at("data replay"), 2u);  // the replay and the reordered one
  EXPECT_EQ(drops.by_reason.at("data auth"), 2u);    // foreign key, tampered
  EXPECT_EQ(drops.by_reason.at("data truncated"), 1u);
  size_t spoofed = 0;  // the spoofed sender, under its whole reason
  for (const auto& [reason, count] : drops.by_reason) {
    if (reason.find("authenticated as rank 2") != std::string::npos) spoofed += count;
  }
  EXPECT_EQ(spoofed, 1u);
  // Named: the session's member for what was sealed under its session id,
  // the connection for the rest.
  EXPECT_EQ(drops.by_peer.at("rank 2 (data session)"), 6u);
  ASSERT_EQ(drops.by_peer.size(), 2u);
  for (const auto& [peer, count] : drops.by_peer) {
    if (peer != "rank 2 (data session)") {
      EXPECT_NE(peer.find("(data socket)"), std::string::npos) << peer;
      EXPECT_EQ(count, 1u);
    }
  }
  // Served: the member's request and the two relayed ones, all in session keys.id.
  EXPECT_EQ(SessionsSeen(), (std::vector<uint64_t>{keys.id, keys.id, keys.id}));
}

}  // namespace
}  // namespace metaps
