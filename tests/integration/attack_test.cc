// The attack table: a raw ZeroMQ client (no metaps RpcClient) sends what a
// hostile peer could, over loopback tcp, to a real ParameterServer and a real
// Scheduler, under --insecure and under CURVE with an authorized monitor key.
// Every attack must be dropped or refused, counted, and leave the members'
// results unaffected. Loops are bounded; nothing waits on wall time except the
// scheduler's own heartbeat timeout.
#include <gtest/gtest.h>

#include <thread>
#include <zmq_addon.hpp>

#include "common/ps_messages.h"
#include "common/rpc.h"
#include "common/scheduler_client.h"
#include "ps/server.h"
#include "scheduler/scheduler.h"
#include "tests/common/raw_dealer.h"

namespace metaps {
namespace {

using std::chrono::milliseconds;

constexpr uint32_t kTable = 3;
constexpr int kDim = 4;
constexpr int kWorld = 4;  // 0 scheduler (absent here), 1 server, 2 and 3 workers
constexpr uint64_t kSeed = 11;

TableSpec Spec(int evict_after_steps = 0) {
  TableSpec t;
  t.id = kTable;
  t.name = "t";
  t.dim = kDim;
  t.init = InitializerSpec::Uniform(0.5f);
  t.optimizer.kind = OptimizerKind::kSgd;
  t.optimizer.lr = 0.5f;
  t.evict_after_steps = evict_after_steps;
  return t;
}

Message PushMessage(int sender, int64_t clock, const std::vector<uint64_t>& keys, float grad) {
  Message m = MakeMessage(wire::PUSH, sender);
  m.header.set_table_id(kTable);
  m.header.set_clock(clock);
  m.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
  std::vector<float> g(keys.size() * kDim, grad);
  if (!keys.empty()) m.AddCopy(g.data(), g.size() * sizeof(float));
  return m;
}

// A raw DEALER: the attacker's client, speaking whole messages.
class RawPeer : public metaps::testing::RawDealer {
 public:
  RawPeer(zmq::context_t& ctx, const std::string& endpoint, const std::string& server_key,
          const CurveKeyPair* keys)
      : RawDealer(ctx, endpoint, keys, server_key) {}
  using RawDealer::Send;
  void Send(Message m) { Send(EncodeMessage(std::move(m))); }
  // The next reply, or an error when none comes within `timeout`.
  StatusOr<Message> Receive(milliseconds timeout = milliseconds(10000)) {
    ASSIGN_OR_RETURN(Parts parts, ReceiveParts(timeout));
    return DecodeMessage(std::move(parts));
  }
};

// One ParameterServer (rank 1) on loopback tcp and two worker clients (ranks 2, 3).
class PsUnderAttack : public ::testing::TestWithParam<bool> {
 protected:
  void Start(int bsp_workers, int evict_after_steps = 0, const TableSpec* extra = nullptr,
             int64_t max_frame_bytes = 0) {
    curve_ = GetParam();
    TransportOptions t;
    t.curve = curve_;
    t.max_message_bytes = 4 << 20;
    transport_ = Transport::Create(t).value();
    if (curve_) {
      server_keys_ = GenerateCurveKeyPair().value();
      for (auto& k : worker_keys_) k = GenerateCurveKeyPair().value();
      monitor_keys_ = GenerateCurveKeyPair().value();
      transport_->Authorize(server_keys_.public_key, 1);
      transport_->Authorize(worker_keys_[0].public_key, 2);
      transport_->Authorize(worker_keys_[1].public_key, 3);
      transport_->Authorize(monitor_keys_.public_key, kMonitorRank);
    }
    view_.layout = ClusterLayout::Make(kWorld, 1).value();
    view_.peers.resize(kWorld);
    view_.my_rank = 1;
    RpcServer::Options o;
    o.name = "attacked-ps";
    o.world_size = kWorld;
    o.rank = 1;  // with CURVE, the workers' PULL and PUSH use the aead data plane
    o.watch_connections = true;
    o.max_frame_bytes = max_frame_bytes;
    rpc_ = RpcServer::Create(transport_.get(), server_keys_, o).value();
    server_ = std::make_unique<ParameterServer>(rpc_.get(), view_);
    ASSERT_TRUE(server_->AddTable(Spec(evict_after_steps), kSeed).ok());
    if (extra != nullptr) {
      ASSERT_TRUE(server_->AddTable(*extra, kSeed).ok());
    }
    if (bsp_workers > 1) server_->EnableBspAggregation(bsp_workers);
    server_->Start();
    for (int w = 0; w < 2; ++w) {
      workers_[w] =
          RpcClient::Create(transport_.get(), worker_keys_[w], 2 + w, kWorld, "w").value();
      workers_[w]->AddPeer(1, rpc_->endpoint(), server_keys_.public_key);
    }
  }
  void TearDown() override {
    for (auto& w : workers_) {
      if (w) w->Close();
    }
    server_.reset();
  }
  std::unique_ptr<RawPeer> Attacker(bool monitor_key = false) {
    return std::make_unique<RawPeer>(
        transport_->context(), rpc_->endpoint(), server_keys_.public_key,
        curve_ ? (monitor_key ? &monitor_keys_ : &worker_keys_[0]) : nullptr);
  }
  std::future<StatusOr<Message>> Push(int w, int64_t clock, const std::vector<uint64_t>& keys,
                                      float grad) {
    return workers_[w]->Call(1, PushMessage(2 + w, clock, keys, grad), milliseconds(20000));
  }
  // Rows of the table after serving stopped: key -> values.
  std::map<uint64_t, std::vector<float>> Rows() {
    server_->Stop();
    std::map<uint64_t, std::vector<float>> rows;
    server_->tables()[0]->ForEachRow(
        [&](uint64_t key, const float* row) { rows[key].assign(row, row + kDim); });
    return rows;
  }

  bool curve_ = false;
  std::unique_ptr<Transport> transport_;
  CurveKeyPair server_keys_, monitor_keys_;
  CurveKeyPair worker_keys_[2];
  ClusterView view_;
  std::unique_ptr<RpcServer> rpc_;
  std::unique_ptr<ParameterServer> server_;
  std::unique_ptr<RpcClient> workers_[2];
};

// The expected rows: every key's initial value minus lr * the summed gradients.
std::map<uint64_t, std::vector<float>> Expected(
    const std::vector<std::pair<std::vector<uint64_t>, float>>& pushes) {
  auto reference = EmbeddingTable::Create(Spec(), kSeed).value();
  int64_t clock = 1;
  for (const auto& [keys, grad] : pushes) {
    std::vector<float> g(keys.size() * kDim, grad);
    EXPECT_TRUE(reference->Push(keys.data(), keys.size(), g.data(), clock++).ok());
  }
  std::map<uint64_t, std::vector<float>> rows;
  reference->ForEachRow([&](uint64_t key, const float* row) { rows[key].assign(row, row + kDim); });
  return rows;
}

// Far-future and far-past clocks, a push from the scheduler's and the server's
// rank, a huge frame, a garbage header and a flood of distinct drop reasons,
// all during a BSP job of two workers: each is refused and counted, and the
// two workers' steps complete with exactly the rows they alone produce.
TEST_P(PsUnderAttack, BspStepsCompleteWithTheRightRowsWhileAttacked) {
  Start(/*bsp_workers=*/2);
  const std::vector<uint64_t> a = {1, 2}, b = {2, 3};
  // Step 1 by both workers.
  auto s1a = Push(0, 1, a, 1.0f);
  auto s1b = Push(1, 1, b, 2.0f);
  ASSERT_TRUE(s1a.get().ok());
  ASSERT_TRUE(s1b.get().ok());

  auto attacker = Attacker();
  const int spoofed = curve_ ? 2 : 3;  // under CURVE the attacker holds worker 2's key
  // Far-future clock: not held, not applied, answered with the window.
  attacker->Send(PushMessage(spoofed, int64_t{1} << 62, {1, 2, 3}, 100.0f));
  auto future = attacker->Receive();
  ASSERT_TRUE(future.ok()) << future.status();
  EXPECT_NE(ReplyStatus(future->header).message().find("clock window"), std::string::npos);
  // Far-past clock: step 1 is complete; holding step 0 would never end.
  attacker->Send(PushMessage(spoofed, 0, {1}, 100.0f));
  auto past = attacker->Receive();
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_NE(ReplyStatus(past->header).message().find("clock window"), std::string::npos);
  if (!curve_) {
    // Pushes claiming the scheduler's and the server's rank do not count
    // towards the BSP step (under CURVE the sender must be the key's rank).
    for (int rank : {0, 1}) {
      attacker->Send(PushMessage(rank, 2, {1, 2, 3}, 100.0f));
      auto role = attacker->Receive();
      ASSERT_TRUE(role.ok()) << role.status();
      EXPECT_EQ(ReplyStatus(role->header).code(), StatusCode::kPermissionDenied);
    }
  }
  // A garbage header over the header limit (under the frame limit).
  {
    std::vector<zmq::message_t> p;
    p.emplace_back(kMaxHeaderBytes + 1);
    std::memset(p[0].data(), 0x0a, p[0].size());
    attacker->Send(std::move(p));
  }
  // Many distinct reasons (a peer-chosen protocol version in each).
  constexpr int kFlood = 100;
  for (int v = 0; v < kFlood; ++v) {
    Message m = MakeMessage(wire::PING, spoofed);
    m.header.set_version(1000 + v);
    attacker->Send(std::move(m));
  }
  // A frame over --max-message-mb: ZeroMQ closes that connection.
  {
    auto huge = Attacker();
    std::vector<zmq::message_t> p;
    p.emplace_back(size_t{8} << 20);
    huge->Send(std::move(p));
    EXPECT_FALSE(huge->Receive(milliseconds(300)).ok());
  }
  // A ping on the attacker's connection is answered after all of the above.
  attacker->Send(MakeMessage(wire::PING, spoofed));
  ASSERT_TRUE(attacker->Receive().ok());

  // Step 2 by both workers completes.
  auto s2a = Push(0, 2, a, 3.0f);
  auto s2b = Push(1, 2, b, 4.0f);
  ASSERT_TRUE(s2a.get().ok());
  ASSERT_TRUE(s2b.get().ok());

  const DropStats drops = rpc_->drop_stats();
  EXPECT_GE(drops.total, static_cast<uint64_t>(kFlood + 3));
  EXPECT_LE(drops.by_reason.size(), DropStats::kMaxDropReasons);
  EXPECT_EQ(drops.by_reason.count("header frame too large"), 1u);
  const ServerStats stats = server_->stats();
  EXPECT_EQ(stats.clock_dropped, 2u);
  EXPECT_EQ(stats.role_dropped, curve_ ? 0u : 2u);
  EXPECT_EQ(Rows(), Expected({{a, 1.0f}, {b, 2.0f}, {a, 3.0f}, {b, 4.0f}}));
}

// A server's frame limit comes from its tables' dims (ServerFrameLimit), below
// the transport's --max-message-mb: a frame between the two is refused by the
// server's socket before it is allocated, and the workers go on.
TEST_P(PsUnderAttack, ServerFrameLimitIsBelowTheTransportsAndEnforced) {
  EXPECT_EQ(ServerFrameLimit(8), int64_t{8} * (1 << 17) * kMaxFrames + (64 << 10));  // 64 MiB
  EXPECT_EQ(ServerFrameLimit(64), (int64_t{8} << 20) + (64 << 10));
  EXPECT_EQ(ServerFrameLimit(4096), int64_t{8} << 20);  // the floor
  // Whatever a table serves in one PULL fits the limit.
  for (int dim : {1, 8, 16, 64, 256, 4096}) {
    EXPECT_GE(ServerFrameLimit(dim),
              static_cast<int64_t>(RowsPerChunk(dim) * kMaxFrames * sizeof(uint64_t)));
  }
  Start(/*bsp_workers=*/1, 0, nullptr, /*max_frame_bytes=*/1 << 20);  // transport: 4 MiB
  // A read-only PULL whose keys frame (1.25 MiB) the transport would take.
  auto pull = [](size_t n) {
    Message m = MakeMessage(wire::PULL, 2);
    m.header.set_table_id(kTable);
    m.header.set_read_only(true);
    std::vector<uint64_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = i;
    m.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
    return m;
  };
  auto huge = Attacker();
  huge->Send(pull(160 << 10));
  EXPECT_FALSE(huge->Receive(milliseconds(300)).ok());
  auto small = Attacker();
  small->Send(pull(1000));
  auto answered = small->Receive();
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_TRUE(ReplyStatus(answered->header).ok()) << ReplyStatus(answered->header);
  ASSERT_TRUE(Push(0, 1, {1, 2}, 1.0f).get().ok());
  EXPECT_EQ(Rows(), Expected({{{1, 2}, 1.0f}}));
}

// A PUSH at clock 2^62 used to run eviction at that clock and remove every row
// it did not touch. Now it is dropped, and eviction follows the server's clock.
TEST_P(PsUnderAttack, FarFutureClockDoesNotWipeTheTable) {
  Start(/*bsp_workers=*/0, /*evict_after_steps=*/8);
  ASSERT_TRUE(Push(0, 1, {1, 2, 3, 4}, 1.0f).get().ok());
  auto attacker = Attacker();
  attacker->Send(PushMessage(curve_ ? 2 : 2, int64_t{1} << 62, {5}, 1.0f));
  auto r = attacker->Receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(ReplyStatus(r->header).message().find("clock window"), std::string::npos);
  ASSERT_TRUE(Push(1, 2, {6}, 1.0f).get().ok());
  EXPECT_EQ(server_->clock(), 2);
  EXPECT_EQ(server_->stats().clock_dropped, 1u);
  EXPECT_EQ(Rows().size(), 5u);  // 1..4 and 6; nothing evicted, 5 never created
}

// A BSP step cannot complete once a worker's connection closed: the pushes
// held for it are answered Aborted at once instead of being held forever.
TEST_P(PsUnderAttack, HeldBspPushesExpireWhenAWorkersConnectionCloses) {
  Start(/*bsp_workers=*/2);
  Message pull = MakeMessage(wire::PULL, 2);
  pull.header.set_table_id(kTable);
  const uint64_t key = 1;
  pull.AddCopy(&key, sizeof(key));
  ASSERT_TRUE(workers_[0]->Call(1, std::move(pull), milliseconds(20000)).get().ok());
  auto held = Push(1, 1, {2}, 1.0f);  // waits for worker 2's push of step 1
  // Worker 3's push is held before worker 2 leaves: a read-only pull on its
  // connection is answered after the push was handled. (A pull, not a ping:
  // with the aead data plane PULL and PUSH share the data connection, and
  // order holds within one connection only.)
  Message probe = MakeMessage(wire::PULL, 3);
  probe.header.set_table_id(kTable);
  probe.header.set_read_only(true);
  probe.AddCopy(&key, sizeof(key));
  ASSERT_TRUE(workers_[1]->Call(1, std::move(probe), milliseconds(20000)).get().ok());
  workers_[0]->Close();
  auto expired = held.get();
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kAborted) << expired.status();
  EXPECT_NE(expired.status().message().find("connection of worker rank 2 closed"),
            std::string::npos)
      << expired.status();
  EXPECT_EQ(server_->stats().held_expired, 1u);
  EXPECT_TRUE(Rows().count(2) == 0);  // never applied
}

// One PULL creates at most RowsPerChunk(dim) * kMaxFrames rows (its reply must
// fit in kMaxFrames frames): a larger one is refused before any row exists.
TEST_P(PsUnderAttack, RowsCreatedPerPullAreBounded) {
  TableSpec wide = Spec();
  wide.id = 9;
  wide.dim = 1 << 16;  // 16 rows per 4 MiB chunk: at most 1024 rows per PULL
  Start(/*bsp_workers=*/0, 0, &wide);
  const size_t max_rows = RowsPerChunk(wide.dim) * kMaxFrames;
  ASSERT_EQ(max_rows, 1024u);
  std::vector<uint64_t> keys(max_rows + 1);
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = i;
  Message pull = MakeMessage(wire::PULL, 2);
  pull.header.set_table_id(9);
  pull.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
  auto refused = workers_[0]->Call(1, std::move(pull), milliseconds(20000)).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("at most 1024 keys per request"), std::string::npos)
      << refused.status();
  server_->Stop();
  EXPECT_EQ(server_->tables()[1]->stats().rows, 0u);
}

// A monitor key (--authorized-keys) may ping and nothing else, whatever rank
// its header claims.
TEST_P(PsUnderAttack, MonitorKeyMayOnlyPing) {
  if (!GetParam()) GTEST_SKIP() << "monitor keys exist under CURVE only";
  Start(/*bsp_workers=*/0);
  auto monitor = Attacker(/*monitor_key=*/true);
  monitor->Send(MakeMessage(wire::PING, 2));
  auto pong = monitor->Receive();
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_TRUE(ReplyStatus(pong->header).ok());
  monitor->Send(PushMessage(2, 1, {1}, 1.0f));
  monitor->Send(MakeMessage(wire::PULL, 3));
  monitor->Send(MakeMessage(wire::BARRIER, 2));
  monitor->Send(MakeMessage(wire::PING, 2));  // answered: the three above were dropped
  auto last = monitor->Receive();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->header.type(), wire::PING);
  const DropStats drops = rpc_->drop_stats();
  EXPECT_EQ(drops.total, 3u);
  EXPECT_EQ(drops.by_reason.count("role"), 1u);
  EXPECT_EQ(server_->stats().push_requests, 0u);
  EXPECT_TRUE(Rows().empty());
}

INSTANTIATE_TEST_SUITE_P(InsecureAndCurve, PsUnderAttack, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Curve" : "Insecure";
                         });

class NoGathers : public JobDriver {
 public:
  Status OnGather(const std::string&, std::vector<GatherEntry>&, wire::Control*) override {
    return Status::Ok();
  }
};

// A scheduler (rank 0) with one server (1) and one worker (2) over loopback
// tcp, --insecure. The worker registers and then stops (no heartbeats, its
// connection stays open) while an attacker sends heartbeats claiming its rank:
// they are dropped (identity), so the stopped rank is still declared dead.
// The worker also floods gathers: only kMaxGathersPerRank wait, the rest and
// an over-long name are refused.
TEST(SchedulerUnderAttack, SpoofedHeartbeatsDoNotHideAStoppedRankAndGathersAreBounded) {
  TransportOptions t;
  t.curve = false;
  auto transport = Transport::Create(t).value();
  constexpr int world = 3;
  auto layout = ClusterLayout::Make(world, 1).value();
  InProcessRendezvous rendezvous(world);
  const HeartbeatOptions heartbeat{milliseconds(50), milliseconds(800)};
  Status scheduler_status;
  DropStats scheduler_drops;
  std::atomic<bool> finished{false};
  std::string scheduler_endpoint;
  bool registered = false;  // GUARDED_BY(mu)
  std::mutex mu;
  std::condition_variable cv;
  int refused_gathers = 0, refused_name = 0;
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto bootstrap = rendezvous.ForRank(r);
      RpcServer::Options so;
      so.name = "sched-attack-" + std::to_string(r);
      so.world_size = world;
      if (r == 0) {
        so.tick = milliseconds(20);
        so.watch_connections = true;
      }
      auto server = RpcServer::Create(transport.get(), {}, so).value();
      wire::PeerInfo mine;
      mine.set_rank(r);
      mine.set_role(layout.RoleOf(r));
      mine.set_endpoint(server->endpoint());
      mine.set_host("elsewhere");  // the scheduler cannot check the pid
      auto view = ExchangePeerInfo(bootstrap.get(), layout, mine).value();
      if (r == 0) {
        {
          std::lock_guard<std::mutex> lock(mu);
          scheduler_endpoint = server->endpoint();
        }
        cv.notify_all();
        SchedulerOptions options;
        options.heartbeat_timeout = heartbeat.timeout;
        options.registration_timeout = milliseconds(20000);
        options.tick = milliseconds(20);
        NoGathers driver;
        Scheduler scheduler(server.get(), view, &driver, options);
        scheduler_status = scheduler.Run();
        scheduler_drops = server->drop_stats();
        finished = true;
        return;
      }
      server->Start([](const PeerAddress&, Message) {});
      auto client = RpcClient::Create(transport.get(), {}, r, world, "m").value();
      client->AddPeer(0, view.peer(0).endpoint(), "");
      SchedulerClient scheduler(client.get(), view, heartbeat);
      scheduler.StartHeartbeats();
      const bool ok = scheduler.Register().ok();
      if (ok && r == 2) {
        scheduler.StopHeartbeats();  // "stopped": silent, connection open
        {
          std::lock_guard<std::mutex> lock(mu);
          registered = true;
        }
        cv.notify_all();
        std::vector<std::future<StatusOr<Message>>> gathers;
        for (int g = 0; g < kMaxGathersPerRank + 4; ++g) {
          Message m = MakeMessage(wire::BARRIER, r);
          m.header.mutable_control()->set_name("g" + std::to_string(g));
          m.header.mutable_control()->set_group(kGroupMembers);
          gathers.push_back(client->Call(0, std::move(m), milliseconds(30000)));
        }
        Message long_name = MakeMessage(wire::BARRIER, r);
        long_name.header.mutable_control()->set_name(std::string(kMaxGatherNameChars + 1, 'x'));
        long_name.header.mutable_control()->set_group(kGroupMembers);
        auto named = client->Call(0, std::move(long_name), milliseconds(30000)).get();
        if (named.status().code() == StatusCode::kInvalidArgument) refused_name++;
        for (auto& g : gathers) {
          auto s = g.get().status();
          if (s.code() == StatusCode::kInvalidArgument) refused_gathers++;
        }
      } else {
        (void)scheduler.Barrier("shutdown", kGroupMembers);
        scheduler.StopHeartbeats();
      }
      client->Close();
      server->Stop();
    });
  }
  // The attacker: heartbeats for rank 2 from its own connection, each after
  // the previous one's reply, until the scheduler gives up (bounded).
  std::string endpoint;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !scheduler_endpoint.empty() && registered; });
    endpoint = scheduler_endpoint;
  }
  int sent = 0;
  {
    RawPeer attacker(transport->context(), endpoint, "", nullptr);
    for (; sent < 1000000 && !finished; ++sent) {
      attacker.Send(MakeMessage(wire::HEARTBEAT, 2));
      (void)attacker.Receive(milliseconds(20));
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(scheduler_status.code(), StatusCode::kUnavailable) << scheduler_status;
  EXPECT_NE(scheduler_status.message().find("rank 2"), std::string::npos) << scheduler_status;
  EXPECT_NE(scheduler_status.message().find("no heartbeat"), std::string::npos) << scheduler_status;
  EXPECT_GT(sent, 0);
  EXPECT_GE(scheduler_drops.by_reason["identity"], 1u);
  EXPECT_EQ(refused_gathers, 4);
  EXPECT_EQ(refused_name, 1);
}

}  // namespace
}  // namespace metaps
