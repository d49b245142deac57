// Tables created and dropped at run time over the wire (TABLE_CREATE and
// TABLE_DROP through PsClient, under a table base), per-table clocks and BSP
// pusher counts, and a trial's tables exported as a plain job's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/curve_keys.h"
#include "common/hash.h"
#include "ps/checkpoint.h"
#include "ps/server.h"
#include "tests/worker/ps_cluster.h"
#include "worker/ps_client.h"

namespace metaps {
namespace {

std::vector<uint64_t> Keys(size_t n) {
  std::vector<uint64_t> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = Mix64(i + 1);
  return keys;
}

std::vector<float> Ramp(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = step * static_cast<float>(i % 97 + 1);
  return v;
}

size_t TotalBytes(PsCluster& cluster, int servers) {
  size_t bytes = 0;
  for (int s = 0; s < servers; ++s) bytes += cluster.server(s).TableBytes();
  return bytes;
}

// A trial's table at base + id: created on every server over the wire, its
// rows initialized like the job's table it is seeded as, pulled and pushed
// through the base, and dropped with nothing left behind.
TEST(PsClientTablesTest, CreatePullPushDropUnderATableBase) {
  TableSpec job_table = Spec(0, 8, OptimizerKind::kAdagrad, 0.1f);
  PsCluster cluster(2, {job_table});
  const std::vector<uint64_t> keys = Keys(2000);
  std::vector<float> job_rows(keys.size() * 8);
  ASSERT_TRUE(cluster.client().Pull(0, keys.data(), keys.size(), job_rows.data()).Wait().ok());
  const size_t bytes_before = TotalBytes(cluster, 2);

  PsClient& trial = cluster.client();
  trial.set_table_base(1000);
  EXPECT_EQ(trial.table_base(), 1000u);
  TableSpec spec = job_table;  // logical id 0, seeded as the job's table 0
  spec.name = "trial-embedding";
  spec.seed_id = 0;
  ASSERT_TRUE(trial.CreateTable(spec, kSeed, 0).ok());
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(cluster.server(s).TableIds(), (std::vector<uint32_t>{0, 1000}));
  }
  // A retried request is OK; another spec at the id is refused, naming the server.
  EXPECT_TRUE(trial.CreateTable(spec, kSeed, 0).ok());
  TableSpec other = spec;
  other.dim = 16;
  Status clash = trial.CreateTable(other, kSeed, 0);
  EXPECT_EQ(clash.code(), StatusCode::kAlreadyExists) << clash;
  EXPECT_NE(clash.message().find("server 0"), std::string::npos) << clash;
  EXPECT_NE(clash.message().find("table id 1000 exists"), std::string::npos) << clash;

  // Logical id 0 under base 1000 is table 1000: the same initial rows as the
  // job's table 0, then updated as one table is.
  std::vector<float> rows(keys.size() * 8), want(keys.size() * 8);
  ASSERT_TRUE(trial.Pull(0, keys.data(), keys.size(), rows.data()).Wait().ok());
  EXPECT_EQ(rows, job_rows);
  TableSpec physical = spec;
  physical.id = 1000;
  auto reference = EmbeddingTable::Create(physical, kSeed).value();
  const std::vector<float> grads = Ramp(keys.size() * 8, 0.001f);
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  ASSERT_TRUE(reference->Push(keys.data(), keys.size(), grads.data(), 1).ok());
  ASSERT_TRUE(reference->Pull(keys.data(), keys.size(), want.data()).ok());
  KeyPlan plan;
  ASSERT_TRUE(trial.PullAndPlan(0, keys.data(), keys.size(), rows.data(), &plan).Wait().ok());
  ASSERT_TRUE(trial.Push(0, plan, grads.data(), 1).Wait().ok());
  ASSERT_TRUE(trial.Pull(0, plan, rows.data()).Wait().ok());
  EXPECT_EQ(rows, want);
  // The job's table 0 is untouched.
  trial.set_table_base(0);
  std::vector<float> job_after(keys.size() * 8);
  ASSERT_TRUE(trial.Pull(0, keys.data(), keys.size(), job_after.data()).Wait().ok());
  EXPECT_EQ(job_after, job_rows);
  trial.set_table_base(1000);
  EXPECT_GT(TotalBytes(cluster, 2), bytes_before + keys.size() * 8 * sizeof(float));

  ASSERT_TRUE(trial.DropTable(0).ok());
  for (int s = 0; s < 2; ++s) EXPECT_EQ(cluster.server(s).TableIds(), std::vector<uint32_t>{0});
  EXPECT_EQ(TotalBytes(cluster, 2), bytes_before);
  // Forgotten here too; and the servers no longer hold it.
  Status forgotten = trial.Pull(0, keys.data(), 1, rows.data()).Wait();
  EXPECT_NE(forgotten.message().find("unknown table id 0"), std::string::npos) << forgotten;
  Status unknown = trial.DropTable(0);
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound) << unknown;
  EXPECT_NE(unknown.message().find("has no table id 1000"), std::string::npos) << unknown;
}

// Only workers create and drop tables: the scheduler's and a server's rank
// are refused, counted, and the servers go on serving.
TEST(PsClientTablesTest, OnlyWorkersCreateOrDropTables) {
  PsCluster cluster(2, {Spec(0, 4, OptimizerKind::kSgd, 0.1f)});
  const ClusterLayout& layout = cluster.worker_view().layout;
  for (int rank : {0, layout.ServerRank(1)}) {
    PsClient& intruder = cluster.ClientAt(rank);
    Status created = intruder.CreateTable(Spec(9, 4, OptimizerKind::kSgd, 0.1f), kSeed, 0);
    EXPECT_EQ(created.code(), StatusCode::kPermissionDenied) << created;
    EXPECT_NE(created.message().find("only workers may TABLE_CREATE"), std::string::npos)
        << created;
    Status dropped = intruder.DropTable(0);
    EXPECT_EQ(dropped.code(), StatusCode::kPermissionDenied) << dropped;
  }
  for (int s = 0; s < 2; ++s) EXPECT_EQ(cluster.server(s).TableIds(), std::vector<uint32_t>{0});
  const uint64_t key = 5;
  std::vector<float> row(4);
  EXPECT_TRUE(cluster.client().Pull(0, &key, 1, row.data()).Wait().ok());
  cluster.server(0).Stop();
  EXPECT_EQ(cluster.server(0).stats().role_dropped, 4u);
}

// What a server answers a raw TABLE_CREATE from a worker.
Status SendCreate(PsCluster& cluster, uint32_t table_id, const std::string& payload) {
  Message m = MakeMessage(wire::TABLE_CREATE, cluster.worker_view().my_rank);
  m.header.set_table_id(table_id);
  m.header.mutable_control()->set_payload(payload);
  const int server = cluster.worker_view().layout.ServerRank(0);
  auto reply = cluster.rpc().Call(server, std::move(m), std::chrono::seconds(60)).get();
  return reply.status();
}

// A bad spec is refused naming the field, on the client and on the server; a
// payload that does not parse is an error reply, and the server keeps serving.
TEST(PsClientTablesTest, BadTableCreatesAreRefusedNamingTheField) {
  PsCluster cluster(1, {Spec(0, 4, OptimizerKind::kSgd, 0.1f)});
  TableSpec bad = Spec(3, 0, OptimizerKind::kSgd, 0.1f);
  Status client_side = cluster.client().CreateTable(bad, kSeed, 0);
  EXPECT_EQ(client_side.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(client_side.message().find("dim"), std::string::npos) << client_side;

  TableCreateRequest request;
  request.spec = Spec(3, 4, OptimizerKind::kSgd, 0.1f);
  request.spec.bsp_pushers = -2;
  Status pushers = SendCreate(cluster, 3, EncodeTableCreate(request));
  EXPECT_EQ(pushers.code(), StatusCode::kInvalidArgument) << pushers;
  EXPECT_NE(pushers.message().find("bsp_pushers"), std::string::npos) << pushers;
  request.spec.bsp_pushers = 0;
  request.spec.seed_id = -5;
  Status seed = SendCreate(cluster, 3, EncodeTableCreate(request));
  EXPECT_NE(seed.message().find("seed_id"), std::string::npos) << seed;
  request.spec.seed_id = -1;
  Status other_id = SendCreate(cluster, 4, EncodeTableCreate(request));
  EXPECT_NE(other_id.message().find("header table_id 4"), std::string::npos) << other_id;
  Status garbage = SendCreate(cluster, 3, std::string("\xff\xff\xff", 3));
  EXPECT_EQ(garbage.code(), StatusCode::kInvalidArgument) << garbage;
  EXPECT_NE(garbage.message().find("not a TableCreate payload"), std::string::npos) << garbage;
  Status empty = SendCreate(cluster, 3, "");
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument) << empty;

  EXPECT_EQ(cluster.server(0).TableIds(), std::vector<uint32_t>{0});
  EXPECT_TRUE(SendCreate(cluster, 3, EncodeTableCreate(request)).ok());
  EXPECT_EQ(cluster.server(0).TableIds(), (std::vector<uint32_t>{0, 3}));
}

// A server holds at most kMaxTables tables.
TEST(PsClientTablesTest, TablesPerServerAreBounded) {
  PsCluster cluster(1, {});
  for (uint32_t id = 0; id < ParameterServer::kMaxTables; ++id) {
    ASSERT_TRUE(cluster.server(0).CreateTable(Spec(id, 1, OptimizerKind::kSgd, 0.1f), kSeed).ok());
  }
  const TableSpec one_more = Spec(ParameterServer::kMaxTables, 1, OptimizerKind::kSgd, 0.1f);
  Status full = cluster.client().CreateTable(one_more, kSeed, 0);
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full;
  // A retry of a held table is still answered.
  EXPECT_TRUE(cluster.client().CreateTable(Spec(7, 1, OptimizerKind::kSgd, 0.1f), kSeed, 0).ok());
  ASSERT_TRUE(cluster.client().DropTable(7).ok());
  EXPECT_TRUE(cluster.client().CreateTable(one_more, kSeed, 0).ok());
}

// Each table keeps its own clock: a trial created at clock 0 on servers where
// another table is at clock 500 pushes its clock 1 under a BSP window.
TEST(PsClientTablesTest, ATableCreatedLaterHasItsOwnClock) {
  PsClusterOptions options;
  options.set_window = true;
  options.window = ClockWindow::ForStaleness(0);
  PsCluster cluster(1, {Spec(0, 4, OptimizerKind::kSgd, 0.1f)}, options);
  PsClient& ps = cluster.client();
  const uint64_t key = 11;
  const std::vector<float> grad(4, 0.5f);
  for (int64_t clock = 50; clock <= 500; clock += 50) {
    ASSERT_TRUE(ps.Push(0, &key, 1, grad.data(), clock).Wait().ok()) << clock;
  }
  EXPECT_EQ(cluster.server(0).clock(), 500);
  Status old = ps.Push(0, &key, 1, grad.data(), 1).Wait();
  EXPECT_NE(old.message().find("clock window"), std::string::npos) << old;

  ASSERT_TRUE(ps.CreateTable(Spec(1, 4, OptimizerKind::kSgd, 0.1f), kSeed, 0).ok());
  EXPECT_TRUE(ps.Push(1, &key, 1, grad.data(), 1).Wait().ok());
  // Its window follows its own clock.
  Status ahead = ps.Push(1, &key, 1, grad.data(), 400).Wait();
  EXPECT_NE(ahead.message().find("table clock 1"), std::string::npos) << ahead;
  EXPECT_EQ(cluster.server(0).clock(), 500);  // the highest of all
  // One created at clock 1000 starts there.
  ASSERT_TRUE(ps.CreateTable(Spec(2, 4, OptimizerKind::kSgd, 0.1f), kSeed, 1000).ok());
  EXPECT_TRUE(ps.Push(2, &key, 1, grad.data(), 1001).Wait().ok());
  EXPECT_FALSE(ps.Push(2, &key, 1, grad.data(), 1).Wait().ok());
  EXPECT_EQ(cluster.server(0).clock(), 1001);
}

// Waits (without sleeping: each call is a round trip to the loop) until the
// server holds `n` pushes.
void AwaitHeld(ParameterServer& server, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server.HeldPushes() != n && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_EQ(server.HeldPushes(), n);
}

// Each table is aggregated over its own pusher count: one with bsp_pushers 2
// waits for two workers and applies their pushes in rank order (Adagrad:
// order-sensitive), on a server without server-wide aggregation; one with
// bsp_pushers 1 on a server aggregating over 2 applies at once.
TEST(PsClientTablesTest, BspPushersPerTable) {
  for (int server_wide : {0, 2}) {
    SCOPED_TRACE("server-wide pushers " + std::to_string(server_wide));
    PsClusterOptions options;
    options.bsp_workers = server_wide;
    options.workers = 2;
    PsCluster cluster(1, {}, options);
    PsClient& first = cluster.client();  // worker 0: the lower rank
    PsClient& second = cluster.ClientAt(cluster.worker_view().layout.WorkerRank(1));
    TableSpec aggregated = Spec(1, 4, OptimizerKind::kAdagrad, 0.5f);
    aggregated.bsp_pushers = server_wide == 0 ? 2 : 0;
    TableSpec at_once = Spec(2, 4, OptimizerKind::kAdagrad, 0.5f);
    at_once.bsp_pushers = 1;
    for (const TableSpec& t : {aggregated, at_once}) {
      ASSERT_TRUE(first.CreateTable(t, kSeed, 0).ok());
      second.AddTable(t.id, t.dim);
    }
    const uint64_t key = 3;
    const std::vector<float> g_first = {1.0f, -2.0f, 0.5f, 3.0f};
    const std::vector<float> g_second = {-4.0f, 0.25f, 2.0f, -1.0f};
    // The higher rank pushes first: held.
    PsFuture held = second.Push(1, &key, 1, g_second.data(), 1, /*every_server=*/true);
    AwaitHeld(cluster.server(0), 1);
    // The other table's push is applied at once.
    ASSERT_TRUE(second.Push(2, &key, 1, g_second.data(), 1, true).Wait().ok());
    EXPECT_EQ(cluster.server(0).HeldPushes(), 1u);
    ASSERT_TRUE(first.Push(1, &key, 1, g_first.data(), 1, true).Wait().ok());
    ASSERT_TRUE(held.Wait().ok());
    EXPECT_EQ(cluster.server(0).HeldPushes(), 0u);

    auto in_rank_order = EmbeddingTable::Create(aggregated, kSeed).value();
    ASSERT_TRUE(in_rank_order->Push(&key, 1, g_first.data(), 1).ok());
    ASSERT_TRUE(in_rank_order->Push(&key, 1, g_second.data(), 1).ok());
    auto in_arrival_order = EmbeddingTable::Create(aggregated, kSeed).value();
    ASSERT_TRUE(in_arrival_order->Push(&key, 1, g_second.data(), 1).ok());
    ASSERT_TRUE(in_arrival_order->Push(&key, 1, g_first.data(), 1).ok());
    std::vector<float> got(4), want(4), arrival(4);
    ASSERT_TRUE(first.Pull(1, &key, 1, got.data()).Wait().ok());
    ASSERT_TRUE(in_rank_order->Pull(&key, 1, want.data()).ok());
    ASSERT_TRUE(in_arrival_order->Pull(&key, 1, arrival.data()).ok());
    EXPECT_EQ(got, want);
    ASSERT_NE(want, arrival);  // the order is observable
  }
}

// Over CURVE with the aead data plane: TABLE_CREATE and TABLE_DROP travel
// over CURVE (the data socket carries only PULL and PUSH), and a pull sent
// once the create returned finds the table on the data plane.
TEST(PsClientTablesTest, CreateAndDropOverCurveWithTheAeadDataPlane) {
  auto transport = Transport::Create(TransportOptions{}).value();
  const CurveKeyPair server_keys = GenerateCurveKeyPair().value();
  const CurveKeyPair worker_keys = GenerateCurveKeyPair().value();
  constexpr int kServer = 1, kWorker = 2, kWorld = 3;
  transport->Authorize(server_keys.public_key, kServer);
  transport->Authorize(worker_keys.public_key, kWorker);
  ClusterView view;
  view.layout = ClusterLayout::Make(kWorld, 1).value();
  view.peers.resize(kWorld);
  RpcServer::Options so;
  so.name = "curve-ps";
  so.world_size = kWorld;
  so.rank = kServer;
  auto rpc = RpcServer::Create(transport.get(), server_keys, so).value();
  ASSERT_FALSE(rpc->data_endpoint().empty());
  ClusterView server_view = view;
  server_view.my_rank = kServer;
  ParameterServer server(rpc.get(), server_view);
  server.Start();
  ClusterView worker_view = view;
  worker_view.my_rank = kWorker;
  auto client_rpc =
      RpcClient::Create(transport.get(), worker_keys, kWorker, kWorld, "curve-w").value();
  client_rpc->AddPeer(kServer, rpc->endpoint(), server_keys.public_key);
  PsClient ps(client_rpc.get(), worker_view);
  ps.set_table_base(300);
  const std::vector<uint64_t> keys = Keys(100);
  std::vector<float> rows(keys.size() * 4);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(ps.CreateTable(Spec(1, 4, OptimizerKind::kSgd, 0.1f), kSeed, 0).ok());
    ASSERT_TRUE(ps.Pull(1, keys.data(), keys.size(), rows.data()).Wait().ok());
    ASSERT_TRUE(ps.Push(1, keys.data(), keys.size(), rows.data(), 1).Wait().ok());
    EXPECT_EQ(server.TableIds(), std::vector<uint32_t>{301});
    ASSERT_TRUE(ps.DropTable(1).ok());
    EXPECT_TRUE(server.TableIds().empty());
  }
  EXPECT_EQ(client_rpc->data_sessions_opened(), 1u);
  EXPECT_EQ(rpc->drop_stats().total, 0u);
  client_rpc->Close();
  server.Stop();
  EXPECT_EQ(server.stats().pull_requests, 2u);
  EXPECT_EQ(server.stats().rejected, 0u);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A trial's tables (at its base, seeded as the job's), trained as the job's
// and exported as the job's tables 0 "embedding" and 1 "linear", give the
// job's export byte for byte.
TEST(PsClientTablesTest, ExportTablesAsWritesAPlainJobsExport) {
  TableSpec embedding = Spec(0, 4, OptimizerKind::kAdam, 0.05f);
  embedding.name = "embedding";
  TableSpec linear = Spec(1, 1, OptimizerKind::kFtrl, 0.1f);
  linear.name = "linear";
  PsCluster cluster(2, {embedding, linear});
  PsClient& ps = cluster.client();
  PsClient& trial = cluster.ClientAt(cluster.worker_view().my_rank);
  trial.set_table_base(2000);
  for (TableSpec t : {embedding, linear}) {
    t.seed_id = t.id;
    t.name = "trial-" + t.name;
    ASSERT_TRUE(trial.CreateTable(t, kSeed, 0).ok());
  }
  const std::vector<uint64_t> keys = Keys(500);
  for (PsClient* c : {&ps, &trial}) {
    for (const TableSpec& t : {embedding, linear}) {
      const size_t n = keys.size() * static_cast<size_t>(t.dim);
      std::vector<float> rows(n);
      const std::vector<float> grads = Ramp(n, 0.01f);
      ASSERT_TRUE(c->Pull(t.id, keys.data(), keys.size(), rows.data()).Wait().ok());
      ASSERT_TRUE(c->Push(t.id, keys.data(), keys.size(), grads.data(), 1).Wait().ok());
    }
  }
  const std::string dir = ::testing::TempDir() + "/ps_export_as_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  for (int s = 0; s < 2; ++s) {
    // While serving.
    ASSERT_TRUE(cluster.server(s)
                    .ExportTablesAs(Env::Default(), dir + "/trial-" + std::to_string(s) + ".emb",
                                    {{2000, 0, "embedding"}, {2001, 1, "linear"}})
                    .ok());
  }
  Status missing =
      cluster.server(0).ExportTablesAs(Env::Default(), dir + "/missing.emb", {{2002, 2, "other"}});
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing;
  for (int s = 0; s < 2; ++s) {
    cluster.server(s).Stop();
    std::vector<const EmbeddingTable*> job;
    for (const EmbeddingTable* t : cluster.server(s).tables()) {
      if (t->spec().id < 2) job.push_back(t);
    }
    const std::string job_path = dir + "/server-" + std::to_string(s) + ".emb";
    const std::string trial_path = dir + "/trial-" + std::to_string(s) + ".emb";
    ASSERT_TRUE(ExportEmbeddings(Env::Default(), job_path, job).ok());
    EXPECT_EQ(FileBytes(trial_path), FileBytes(job_path));
    auto read_job = ReadExportedEmbeddings(Env::Default(), job_path);
    auto read_trial = ReadExportedEmbeddings(Env::Default(), trial_path);
    ASSERT_TRUE(read_job.ok() && read_trial.ok());
    ASSERT_EQ(read_trial->size(), 2u);
    for (size_t t = 0; t < 2; ++t) {
      const ExportedTable& a = (*read_trial)[t];
      const ExportedTable& b = (*read_job)[t];
      EXPECT_EQ(a.id, b.id);
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.dim, b.dim);
      EXPECT_EQ(a.keys, b.keys);
      EXPECT_EQ(a.values, b.values);
      EXPECT_FALSE(a.keys.empty());
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace metaps
