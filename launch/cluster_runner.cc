#include "launch/cluster_runner.h"

#include <arpa/inet.h>
#include <mpi.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common/curve_keys.h"
#include "common/logging.h"

namespace metaps {
namespace {

std::atomic<bool> g_stop_requested{false};
std::mutex g_failure_mu;
Status* g_rank_failure = nullptr;  // GUARDED_BY(g_failure_mu); the first failure only

void OnStopSignal(int) {
  g_stop_requested.store(true);
  // A second signal ends the process the default way.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

void InstallStopHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Launcher facts are read here and nowhere else.
bool UnderMpiLauncher() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ||
         std::getenv("PMI_SIZE") != nullptr;
}

bool AllRanksOnThisHost() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  return local != nullptr && world != nullptr && std::string(local) == world;
}

// The address other hosts reach us on: the host name's first IPv4 address.
std::string PrimaryAddress() {
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  addrinfo* result = nullptr;
  if (getaddrinfo(HostName().c_str(), nullptr, &hints, &result) != 0 || result == nullptr) {
    return "127.0.0.1";
  }
  char text[INET_ADDRSTRLEN] = "127.0.0.1";
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(result->ai_addr)->sin_addr, text,
            sizeof(text));
  freeaddrinfo(result);
  return text;
}

StatusOr<CurveKeyPair> RankKeys(const ClusterOptions& options) {
  if (options.insecure) return CurveKeyPair{};
  if (!options.keys_dir.empty()) return ReadKeyPair(options.keys_dir);
  return GenerateCurveKeyPair();
}

// The all-reduce group of worker `rank` (JobRoles::worker_group_size).
int WorkerGroupOf(const ClusterLayout& layout, const JobRoles& roles, int rank) {
  return roles.worker_group_size > 0 ? layout.WorkerIndex(rank) / roles.worker_group_size : 0;
}

// InvalidArgument unless the worker groups divide the workers.
Status CheckWorkerGroups(const ClusterLayout& layout, const JobRoles& roles) {
  if (roles.worker_group_size > 0 && layout.num_workers() > kMaxWorkerRange) {
    return InvalidArgument("worker groups need at most " + std::to_string(kMaxWorkerRange) +
                           " workers, the job has " + std::to_string(layout.num_workers()));
  }
  if (roles.worker_group_size > 0 && layout.num_workers() % roles.worker_group_size != 0) {
    return InvalidArgument("worker groups of " + std::to_string(roles.worker_group_size) +
                           " do not divide the " + std::to_string(layout.num_workers()) +
                           " workers");
  }
  return Status::Ok();
}

// Everything one rank does, in either mode.
Status RunRank(Bootstrap* bootstrap, Transport* transport, const ClusterOptions& options,
               const ClusterLayout& layout, const JobRoles& roles, AllReduce* allreduce) {
  const int rank = bootstrap->rank();
  const wire::Role role = layout.RoleOf(rank);
  ScopedLogPrefix prefix(layout.Describe(rank));
  ASSIGN_OR_RETURN(CurveKeyPair keys, RankKeys(options));

  RpcServer::Options server_options;
  server_options.name = "rank" + std::to_string(rank);
  server_options.world_size = layout.world_size();
  if (role == wire::SCHEDULER) {
    server_options.tick = std::chrono::milliseconds(50);
    server_options.watch_connections = true;
  }
  // Servers expire held BSP pushes when a worker's connection closes.
  if (role == wire::SERVER) {
    server_options.watch_connections = true;
    server_options.max_frame_bytes = roles.server_max_frame_bytes;
    // Only servers serve PULL and PUSH: only they bind an aead data socket.
    server_options.rank = rank;
  }
  ASSIGN_OR_RETURN(auto rpc_server, RpcServer::Create(transport, keys, server_options));

  wire::PeerInfo mine;
  mine.set_rank(rank);
  mine.set_role(role);
  mine.set_endpoint(rpc_server->endpoint());
  mine.set_public_key(keys.public_key);
  mine.set_host(HostName());
  mine.set_pid(getpid());
  ASSIGN_OR_RETURN(ClusterView view, ExchangePeerInfo(bootstrap, layout, mine));
  if (transport->curve()) {
    for (const auto& peer : view.peers) transport->Authorize(peer.public_key(), peer.rank());
    if (!options.authorized_keys.empty()) {
      ASSIGN_OR_RETURN(auto extra, ReadAuthorizedKeys(options.authorized_keys));
      // Clients, never members: tagged "monitor", they may only PING.
      for (const auto& key : extra) transport->Authorize(key.public_key, kMonitorRank);
    }
  }
  // Nobody connects before every rank accepts every member's key: a handshake
  // refused by a not-yet-authorized ZAP handler would lose the queued request.
  RETURN_IF_ERROR(bootstrap->AllGather("").status());
  METAPS_LOG(DEBUG) << "serving at " << rpc_server->endpoint();
  if (transport->aead_data_plane() && role == wire::SCHEDULER) {
    METAPS_LOG(INFO) << "data plane: PULL and PUSH sealed with " << DataCipherDescription()
                     << " under per-session keys exchanged over CURVE (--data-plane aead)";
  }
  if (options.insecure && role == wire::SCHEDULER) {
    METAPS_LOG(WARNING) << "--insecure: CURVE is off, any process that can reach the ports "
                           "can talk to this job";
  }

  ASSIGN_OR_RETURN(auto rpc_client, RpcClient::Create(transport, keys, rank, layout.world_size(),
                                                      "rank" + std::to_string(rank)));
  if (role != wire::SCHEDULER) {
    rpc_client->AddPeer(0, view.peer(0).endpoint(), view.peer(0).public_key());
  }
  if (role == wire::WORKER) {
    for (int s = 0; s < layout.num_servers(); ++s) {
      const auto& p = view.peer(layout.ServerRank(s));
      rpc_client->AddPeer(p.rank(), p.endpoint(), p.public_key());
    }
  }

  RankContext ctx;
  ctx.view = view;
  ctx.options = &options;
  ctx.transport = transport;
  ctx.rpc_server = rpc_server.get();
  ctx.rpc_client = rpc_client.get();
  ctx.curve = transport->curve();
  ctx.allreduce = allreduce;
  const RoleMain& main = role == wire::SCHEDULER ? roles.scheduler
                         : role == wire::SERVER  ? roles.server
                                                 : roles.worker;
  Status status = main(ctx);
  rpc_client->Close();
  rpc_server->Stop();
  return status;
}

StatusOr<std::unique_ptr<Transport>> MakeTransport(const ClusterOptions& options, bool mpi) {
  TransportOptions t;
  t.curve = !options.insecure;
  t.data_plane = options.data_plane;
  t.data_plane_threads = static_cast<int>(options.data_plane_threads);
  t.scheme = options.transport == "auto" ? (mpi ? "tcp" : "inproc") : options.transport;
  if (options.max_message_mb < 1 || options.max_message_mb > 4096) {
    return InvalidArgument("--max-message-mb must be in 1..4096, got " +
                           std::to_string(options.max_message_mb));
  }
  t.max_message_bytes = options.max_message_mb << 20;
  if (options.host != "auto") {
    t.host = options.host;
  } else {
    t.host = (!mpi || AllRanksOnThisHost()) ? "127.0.0.1" : PrimaryAddress();
  }
  return Transport::Create(t);
}

int RunUnderMpi(const ClusterOptions& options, const JobRoles& roles) {
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) InstallStopHandler();
  Status status;
  {
    auto layout = ClusterLayout::Make(size, static_cast<int>(options.servers));
    auto transport = MakeTransport(options, /*mpi=*/true);
    if (!layout.ok()) {
      status = layout.status();
    } else if (Status groups = CheckWorkerGroups(*layout, roles); !groups.ok()) {
      status = groups;
    } else if (!transport.ok()) {
      status = transport.status();
    } else {
      // Collective over every rank: the workers' communicator for all-reduce.
      MPI_Comm workers;
      const bool is_worker = layout->RoleOf(rank) == wire::WORKER;
      const int group = is_worker ? WorkerGroupOf(*layout, roles, rank) : 0;
      MPI_Comm_split(MPI_COMM_WORLD, is_worker ? 1 + group : MPI_UNDEFINED, rank, &workers);
      std::unique_ptr<AllReduce> allreduce;
      if (is_worker) allreduce = MakeMpiAllReduce(&workers);
      auto bootstrap = MakeMpiBootstrap();
      status = RunRank(bootstrap.get(), transport->get(), options, *layout, roles, allreduce.get());
      allreduce.reset();
      if (is_worker && status.ok()) MPI_Comm_free(&workers);
    }
  }
  if (!status.ok()) {
    METAPS_LOG(ERROR) << "rank " << rank << " failed: " << status.message();
    // Nobody may be left waiting on a rank that will not come.
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
  MPI_Finalize();
  return 0;
}

int RunInProcess(const ClusterOptions& options, const JobRoles& roles) {
  InstallStopHandler();
  const int world = static_cast<int>(1 + options.servers + options.workers);
  auto layout = ClusterLayout::Make(world, static_cast<int>(options.servers));
  if (!layout.ok() || !CheckWorkerGroups(*layout, roles).ok()) {
    METAPS_LOG(ERROR)
        << (layout.ok() ? CheckWorkerGroups(*layout, roles) : layout.status()).message();
    return 2;
  }
  auto transport = MakeTransport(options, /*mpi=*/false);
  if (!transport.ok()) {
    METAPS_LOG(ERROR) << transport.status().message();
    return 2;
  }
  InProcessRendezvous rendezvous(world);
  const int group_size =
      roles.worker_group_size > 0 ? roles.worker_group_size : std::max(1, layout->num_workers());
  std::vector<std::unique_ptr<InProcessAllReduceGroup>> allreduce_groups;
  for (int g = 0; g * group_size < layout->num_workers(); ++g) {
    allreduce_groups.push_back(std::make_unique<InProcessAllReduceGroup>(group_size));
  }
  std::vector<Status> results(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto bootstrap = rendezvous.ForRank(r);
      std::unique_ptr<AllReduce> allreduce;
      if (layout->RoleOf(r) == wire::WORKER) {
        allreduce =
            allreduce_groups[static_cast<size_t>(WorkerGroupOf(*layout, roles, r))]->ForWorker(
                layout->WorkerIndex(r) % group_size);
      }
      results[static_cast<size_t>(r)] =
          RunRank(bootstrap.get(), transport->get(), options, *layout, roles, allreduce.get());
      if (!results[static_cast<size_t>(r)].ok() && r != 0) {
        std::lock_guard<std::mutex> lock(g_failure_mu);
        if (g_rank_failure == nullptr) {
          g_rank_failure =
              new Status(results[static_cast<size_t>(r)].Annotate(layout->Describe(r) + " failed"));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  int code = 0;
  for (int r = 0; r < world; ++r) {
    if (!results[static_cast<size_t>(r)].ok()) {
      METAPS_LOG(ERROR) << layout->Describe(r)
                        << " failed: " << results[static_cast<size_t>(r)].message();
      code = 1;
    }
  }
  return code;
}

}  // namespace

void ClusterOptions::Register(FlagSet* flags) {
  flags->Int("servers", &servers, "number of parameter servers (ranks 1..S)", 1, 65535);
  flags->Int("workers", &workers, "number of workers when started without mpirun", 1, 65535);
  flags->Bool("insecure", &insecure, "turn CURVE off (trusted local runs only)");
  flags->String("curve-keys", &keys_dir, "directory with a key pair from 'metaps keygen'");
  flags->String("authorized-keys", &authorized_keys,
                "file of operator client keys to accept, one per line: 'monitor KEY' or a "
                "bare Z85 KEY (role monitor: may only PING, never act as a member)");
  flags->Int("max-message-mb", &max_message_mb,
             "largest message frame a socket accepts, in MiB (ZMQ_MAXMSGSIZE); a peer "
             "sending a larger one is disconnected");
  flags->String("data-plane", &data_plane,
                "with CURVE on, how PULL and PUSH travel: aead (sealed with AES-256-GCM under "
                "per-session keys exchanged over CURVE, on a second socket) or curve (over "
                "CURVE like every message)");
  flags->Int("data-plane-threads", &data_plane_threads,
             "helper threads per process that seal and open large aead messages' frames in "
             "parallel; -1: a quarter of the cores, at most 8",
             -1, 256);
  flags->String("transport", &transport, "tcp, inproc, or auto");
  flags->String("host", &host, "interface to bind service sockets on, or auto");
  flags->Int("heartbeat-ms", &heartbeat_ms, "heartbeat interval", 1, 3600000);
  flags->Int("heartbeat-timeout-ms", &heartbeat_timeout_ms,
             "a rank silent this long is declared dead", 2, 3600000);
  flags->String("cluster-file", &cluster_file,
                "the scheduler writes every rank's host, pid, endpoint and key here (JSON)");
  flags->String("log-level", &log_level, "debug, info, warning or error");
}

HeartbeatOptions RankContext::heartbeat() const {
  HeartbeatOptions h;
  h.interval = std::chrono::milliseconds(options->heartbeat_ms);
  h.timeout = std::chrono::milliseconds(options->heartbeat_timeout_ms);
  return h;
}

bool StopRequested() { return g_stop_requested.load(); }

Status InProcessRankFailure() {
  std::lock_guard<std::mutex> lock(g_failure_mu);
  return g_rank_failure ? *g_rank_failure : Status::Ok();
}

Status RunMember(RankContext& ctx, const std::function<Status(SchedulerClient&)>& body) {
  SchedulerClient scheduler(ctx.rpc_client, ctx.view, ctx.heartbeat());
  scheduler.StartHeartbeats();
  Status status = scheduler.Register();
  if (status.ok()) {
    status = body(scheduler);
    // This rank is the cause unless the job had already failed elsewhere.
    if (!status.ok() && scheduler.job_status().ok()) scheduler.ReportFailure(status);
  }
  if (status.ok()) status = scheduler.Barrier("shutdown", kGroupMembers);
  scheduler.StopHeartbeats();
  return status;
}

int RunJob(const ClusterOptions& options, const JobRoles& roles) {
  signal(SIGPIPE, SIG_IGN);
  if (roles.worker_group_size < 0) {
    METAPS_LOG(ERROR) << "worker groups of " << roles.worker_group_size << " workers";
    return 2;
  }
  LogLevel level;
  if (!ParseLogLevel(options.log_level, &level)) {
    METAPS_LOG(ERROR) << "--log-level must be debug, info, warning or error, got '"
                      << options.log_level << "'";
    return 2;
  }
  SetLogLevel(level);
  if (options.heartbeat_ms <= 0 || options.heartbeat_timeout_ms < 2 * options.heartbeat_ms) {
    METAPS_LOG(ERROR) << "--heartbeat-timeout-ms (" << options.heartbeat_timeout_ms
                      << ") must be at least twice --heartbeat-ms (" << options.heartbeat_ms << ")";
    return 2;
  }
  return UnderMpiLauncher() ? RunUnderMpi(options, roles) : RunInProcess(options, roles);
}

}  // namespace metaps
