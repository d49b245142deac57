#include <atomic>
#include <cstring>
#include <sstream>
#include <zmq_addon.hpp>

#include "common/logging.h"
#include "common/rpc.h"

namespace metaps {

namespace {
// A routing id for logs: ROUTER-assigned ids are binary; at most 16 bytes, hex.
std::string PrintableId(const std::string& id) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < id.size() && i < 16; ++i) {
    out += kHex[static_cast<unsigned char>(id[i]) >> 4];
    out += kHex[static_cast<unsigned char>(id[i]) & 15];
  }
  return out;
}
}  // namespace

// An inproc name no other socket of this context uses.
std::string UniqueInprocName(const char* what, const void* owner) {
  // The owner's address alone is not unique: an object freed and another
  // allocated at the same address would bind a name ZeroMQ may not have
  // released yet (EADDRINUSE). A process-wide counter makes every name new.
  static std::atomic<uint64_t> counter{0};
  std::ostringstream os;
  os << "inproc://metaps-" << what << "-" << owner << "-" << counter.fetch_add(1);
  return os.str();
}

StatusOr<std::unique_ptr<RpcServer>> RpcServer::Create(Transport* transport,
                                                       const CurveKeyPair& keys,
                                                       const Options& options) {
  std::unique_ptr<RpcServer> s(new RpcServer(transport, options));
  ASSIGN_OR_RETURN(s->router_, transport->BindService(options.name, keys, &s->endpoint_,
                                                      options.max_frame_bytes));
  if (transport->aead_data_plane() && options.rank >= 0) {
    ASSIGN_OR_RETURN(s->data_router_,
                     transport->BindData(&s->data_endpoint_, options.max_frame_bytes));
  }
  try {
    const std::string wake = UniqueInprocName("server-wake", s.get());
    s->wake_pull_ = zmq::socket_t(transport->context(), zmq::socket_type::pull);
    s->wake_pull_.set(zmq::sockopt::linger, 0);
    s->wake_pull_.bind(wake);
    s->wake_push_ = zmq::socket_t(transport->context(), zmq::socket_type::push);
    s->wake_push_.set(zmq::sockopt::linger, 0);
    s->wake_push_.connect(wake);
    if (options.watch_connections && transport->options().scheme == "tcp") {
      const std::string mon = UniqueInprocName("server-monitor", s.get());
      if (zmq_socket_monitor(s->router_.handle(), mon.c_str(),
                             ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        return Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
      }
      s->monitor_ = zmq::socket_t(transport->context(), zmq::socket_type::pair);
      s->monitor_.set(zmq::sockopt::linger, 0);
      s->monitor_.connect(mon);
      if (s->data_router_) {
        // Data connections close too (a PUSH held for a worker came on one).
        const std::string data_mon = UniqueInprocName("server-data-monitor", s.get());
        if (zmq_socket_monitor(s->data_router_.handle(), data_mon.c_str(),
                               ZMQ_EVENT_DISCONNECTED) != 0) {
          return Internal(std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
        }
        s->data_monitor_ = zmq::socket_t(transport->context(), zmq::socket_type::pair);
        s->data_monitor_.set(zmq::sockopt::linger, 0);
        s->data_monitor_.connect(data_mon);
      }
    }
  } catch (const zmq::error_t& e) {
    return Internal(std::string("RpcServer internal sockets: ") + e.what());
  }
  return s;
}

RpcServer::~RpcServer() { Stop(); }

void RpcServer::Start(RequestHandler on_request, TickHandler on_tick,
                      DisconnectHandler on_disconnect) {
  on_request_ = std::move(on_request);
  on_tick_ = std::move(on_tick);
  on_disconnect_ = std::move(on_disconnect);
  thread_ = std::thread([this, prefix = CurrentLogPrefix()] {
    ScopedLogPrefix scoped(prefix);
    Loop();
  });
}

void RpcServer::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    wake_push_.send(zmq::message_t(), zmq::send_flags::dontwait);
  }
  thread_.join();
  // Sockets are closed here, after the loop, by the thread that joined it.
  if (monitor_) {
    zmq_socket_monitor(router_.handle(), nullptr, 0);
    monitor_.close();
  }
  if (data_monitor_) {
    zmq_socket_monitor(data_router_.handle(), nullptr, 0);
    data_monitor_.close();
  }
  sessions_.clear();
  router_.close();
  if (data_router_) data_router_.close();
  wake_pull_.close();
  std::lock_guard<std::mutex> lock(post_mu_);
  wake_push_.close();
}

void RpcServer::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(post_mu_);
  if (!wake_push_) return;  // stopped
  const bool was_empty = posted_.empty();
  posted_.push_back(std::move(task));
  if (was_empty) wake_push_.send(zmq::message_t(), zmq::send_flags::dontwait);
}

void RpcServer::Reply(const PeerAddress& to, Message reply) {
  const uint64_t writable = reply.writable_frames;
  std::vector<zmq::message_t> parts = EncodeMessage(std::move(reply));
  zmq::socket_t* socket = &router_;
  if (to.data_session != 0) {
    auto it = sessions_.find(to.data_session);
    if (it == sessions_.end()) {
      CountDrop(to, "reply dropped: the data session was replaced by a newer one");
      return;
    }
    Status sealed = it->second.sealer->Seal(&parts, writable);
    if (!sealed.ok()) {
      CountDrop(to, "reply dropped: " + sealed.message());
      return;
    }
    socket = &data_router_;
  }
  try {
    // ROUTER_MANDATORY: the routing-id frame fails with EHOSTUNREACH for a
    // peer that left and EAGAIN at the high-water mark; once it is accepted
    // the rest of the message goes out whole.
    if (!socket->send(zmq::message_t(to.routing_id.data(), to.routing_id.size()),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      CountDrop(to, "reply dropped: the peer is not reading its replies (high-water mark " +
                        std::to_string(kReplyHighWaterMark) + " reached)");
      return;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      socket->send(parts[i],
                   i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    // The peer left; nothing to do but count it.
    CountDrop(to, std::string("reply dropped: ") + e.what());
  }
}

void DropStats::Count(const std::string& reason) {
  total++;
  std::string key = reason.substr(0, std::min(reason.find(':'), kMaxReasonChars));
  auto it = by_reason.find(key);
  if (it != by_reason.end()) {
    it->second++;
  } else if (by_reason.size() + 1 < kMaxDropReasons) {
    by_reason[key]++;
  } else {
    by_reason["other"]++;  // the last slot
  }
}

void DropStats::CountPeer(const std::string& peer) {
  auto it = by_peer.find(peer);
  if (it != by_peer.end()) {
    it->second++;
  } else if (by_peer.size() + 1 < kMaxLoggedPeers) {
    by_peer[peer]++;
  } else {
    by_peer["other"]++;
  }
}

void RpcServer::CountDrop(const PeerAddress& from, const std::string& reason) {
  std::string peer;
  if (from.rank >= 0) {
    peer = "rank " + std::to_string(from.rank);
    if (from.data_session != 0) peer += " (data session)";
  } else if (from.rank == kMonitorRank) {
    peer = "monitor client";
  } else {
    peer = "peer " + PrintableId(from.routing_id);
  }
  Drop(peer, reason);
}

DropStats RpcServer::drop_stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return drops_;
}

void RpcServer::Drop(const std::string& peer, const std::string& reason) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  drops_.Count(reason);
  drops_.CountPeer(peer);
  if (logged_peers_.size() >= kMaxLoggedPeers) return;
  if (!logged_peers_.insert(peer).second) return;
  METAPS_LOG(WARNING) << options_.name << ": dropped a message from " << peer << ": "
                      << reason.substr(0, 512)
                      << " (further drops from this peer are only counted)";
  if (logged_peers_.size() == kMaxLoggedPeers) {
    METAPS_LOG(WARNING) << options_.name << ": " << kMaxLoggedPeers
                        << " peers had messages dropped; drops from further peers are only "
                           "counted";
  }
}

void RpcServer::Loop() {
  std::vector<zmq::pollitem_t> items = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                                        {wake_pull_.handle(), 0, ZMQ_POLLIN, 0}};
  const size_t monitor_item = monitor_ ? items.size() : 0;
  if (monitor_) items.push_back({monitor_.handle(), 0, ZMQ_POLLIN, 0});
  const size_t data_item = data_router_ ? items.size() : 0;
  if (data_router_) items.push_back({data_router_.handle(), 0, ZMQ_POLLIN, 0});
  const size_t data_monitor_item = data_monitor_ ? items.size() : 0;
  if (data_monitor_) items.push_back({data_monitor_.handle(), 0, ZMQ_POLLIN, 0});
  const auto tick = options_.tick;
  auto next_tick = std::chrono::steady_clock::now() + tick;
  while (!stop_) {
    long timeout_ms = -1;
    if (tick.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          next_tick - std::chrono::steady_clock::now());
      timeout_ms = std::max<long>(0, left.count());
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() == EINTR) continue;
      METAPS_LOG(ERROR) << options_.name << ": poll: " << e.what();
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t ignored;
      while (wake_pull_.recv(ignored, zmq::recv_flags::dontwait)) {
      }
      std::deque<std::function<void()>> tasks;
      {
        std::lock_guard<std::mutex> lock(post_mu_);
        tasks.swap(posted_);
      }
      for (auto& task : tasks) task();
    }
    if (items[0].revents & ZMQ_POLLIN) HandleIncoming(/*data=*/false);
    if (data_item != 0 && (items[data_item].revents & ZMQ_POLLIN)) HandleIncoming(/*data=*/true);
    if (monitor_item != 0 && (items[monitor_item].revents & ZMQ_POLLIN)) {
      HandleMonitorEvent(monitor_);
    }
    if (data_monitor_item != 0 && (items[data_monitor_item].revents & ZMQ_POLLIN)) {
      HandleMonitorEvent(data_monitor_);
    }
    if (tick.count() > 0 && std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + tick;
      if (on_tick_) on_tick_();
    }
  }
}

void RpcServer::HandleIncoming(bool data) {
  zmq::socket_t& socket = data ? data_router_ : router_;
  // Drain what is queued, a bounded number at a time so ticks still run.
  for (int budget = 256; budget > 0 && !stop_; --budget) {
    std::vector<zmq::message_t> parts;
    try {
      auto n = zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait);
      if (!n) return;
    } catch (const zmq::error_t& e) {
      if (e.num() != EAGAIN) METAPS_LOG(ERROR) << options_.name << ": recv: " << e.what();
      return;
    }
    PeerAddress from;
    from.routing_id = parts[0].to_string();
    const std::string unknown_peer =
        "peer " + PrintableId(from.routing_id) + (data ? " (data socket)" : "");
    if (parts.size() < 2) {
      Drop(unknown_peer, "protocol: no header frame");
      continue;
    }
    from.fd = zmq_msg_get(parts[1].handle(), ZMQ_SRCFD);
    // Read before the frames move: the CURVE identity is the frame's metadata.
    const int curve_rank = data ? -1 : AuthenticatedRank(parts[1]);
    std::vector<zmq::message_t> body(std::make_move_iterator(parts.begin() + 1),
                                     std::make_move_iterator(parts.end()));
    int auth_rank = -1;
    std::string peer;
    if (data) {
      // Only a session's keys open its frames: a non-member (anyone can
      // connect here) gets every message dropped, and reads nothing.
      const uint64_t session = EnvelopeSessionId(body[0]);
      auto it = sessions_.find(session);
      if (session == 0 || it == sessions_.end()) {
        Drop(unknown_peer, "data session: message under unknown session " +
                               std::to_string(session) + " (not opened, or replaced)");
        continue;
      }
      auth_rank = it->second.rank;
      peer = "rank " + std::to_string(auth_rank) + " (data session)";
      Status opened = it->second.opener->Open(&body);
      if (!opened.ok()) {
        Drop(peer, opened.message());
        continue;
      }
      from.data_session = session;
    } else {
      auth_rank = curve_rank;
      peer = auth_rank >= 0              ? "rank " + std::to_string(auth_rank)
             : auth_rank == kMonitorRank ? "monitor client"
                                         : unknown_peer;
    }
    auto decoded = DecodeMessage(std::move(body));
    if (!decoded.ok()) {
      Drop(peer, decoded.status().message());
      continue;
    }
    const bool monitor = auth_rank == kMonitorRank;
    Status valid =
        ValidateHeader(decoded->header, options_.world_size, monitor ? -1 : auth_rank, false);
    if (!valid.ok()) {
      Drop(peer, valid.message());
      continue;
    }
    // A monitor key is an operator's client, never a member: it may ping,
    // whatever rank its header claims.
    if (monitor && decoded->header.type() != wire::PING) {
      Drop(peer, std::string("role: a monitor client may only PING, not ") +
                     MessageTypeName(decoded->header.type()));
      continue;
    }
    const wire::MessageType type = decoded->header.type();
    if (data && type != wire::PULL && type != wire::PUSH) {
      Drop(peer, std::string("role: only PULL and PUSH travel on the data plane, not ") +
                     MessageTypeName(type));
      continue;
    }
    from.rank = monitor ? kMonitorRank : decoded->header.sender();
    if (type == wire::DATA_SESSION && options_.rank >= 0) {
      OpenDataSession(from, *decoded);
      continue;
    }
    // Handlers must not throw; if one does (a peer's payload it failed to
    // parse), the message is dropped and counted and the server goes on.
    try {
      on_request_(from, std::move(decoded).value());
    } catch (const std::exception& e) {
      Drop(peer, std::string("handler failed: ") + e.what());
    } catch (...) {
      Drop(peer, "handler failed");
    }
  }
}

void RpcServer::OpenDataSession(const PeerAddress& from, const Message& request) {
  if (!data_router_) {
    // The client falls back to CURVE for this server.
    Reply(from, MakeReply(request.header, options_.rank,
                          InvalidArgument("this rank has no aead data plane (--data-plane curve "
                                          "or --insecure)")));
    return;
  }
  if (request.frames.size() != 1) {
    CountDrop(from, "data session: a key exchange carries 1 frame, got " +
                        std::to_string(request.frames.size()));
    return;
  }
  auto keys = DataSessionKeys::Parse(request.frames[0].data(), request.frames[0].size());
  if (!keys.ok()) {
    CountDrop(from, keys.status().message());
    return;
  }
  Status status;
  if (sessions_.count(keys->id) != 0) {
    status = InvalidArgument("data session " + std::to_string(keys->id) + " is already open");
  } else {
    auto opener = DataOpener::Create(keys->id, keys->to_server, transport_->crypto_pool());
    auto sealer = DataSealer::Create(keys->id, keys->to_client, transport_->crypto_pool());
    if (!opener.ok() || !sealer.ok()) {
      status = !opener.ok() ? opener.status() : sealer.status();
    } else {
      // A rank keeps its newest sessions (one per client and server; more
      // only transiently, across reconnects).
      size_t of_rank = 0;
      auto oldest = sessions_.end();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (it->second.rank != from.rank) continue;
        of_rank++;
        if (oldest == sessions_.end() || it->second.opened < oldest->second.opened) oldest = it;
      }
      if (of_rank >= kMaxDataSessionsPerRank) sessions_.erase(oldest);
      DataSession& session = sessions_[keys->id];
      session.rank = from.rank;
      session.opened = ++sessions_seq_;
      session.opener = std::move(opener).value();
      session.sealer = std::move(sealer).value();
      data_sessions_opened_++;
    }
  }
  keys->Wipe();
  Message reply = MakeReply(request.header, options_.rank, status);
  if (status.ok()) reply.header.mutable_control()->set_host(data_endpoint_);
  Reply(from, std::move(reply));
}

void RpcServer::HandleMonitorEvent(zmq::socket_t& monitor) {
  std::vector<zmq::message_t> parts;
  try {
    if (!zmq::recv_multipart(monitor, std::back_inserter(parts), zmq::recv_flags::dontwait)) return;
  } catch (const zmq::error_t&) {
    return;
  }
  if (parts.size() < 2 || parts[0].size() < 6) return;
  uint16_t event;
  uint32_t value;
  std::memcpy(&event, parts[0].data(), 2);
  std::memcpy(&value, static_cast<const char*>(parts[0].data()) + 2, 4);
  if (event == ZMQ_EVENT_DISCONNECTED && on_disconnect_) {
    on_disconnect_(static_cast<int>(value));
  }
}

}  // namespace metaps
