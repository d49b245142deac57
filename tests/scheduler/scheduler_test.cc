// The scheduler protocol on an in-process cluster: every rank is a thread,
// sockets are ZeroMQ inproc. Registration, gathers, failure detection by
// heartbeat timeout, abort propagation, scheduler loss, ordered shutdown.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <thread>

#include "common/scheduler_client.h"

namespace metaps {
namespace {

using std::chrono::milliseconds;

// Sums the members' contributions (text = an integer) and replies the sum.
class SumDriver : public JobDriver {
 public:
  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override {
    if (name == "fail") return InvalidArgument("the job refused this gather");
    int64_t sum = 0;
    for (auto& e : entries) sum += std::stoll(e.request.header.control().text());
    std::lock_guard<std::mutex> lock(mu);
    gathers.push_back({name, static_cast<int>(entries.size())});
    reply->set_value(sum);
    return Status::Ok();
  }
  std::mutex mu;
  std::vector<std::pair<std::string, int>> gathers;
};

using MemberBody = std::function<Status(int rank, SchedulerClient&)>;

struct ClusterResult {
  Status scheduler;
  std::vector<Status> members;  // indexed by rank; [0] unused
  std::vector<ClockTracker::Grant> grants;
  uint64_t clock_waits = 0;
};

// Runs 1 scheduler + `servers` + `workers` ranks as threads.
ClusterResult RunCluster(int servers, int workers, JobDriver* driver, const MemberBody& body,
                         HeartbeatOptions heartbeat = {milliseconds(50), milliseconds(600)},
                         int64_t staleness = -1) {
  TransportOptions t;
  t.curve = false;
  t.scheme = "inproc";
  auto transport = Transport::Create(t).value();
  const int world = 1 + servers + workers;
  auto layout = ClusterLayout::Make(world, servers).value();
  InProcessRendezvous rendezvous(world);
  ClusterResult result;
  result.members.resize(static_cast<size_t>(world));
  static std::atomic<int> job_counter{0};
  const int job = job_counter++;
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto bootstrap = rendezvous.ForRank(r);
      RpcServer::Options so;
      so.name = "job" + std::to_string(job) + "-rank" + std::to_string(r);
      so.world_size = world;
      if (r == 0) so.tick = milliseconds(20);
      auto server = RpcServer::Create(transport.get(), {}, so).value();
      wire::PeerInfo mine;
      mine.set_rank(r);
      mine.set_role(layout.RoleOf(r));
      mine.set_endpoint(server->endpoint());
      mine.set_host("in-process");
      auto view = ExchangePeerInfo(bootstrap.get(), layout, mine).value();
      if (r == 0) {
        SchedulerOptions options;
        options.heartbeat_timeout = heartbeat.timeout;
        options.tick = milliseconds(20);
        options.staleness = staleness;
        Scheduler scheduler(server.get(), view, driver, options);
        result.scheduler = scheduler.Run();
        result.grants = scheduler.clocks().grants();
        result.clock_waits = scheduler.clocks().waits();
        server->Stop();
        return;
      }
      server->Start([](const PeerAddress&, Message) {});
      auto client = RpcClient::Create(transport.get(), {}, r, world, "m").value();
      client->AddPeer(0, view.peer(0).endpoint(), "");
      SchedulerClient scheduler(client.get(), view, heartbeat);
      scheduler.StartHeartbeats();
      Status s = scheduler.Register();
      if (s.ok()) s = body(r, scheduler);
      if (s.ok()) s = scheduler.Barrier("shutdown", kGroupMembers);
      scheduler.StopHeartbeats();
      client->Close();
      server->Stop();
      result.members[static_cast<size_t>(r)] = s;
    });
  }
  for (auto& th : threads) th.join();
  return result;
}

TEST(SchedulerTest, RegistrationGathersAndOrderedShutdown) {
  SumDriver driver;
  std::atomic<int> replies_ok{0};
  auto result = RunCluster(2, 3, &driver, [&](int rank, SchedulerClient& s) -> Status {
    ASSIGN_OR_RETURN(Message all, s.Gather("sum", kGroupMembers, std::to_string(rank)));
    // Ranks 1..5 sum to 15 for every member.
    if (all.header.control().value() != 15) return Internal("wrong sum");
    if (rank >= 3) {  // workers only: ranks 3, 4, 5
      ASSIGN_OR_RETURN(Message w, s.Gather("workers", kGroupWorkers, std::to_string(rank)));
      if (w.header.control().value() != 12) return Internal("wrong worker sum");
    }
    ++replies_ok;
    return Status::Ok();
  });
  EXPECT_TRUE(result.scheduler.ok()) << result.scheduler;
  for (int r = 1; r <= 5; ++r) EXPECT_TRUE(result.members[r].ok()) << r << result.members[r];
  EXPECT_EQ(replies_ok.load(), 5);
  ASSERT_EQ(driver.gathers.size(), 2u);
  EXPECT_EQ(driver.gathers[0], std::make_pair(std::string("sum"), 5));
  EXPECT_EQ(driver.gathers[1], std::make_pair(std::string("workers"), 3));
}

// Workers of different speeds: worker 0 does no work per step, the others
// spin on a fixed amount of arithmetic. Returns the scheduler's grants.
ClusterResult RunClocks(int64_t staleness, int steps) {
  SumDriver driver;
  return RunCluster(
      1, 3, &driver,
      [&](int rank, SchedulerClient& s) -> Status {
        if (rank == 1) return Status::Ok();  // the server
        volatile double sink = 0;
        for (int step = 1; step <= steps; ++step) {
          if (rank != 2) {
            for (int i = 0; i < 200000; ++i) sink = sink + i * 1e-9;
          }
          RETURN_IF_ERROR(s.Clock(step).status());
        }
        return Status::Ok();
      },
      {milliseconds(50), milliseconds(2000)}, staleness);
}

TEST(SchedulerTest, BspAndSspKeepEveryWorkerWithinTheStalenessBound) {
  for (int64_t staleness : {0, 2}) {
    auto result = RunClocks(staleness, 12);
    ASSERT_TRUE(result.scheduler.ok()) << result.scheduler;
    for (int r = 1; r <= 4; ++r) ASSERT_TRUE(result.members[r].ok()) << result.members[r];
    ASSERT_EQ(result.grants.size(), 3u * 12) << "staleness " << staleness;
    for (const auto& g : result.grants) {
      EXPECT_LE(g.clock - g.min_clock, staleness)
          << "worker " << g.worker << " went on from step " << g.clock << " with the slowest at "
          << g.min_clock;
    }
    // Under BSP all but the last worker to finish a step wait, every step.
    if (staleness == 0) {
      EXPECT_GE(result.clock_waits, 2u * 12);
    }
  }
}

TEST(SchedulerTest, AspRecordsClocksWithoutWaiting) {
  auto result = RunClocks(-1, 12);
  ASSERT_TRUE(result.scheduler.ok()) << result.scheduler;
  EXPECT_EQ(result.clock_waits, 0u);
  EXPECT_EQ(result.grants.size(), 3u * 12);
}

TEST(SchedulerTest, SilentMemberIsDeclaredDeadWithinTwoTimeouts) {
  SumDriver driver;
  const HeartbeatOptions heartbeat{milliseconds(50), milliseconds(600)};
  auto result = RunCluster(
      1, 2, &driver,
      [&](int rank, SchedulerClient& s) -> Status {
        // Rank 2 goes silent, as a hung or partitioned process would.
        // Neither gather can complete: everyone waits until the scheduler acts.
        if (rank == 2) {
          s.StopHeartbeats();
          return s.Gather("silent", kGroupMembers, "0").status();
        }
        return s.Gather("waiting", kGroupMembers, "0").status();
      },
      heartbeat);
  ASSERT_EQ(result.scheduler.code(), StatusCode::kUnavailable) << result.scheduler;
  const std::string& why = result.scheduler.message();
  EXPECT_NE(why.find("worker 0 (rank 2"), std::string::npos) << why;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(why, m, std::regex("no heartbeat for ([0-9]+) ms"))) << why;
  EXPECT_LT(std::stoi(m[1]), 2 * heartbeat.timeout.count());
  // The others were released with the reason instead of hanging.
  for (int r : {1, 3}) {
    EXPECT_EQ(result.members[r].code(), StatusCode::kAborted) << result.members[r];
    EXPECT_NE(result.members[r].message().find("rank 2"), std::string::npos);
  }
}

TEST(SchedulerTest, JobErrorAbortsEveryMember) {
  SumDriver driver;
  auto result = RunCluster(1, 1, &driver, [&](int, SchedulerClient& s) -> Status {
    return s.Gather("fail", kGroupMembers, "1").status();
  });
  EXPECT_EQ(result.scheduler.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(result.scheduler.message().find("the job refused this gather"), std::string::npos);
  EXPECT_EQ(result.members[1].code(), StatusCode::kAborted);
  EXPECT_EQ(result.members[2].code(), StatusCode::kAborted);
}

TEST(SchedulerTest, GatherWithAGroupThatExcludesTheCallerIsRefused) {
  SumDriver driver;
  auto result = RunCluster(1, 1, &driver, [&](int rank, SchedulerClient& s) -> Status {
    if (rank != 1) return Status::Ok();
    auto r = s.Gather("servers-only-not", kGroupWorkers, "0");  // rank 1 is a server
    return r.status().code() == StatusCode::kInvalidArgument ? Status::Ok() : Internal("accepted");
  });
  EXPECT_TRUE(result.scheduler.ok()) << result.scheduler;
  EXPECT_TRUE(result.members[1].ok()) << result.members[1];
}

// Model selection's worker groups: two ranges of two workers gather apart,
// each under its own name prefix while a Scope lives; a scoped gather that
// includes the servers, and a range that excludes the caller, are refused.
TEST(SchedulerTest, WorkerRangeGroupsGatherApartUnderScopes) {
  SumDriver driver;
  auto result = RunCluster(1, 4, &driver, [&](int rank, SchedulerClient& s) -> Status {
    if (rank == 1) return Status::Ok();  // the server
    const int worker = rank - 2, g = worker / 2;
    const uint32_t group = WorkerRangeGroup(2 * g, 2);
    {
      SchedulerClient::Scope scope(&s, "trial/" + std::to_string(g) + "/", group);
      // Workers 0+1 are ranks 2+3, workers 2+3 ranks 4+5.
      ASSIGN_OR_RETURN(Message m, s.Gather("eval", kGroupWorkers, std::to_string(rank)));
      const int64_t want = g == 0 ? 5 : 9;
      if (m.header.control().value() != want) {
        return Internal("group " + std::to_string(g) + " sum " +
                        std::to_string(m.header.control().value()));
      }
      if (s.Gather("ps/sync/0", kGroupMembers, "0").status().code() !=
          StatusCode::kInvalidArgument) {
        return Internal("a scoped gather with the servers was not refused");
      }
      if (s.Clock(1).status().code() != StatusCode::kInvalidArgument) {
        return Internal("a scoped CLOCK was not refused");
      }
    }
    // The scope is gone: the plain name and group again.
    ASSIGN_OR_RETURN(Message all, s.Gather("all", kGroupWorkers, std::to_string(rank)));
    if (all.header.control().value() != 14) return Internal("wrong sum of every worker");
    // A range that does not hold the caller.
    Status refused = s.Gather("other", WorkerRangeGroup(g == 0 ? 2 : 0, 2), "0").status();
    if (refused.ok()) return Internal("a range without the caller was accepted");
    return Status::Ok();
  });
  EXPECT_TRUE(result.scheduler.ok()) << result.scheduler;
  for (int r = 1; r <= 5; ++r) EXPECT_TRUE(result.members[r].ok()) << r << result.members[r];
  std::map<std::string, int> gathers(driver.gathers.begin(), driver.gathers.end());
  EXPECT_EQ(gathers["trial/0/eval"], 2);
  EXPECT_EQ(gathers["trial/1/eval"], 2);
  EXPECT_EQ(gathers["all"], 4);
  EXPECT_EQ(gathers.count("eval"), 0u);
}

TEST(ClusterLayoutTest, WorkerRangeGroupRoundTrips) {
  constexpr uint32_t g = WorkerRangeGroup(37, 5);
  static_assert((g & kGroupMembers) == 0, "a range never carries the role bits");
  EXPECT_TRUE(g & kGroupWorkerRange);
  EXPECT_EQ(WorkerRangeFirst(g), 37);
  EXPECT_EQ(WorkerRangeCount(g), 5);
  EXPECT_EQ(WorkerRangeFirst(WorkerRangeGroup(kMaxWorkerRange - 1, 1)), kMaxWorkerRange - 1);
  EXPECT_EQ(WorkerRangeCount(WorkerRangeGroup(0, kMaxWorkerRange)), kMaxWorkerRange);
}

TEST(SchedulerClientTest, DetectsLostScheduler) {
  TransportOptions t;
  t.curve = false;
  t.scheme = "inproc";
  auto transport = Transport::Create(t).value();
  RpcServer::Options so;
  so.name = "lost-scheduler";
  so.world_size = 2;
  auto server = RpcServer::Create(transport.get(), {}, so).value();
  std::atomic<bool> answering{true};
  server->Start([&](const PeerAddress& from, Message m) {
    if (answering && m.header.type() == wire::HEARTBEAT)
      server->Reply(from, MakeReply(m.header, 0));
    if (m.header.type() == wire::BARRIER) answering = false;  // dies while members wait
  });
  ClusterView view;
  view.layout = ClusterLayout::Make(3, 1).value();
  view.my_rank = 1;
  view.peers.resize(3);
  view.peers[0].set_host("scheduler-host");
  auto client = RpcClient::Create(transport.get(), {}, 1, 2, "lost").value();
  client->AddPeer(0, server->endpoint(), "");
  SchedulerClient scheduler(client.get(), view, {milliseconds(30), milliseconds(300)});
  scheduler.StartHeartbeats();
  auto r = scheduler.Gather("forever", kGroupMembers);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("lost the scheduler (rank 0, host scheduler-host)"),
            std::string::npos)
      << r.status();
  scheduler.StopHeartbeats();
  client->Close();
  server->Stop();
}

TEST(ClusterLayoutTest, RolesAndValidation) {
  auto layout = ClusterLayout::Make(6, 2).value();
  EXPECT_EQ(layout.RoleOf(0), wire::SCHEDULER);
  EXPECT_EQ(layout.RoleOf(2), wire::SERVER);
  EXPECT_EQ(layout.RoleOf(3), wire::WORKER);
  EXPECT_EQ(layout.num_workers(), 3);
  EXPECT_EQ(layout.WorkerRank(0), 3);
  EXPECT_EQ(layout.Describe(4), "worker 1");
  EXPECT_NE(ClusterLayout::Make(3, 2).status().message().find("needs at least 4 ranks"),
            std::string::npos);
  EXPECT_FALSE(ClusterLayout::Make(5, 0).ok());
}

}  // namespace
}  // namespace metaps
