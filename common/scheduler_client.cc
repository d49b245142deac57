#include "common/scheduler_client.h"

#include "common/logging.h"

namespace metaps {
namespace {

// Gathers wait for other ranks for as long as the job lives; liveness is
// checked by heartbeats, not by this deadline.
constexpr std::chrono::hours kGatherTimeout{24 * 365};

}  // namespace

SchedulerClient::SchedulerClient(RpcClient* client, const ClusterView& view,
                                 HeartbeatOptions options)
    : client_(client), view_(view), options_(options) {}

SchedulerClient::~SchedulerClient() { StopHeartbeats(); }

Status SchedulerClient::job_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return job_status_;
}

void SchedulerClient::Fail(const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (job_status_.ok()) job_status_ = status;
  cv_.notify_all();
}

StatusOr<Message> SchedulerClient::CallAndWait(Message request) {
  auto future = client_->Call(
      0, std::move(request), std::chrono::duration_cast<std::chrono::milliseconds>(kGatherTimeout));
  // Wake up on either the reply or a job failure seen by the heartbeat thread.
  while (future.wait_for(options_.interval) != std::future_status::ready) {
    Status s = job_status();
    if (!s.ok()) return s;
  }
  return future.get();
}

Status SchedulerClient::Register() {
  Message m = MakeMessage(wire::REGISTER, view_.my_rank);
  wire::Control* c = m.header.mutable_control();
  c->set_role(view_.layout.RoleOf(view_.my_rank));
  c->set_host(HostName());
  c->set_pid(view_.peer(view_.my_rank).pid());
  return CallAndWait(std::move(m)).status();
}

Message SchedulerClient::GatherRequest(const std::string& name, uint32_t group) const {
  Message m = MakeMessage(wire::BARRIER, view_.my_rank);
  const bool scoped = scope_group_ != 0 && group == kGroupWorkers;
  m.header.mutable_control()->set_name(scoped ? scope_prefix_ + name : name);
  m.header.mutable_control()->set_group(scoped ? scope_group_ : group);
  return m;
}

SchedulerClient::Scope::Scope(SchedulerClient* client, std::string prefix, uint32_t group)
    : client_(client),
      saved_prefix_(std::move(client->scope_prefix_)),
      saved_group_(client->scope_group_) {
  client_->scope_prefix_ = std::move(prefix);
  client_->scope_group_ = group;
}

SchedulerClient::Scope::~Scope() {
  client_->scope_prefix_ = std::move(saved_prefix_);
  client_->scope_group_ = saved_group_;
}

Status SchedulerClient::CheckScope(uint32_t group) const {
  if (scope_group_ != 0 && group != kGroupWorkers) {
    return InvalidArgument("a gather of group " + std::to_string(group) +
                           " inside a worker group's scope (" + scope_prefix_ +
                           "): trials gather among their own workers only");
  }
  return Status::Ok();
}

StatusOr<Message> SchedulerClient::Gather(const std::string& name, uint32_t group,
                                          const std::string& text,
                                          std::vector<zmq::message_t> frames) {
  RETURN_IF_ERROR(job_status());
  RETURN_IF_ERROR(CheckScope(group));
  Message m = GatherRequest(name, group);
  m.header.mutable_control()->set_text(text);
  m.frames = std::move(frames);
  return CallAndWait(std::move(m));
}

StatusOr<Message> SchedulerClient::GatherPayload(const std::string& name, uint32_t group,
                                                 std::string payload,
                                                 std::vector<zmq::message_t> frames) {
  RETURN_IF_ERROR(job_status());
  RETURN_IF_ERROR(CheckScope(group));
  Message m = GatherRequest(name, group);
  m.header.mutable_control()->set_payload(std::move(payload));
  m.frames = std::move(frames);
  return CallAndWait(std::move(m));
}

StatusOr<int64_t> SchedulerClient::Clock(int64_t clock) {
  RETURN_IF_ERROR(job_status());
  if (scope_group_ != 0) {
    return InvalidArgument("CLOCK inside a worker group's scope (" + scope_prefix_ +
                           "): trials run BSP");
  }
  Message m = MakeMessage(wire::CLOCK, view_.my_rank);
  m.header.set_clock(clock);
  ASSIGN_OR_RETURN(Message reply, CallAndWait(std::move(m)));
  return reply.header.clock();
}

void SchedulerClient::ReportFailure(const Status& why) {
  Message m = MakeMessage(wire::FAIL, view_.my_rank);
  m.header.mutable_control()->set_text(why.message());
  const Status sent = client_->Call(0, std::move(m), options_.timeout).get().status();
  if (!sent.ok()) METAPS_LOG(WARNING) << "could not report the failure to the scheduler: " << sent;
}

void SchedulerClient::StartHeartbeats() {
  heartbeat_thread_ = std::thread([this, prefix = CurrentLogPrefix()] {
    ScopedLogPrefix scoped(prefix);
    HeartbeatLoop();
  });
}

void SchedulerClient::StopHeartbeats() {
  if (!heartbeat_thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  heartbeat_thread_.join();
}

void SchedulerClient::HeartbeatLoop() {
  auto last_answer = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.interval, [&] { return stop_.load(); });
      if (stop_) return;
    }
    auto reply =
        client_->Call(0, MakeMessage(wire::HEARTBEAT, view_.my_rank), options_.timeout).get();
    const auto now = std::chrono::steady_clock::now();
    if (reply.ok()) {
      last_answer = now;
      if (reply->header.control().value() == kJobStopRequested) stop_requested_ = true;
      if (reply->header.control().value() == kJobAborted) {
        Fail(Aborted("the scheduler aborted the job: " + reply->header.control().text()));
      }
    } else if (stop_) {
      return;
    } else if (now - last_answer >= options_.timeout) {
      Fail(Unavailable(
          "lost the scheduler (rank 0, host " + view_.peer(0).host() +
          "): no heartbeat reply for " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(now - last_answer).count()) +
          " ms (" + reply.status().message() + ")"));
    }
  }
}

}  // namespace metaps
