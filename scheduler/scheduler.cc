#include "scheduler/scheduler.h"

#include <signal.h>

#include <cerrno>
#include <fstream>

#include "common/control.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/scheduler_client.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;

long long Millis(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

constexpr char kRegisterGather[] = "register";
constexpr char kShutdownGather[] = "shutdown";
// Gathers answered by the scheduler itself with the members' texts joined.
constexpr char kCollectPrefix[] = "collect/";
constexpr size_t kMaxCollectPayloadBytes = 4096;

}  // namespace

Scheduler::Scheduler(RpcServer* server, const ClusterView& view, JobDriver* driver,
                     SchedulerOptions options)
    : server_(server),
      view_(view),
      driver_(driver),
      options_(std::move(options)),
      my_host_(HostName()),
      members_(static_cast<size_t>(view.layout.world_size())),
      clocks_(view.layout.num_workers(), options_.staleness) {}

Status Scheduler::Run() {
  started_ = Clock::now();
  for (auto& m : members_) m.last_seen = started_;
  server_->Start([this](const PeerAddress& from, Message m) { OnRequest(from, std::move(m)); },
                 [this] { OnTick(); }, [this](int fd) { OnDisconnect(fd); });
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return finished_; });
  }
  // The handlers point at this object: no callback may outlive Run().
  server_->Stop();
  return outcome_;
}

void Scheduler::Finish(const Status& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  outcome_ = outcome;
  cv_.notify_all();
}

void Scheduler::Abort(const Status& why) {
  if (!abort_status_.ok()) return;
  abort_status_ = why;
  METAPS_LOG(ERROR) << "aborting the job: " << why.message();
  // Release everyone blocked in a gather; heartbeats carry the abort too.
  for (auto& [name, gather] : gathers_) {
    for (auto& [rank, entry] : gather.entries) {
      server_->Reply(entry.from, MakeReply(entry.request.header, 0, Aborted(why.message())));
    }
  }
  gathers_.clear();
  for (auto& m : members_) m.pending_gathers = 0;
  for (auto& [worker, waiter] : clock_waiters_) {
    server_->Reply(waiter.first, MakeReply(waiter.second, 0, Aborted(why.message())));
  }
  clock_waiters_.clear();
  Finish(why);
}

int Scheduler::ExpectedCount(uint32_t group) const {
  if (group & kGroupWorkerRange) return WorkerRangeCount(group);
  int n = 0;
  if (group & kGroupServers) n += view_.layout.num_servers();
  if (group & kGroupWorkers) n += view_.layout.num_workers();
  return n;
}

void Scheduler::Refuse(const PeerAddress& from, const wire::Header& h, const Status& why) {
  server_->CountDrop(from, why.message());
  server_->Reply(from, MakeReply(h, 0, why));
}

void Scheduler::OnRequest(const PeerAddress& from, Message request) {
  const int rank = from.rank;
  const wire::Header& h = request.header;
  if (h.type() == wire::PING) {  // anyone admitted (members, monitor clients)
    server_->Reply(from, MakeReply(h, 0));
    return;
  }
  if (rank <= 0 || rank >= static_cast<int>(members_.size())) {
    Refuse(from, h,
           PermissionDenied("role: only members send control to the scheduler, not rank " +
                            std::to_string(rank)));
    return;
  }
  Member& member = members_[static_cast<size_t>(rank)];
  // The rank is bound to the connection it registered on (or came back on).
  if (from.fd >= 0 && member.registered) {
    if (member.fd < 0 || member.disconnected_at) {
      member.fd = from.fd;  // the rank came back
    } else if (member.fd != from.fd) {
      Refuse(from, h,
             PermissionDenied("identity: a " + std::string(MessageTypeName(h.type())) +
                              " claiming rank " + std::to_string(rank) +
                              " came on another connection than the rank's own"));
      return;
    }
  }
  member.last_seen = Clock::now();
  member.disconnected_at.reset();
  switch (h.type()) {
    case wire::REGISTER:
      if (h.control().role() != view_.layout.RoleOf(rank)) {
        server_->Reply(from, MakeReply(h, 0,
                                       InvalidArgument("rank " + std::to_string(rank) +
                                                       " registered with the wrong role")));
        return;
      }
      member.registered = true;
      if (from.fd >= 0) member.fd = from.fd;
      OnGatherRequest(from, std::move(request), kRegisterGather, kGroupMembers);
      return;
    case wire::BARRIER:
      OnGatherRequest(from, std::move(request), h.control().name(), h.control().group());
      return;
    case wire::CLOCK:
      OnClock(from, h);
      return;
    case wire::FAIL:
      // The first cause wins: a rank that fails because the job was already
      // aborted does not replace the reason it was aborted.
      Abort(Aborted(view_.Describe(rank) + " failed: " + h.control().text()));
      server_->Reply(from, MakeReply(h, 0));
      return;
    case wire::HEARTBEAT: {
      Message reply = MakeReply(h, 0);
      if (!abort_status_.ok()) {
        reply.header.mutable_control()->set_value(kJobAborted);
        reply.header.mutable_control()->set_text(abort_status_.message());
      } else if (stop_forwarded_) {
        reply.header.mutable_control()->set_value(kJobStopRequested);
      }
      server_->Reply(from, std::move(reply));
      return;
    }
    default:
      server_->Reply(from, MakeReply(h, 0,
                                     InvalidArgument(std::string("the scheduler does not "
                                                                 "serve ") +
                                                     MessageTypeName(h.type()))));
  }
}

void Scheduler::OnClock(const PeerAddress& from, const wire::Header& h) {
  if (view_.layout.RoleOf(from.rank) != wire::WORKER) {
    server_->Reply(from, MakeReply(h, 0, InvalidArgument("only workers have clocks")));
    return;
  }
  if (!abort_status_.ok()) {
    server_->Reply(from, MakeReply(h, 0, Aborted(abort_status_.message())));
    return;
  }
  const int worker = view_.layout.WorkerIndex(from.rank);
  auto reply_to = [this](const PeerAddress& to, const wire::Header& request) {
    Message reply = MakeReply(request, 0);
    reply.header.set_clock(clocks_.min_clock());
    server_->Reply(to, std::move(reply));
  };
  if (clocks_.Advance(worker, h.clock())) {
    reply_to(from, h);
  } else {
    clock_waiters_[worker] = {from, h};
  }
  for (int released : clocks_.TakeReleased()) {
    auto it = clock_waiters_.find(released);
    if (it == clock_waiters_.end()) continue;
    reply_to(it->second.first, it->second.second);
    clock_waiters_.erase(it);
  }
}

void Scheduler::OnGatherRequest(const PeerAddress& from, Message request, const std::string& name,
                                uint32_t group) {
  if (!abort_status_.ok()) {
    server_->Reply(from, MakeReply(request.header, 0, Aborted(abort_status_.message())));
    return;
  }
  if (name.empty() || name.size() > kMaxGatherNameChars) {
    Refuse(from, request.header,
           InvalidArgument("gather: a name of " + std::to_string(name.size()) + " characters (1.." +
                           std::to_string(kMaxGatherNameChars) + ")"));
    return;
  }
  Member& member = members_[static_cast<size_t>(from.rank)];
  if (member.pending_gathers >= kMaxGathersPerRank) {
    Refuse(from, request.header,
           InvalidArgument("gather '" + name + "': rank " + std::to_string(from.rank) +
                           " already waits in " + std::to_string(kMaxGathersPerRank) + " gathers"));
    return;
  }
  const wire::Role role = view_.layout.RoleOf(from.rank);
  const uint32_t my_bit = role == wire::SERVER ? kGroupServers : kGroupWorkers;
  bool in_group = group != 0 && (group & ~kGroupMembers) == 0 && (group & my_bit);
  if (group & kGroupWorkerRange) {
    const int first = WorkerRangeFirst(group), count = WorkerRangeCount(group);
    const int index = view_.layout.WorkerIndex(from.rank);
    in_group = role == wire::WORKER && count > 0 && first + count <= view_.layout.num_workers() &&
               index >= first && index < first + count;
  }
  if (!in_group) {
    server_->Reply(
        from, MakeReply(request.header, 0,
                        InvalidArgument("gather '" + name + "': group " + std::to_string(group) +
                                        " does not include the caller's role")));
    return;
  }
  PendingGather& gather = gathers_[name];
  if (!gather.entries.empty() && gather.group != group) {
    server_->Reply(
        from, MakeReply(request.header, 0,
                        InvalidArgument("gather '" + name + "' joined with two different groups")));
    return;
  }
  gather.group = group;
  // A rank joining again replaces its entry (it counts once).
  if (!gather.entries.count(from.rank)) member.pending_gathers++;
  GatherEntry& entry = gather.entries[from.rank];
  entry.rank = from.rank;
  entry.from = from;
  entry.request = std::move(request);
  if (static_cast<int>(gather.entries.size()) == ExpectedCount(group)) {
    PendingGather done = std::move(gather);
    gathers_.erase(name);
    CompleteGather(name, done);
  }
}

void Scheduler::CompleteGather(const std::string& name, PendingGather& gather) {
  std::vector<GatherEntry> entries;
  for (auto& [rank, entry] : gather.entries) {
    members_[static_cast<size_t>(rank)].pending_gathers--;
    entries.push_back(std::move(entry));
  }
  wire::Control reply_control;
  Status status;
  if (name == kRegisterGather) {
    all_registered_ = true;
    WriteClusterFile();
    METAPS_LOG(INFO) << "all " << entries.size() << " members registered ("
                     << view_.layout.num_servers() << " servers, " << view_.layout.num_workers()
                     << " workers) in " << Millis(Clock::now() - started_) << " ms";
  } else if (name.rfind(kCollectPrefix, 0) == 0) {
    // Every member gets every member's payload, in rank order.
    std::vector<std::string> all;
    all.reserve(entries.size());
    // Bounded so that the answer fits a header frame (kMaxHeaderBytes), with
    // room for the rest of the header.
    size_t total = 0;
    for (const auto& entry : entries) {
      const std::string& payload = entry.request.header.control().payload();
      total += payload.size() + 8;
      if (total > kMaxHeaderBytes - (size_t{64} << 10)) {
        status = ProtocolError("collect gather '" + name + "': the members' payloads exceed " +
                               std::to_string(kMaxHeaderBytes - (size_t{64} << 10)) + " bytes");
        break;
      }
      if (payload.size() > kMaxCollectPayloadBytes) {
        status = ProtocolError(view_.Describe(entry.rank) + " sent a " +
                               std::to_string(payload.size()) + "-byte payload (at most " +
                               std::to_string(kMaxCollectPayloadBytes) + ")");
        break;
      }
      all.push_back(payload);
    }
    reply_control.set_payload(EncodeCollected(all));
  } else if (name != kShutdownGather) {
    status = driver_->OnGather(name, entries, &reply_control);
  }
  if (!status.ok()) {
    status = status.Annotate("gather '" + name + "'");
    for (auto& entry : entries) {
      server_->Reply(entry.from, MakeReply(entry.request.header, 0, Aborted(status.message())));
    }
    Abort(status);
    return;
  }
  for (auto& entry : entries) {
    Message reply = MakeReply(entry.request.header, 0);
    *reply.header.mutable_control() = reply_control;
    server_->Reply(entry.from, std::move(reply));
    if (name == kShutdownGather) members_[static_cast<size_t>(entry.rank)].leaving = true;
  }
  if (name == kShutdownGather) {
    METAPS_LOG(INFO) << "all members released; job finished in order";
    Finish(Status::Ok());
  }
}

bool Scheduler::ProcessGone(int rank) const {
  const wire::PeerInfo& peer = view_.peer(rank);
  if (peer.host() != my_host_ || peer.pid() <= 0) return false;  // cannot tell from here
  const pid_t pid = static_cast<pid_t>(peer.pid());
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A killed child stays a zombie until its parent reaps it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

void Scheduler::OnDisconnect(int fd) {
  for (size_t rank = 1; rank < members_.size(); ++rank) {
    Member& m = members_[rank];
    if (m.fd != fd || m.leaving) continue;
    m.fd = -1;
    m.disconnected_at = Clock::now();
    if (ProcessGone(static_cast<int>(rank))) {
      Abort(Unavailable(view_.Describe(static_cast<int>(rank)) +
                        " is dead: its connection closed and the process is gone"));
    } else {
      METAPS_LOG(WARNING) << view_.Describe(static_cast<int>(rank))
                          << " closed its connection; waiting up to "
                          << options_.heartbeat_timeout.count() << " ms for it to come back";
    }
    return;
  }
}

void Scheduler::OnTick() {
  if (!abort_status_.ok()) return;
  const auto now = Clock::now();
  if (options_.stop_requested && !stop_forwarded_ && options_.stop_requested()) {
    stop_forwarded_ = true;
    METAPS_LOG(INFO) << "stop requested; finishing the current step and shutting down";
    driver_->OnStopRequested();
  }
  if (options_.member_failed) {
    if (Status failed = options_.member_failed(); !failed.ok()) {
      Abort(failed);
      return;
    }
  }
  if (!all_registered_) {
    if (now - started_ > options_.registration_timeout) {
      std::string missing;
      for (size_t r = 1; r < members_.size(); ++r) {
        if (!members_[r].registered) missing += " " + view_.Describe(static_cast<int>(r));
      }
      Abort(Unavailable("members did not register within " +
                        std::to_string(options_.registration_timeout.count()) + " ms:" + missing));
    }
    return;
  }
  for (size_t rank = 1; rank < members_.size(); ++rank) {
    const Member& m = members_[rank];
    if (m.leaving) continue;
    const int r = static_cast<int>(rank);
    if (m.disconnected_at && ProcessGone(r)) {
      Abort(Unavailable(view_.Describe(r) +
                        " is dead: its connection closed and the process is gone"));
      return;
    }
    if (m.disconnected_at && now - *m.disconnected_at >= options_.heartbeat_timeout) {
      Abort(Unavailable(view_.Describe(r) + " is dead: its connection closed " +
                        std::to_string(Millis(now - *m.disconnected_at)) +
                        " ms ago and it has not come back"));
      return;
    }
    if (now - m.last_seen >= options_.heartbeat_timeout) {
      Abort(Unavailable(view_.Describe(r) + " is dead: no heartbeat for " +
                        std::to_string(Millis(now - m.last_seen)) + " ms (timeout " +
                        std::to_string(options_.heartbeat_timeout.count()) + " ms)"));
      return;
    }
  }
}

void Scheduler::WriteClusterFile() const {
  if (options_.cluster_file.empty()) return;
  OrderedJson ranks = OrderedJson::array();
  for (int r = 0; r < view_.layout.world_size(); ++r) {
    const wire::PeerInfo& p = view_.peer(r);
    ranks.push_back({{"rank", r},
                     {"role", RoleName(p.role())},
                     {"host", p.host()},
                     {"pid", p.pid()},
                     {"endpoint", p.endpoint()},
                     {"public_key", p.public_key().size() == 32 ? Z85Encode(p.public_key()) : ""}});
  }
  const OrderedJson cluster = {{"world_size", view_.layout.world_size()},
                               {"servers", view_.layout.num_servers()},
                               {"workers", view_.layout.num_workers()},
                               {"ranks", ranks}};
  const std::string tmp = options_.cluster_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << JsonText(cluster) << "\n";
    if (!out) {
      METAPS_LOG(WARNING) << "cannot write cluster file " << tmp;
      return;
    }
  }
  if (std::rename(tmp.c_str(), options_.cluster_file.c_str()) != 0) {
    METAPS_LOG(WARNING) << "cannot rename " << tmp << " to " << options_.cluster_file;
  }
}

}  // namespace metaps
