#include <zmq_addon.hpp>

#include "common/logging.h"
#include "common/rpc.h"

namespace metaps {

std::string UniqueInprocName(const char* what, const void* owner);  // rpc_server.cc

StatusOr<std::unique_ptr<RpcClient>> RpcClient::Create(Transport* transport,
                                                       const CurveKeyPair& keys, int my_rank,
                                                       int world_size, const std::string& name) {
  std::unique_ptr<RpcClient> c(new RpcClient(transport, keys, my_rank, world_size));
  try {
    const std::string wake = UniqueInprocName(("client-wake-" + name).c_str(), c.get());
    c->wake_pull_ = zmq::socket_t(transport->context(), zmq::socket_type::pull);
    c->wake_pull_.set(zmq::sockopt::linger, 0);
    c->wake_pull_.bind(wake);
    c->wake_push_ = zmq::socket_t(transport->context(), zmq::socket_type::push);
    c->wake_push_.set(zmq::sockopt::linger, 0);
    c->wake_push_.connect(wake);
  } catch (const zmq::error_t& e) {
    return Internal(std::string("RpcClient internal sockets: ") + e.what());
  }
  c->thread_ = std::thread([c = c.get(), prefix = CurrentLogPrefix()] {
    ScopedLogPrefix scoped(prefix);
    c->Loop();
  });
  return c;
}

RpcClient::~RpcClient() { Close(); }

void RpcClient::AddPeer(int rank, const std::string& endpoint, const std::string& public_key) {
  Command command;
  command.rank = rank;
  command.endpoint = endpoint;
  command.public_key = public_key;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  const bool was_empty = commands_.empty();
  commands_.push_back(std::move(command));
  if (was_empty) wake_push_.send(zmq::message_t(), zmq::send_flags::dontwait);
}

std::future<StatusOr<Message>> RpcClient::Call(int rank, Message request,
                                               std::chrono::milliseconds timeout) {
  Command command;
  command.rank = rank;
  command.is_call = true;
  command.request = std::move(request);
  command.deadline = std::chrono::steady_clock::now() + timeout;
  std::future<StatusOr<Message>> future = command.promise.get_future();
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    command.promise.set_value(Unavailable("RPC client is closed"));
    return future;
  }
  const bool was_empty = commands_.empty();
  commands_.push_back(std::move(command));
  if (was_empty) wake_push_.send(zmq::message_t(), zmq::send_flags::dontwait);
  return future;
}

void RpcClient::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    stop_ = true;
    // A client whose Create failed has no wake socket and no thread.
    if (wake_push_) wake_push_.send(zmq::message_t(), zmq::send_flags::dontwait);
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [id, pending] : pending_) {
    pending.promise.set_value(
        Unavailable("RPC client closed before rank " + std::to_string(pending.rank) + " replied"));
  }
  pending_.clear();
  for (auto& command : commands_) {
    if (command.is_call) command.promise.set_value(Unavailable("RPC client is closed"));
  }
  commands_.clear();
  for (auto& [rank, peer] : data_peers_) {
    for (auto& command : peer.waiting)
      command.promise.set_value(Unavailable("RPC client is closed"));
    peer.keys.Wipe();
  }
  data_peers_.clear();
  peers_.clear();
  wake_pull_.close();
  std::lock_guard<std::mutex> lock(mu_);
  wake_push_.close();
}

DropStats RpcClient::drop_stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return drops_;
}

void RpcClient::Drop(int rank, const std::string& reason) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  drops_.Count(reason);
  drops_.CountPeer("rank " + std::to_string(rank));
  if (drops_.total == 1) {
    METAPS_LOG(WARNING) << "dropped a reply from rank " << rank << ": " << reason;
  }
}

namespace {
bool TravelsOnDataPlane(wire::MessageType type) { return type == wire::PULL || type == wire::PUSH; }
}  // namespace

bool RpcClient::SendParts(zmq::socket_t& socket, std::vector<zmq::message_t>& parts,
                          Command& command) {
  // Never blocks: a DEALER has a pipe to its peer from connect on (and an
  // unlimited send queue), so a send only has nowhere to go when ZeroMQ tore
  // the connection down (a refused CURVE handshake, a peer gone for good).
  // Blocking then would stall this loop and with it every call's deadline.
  try {
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                              : zmq::send_flags::dontwait;
      if (!socket.send(parts[i], flags)) {
        command.promise.set_value(Unavailable("send to rank " + std::to_string(command.rank) +
                                              ": no connection (refused or gone)"));
        return false;
      }
    }
  } catch (const zmq::error_t& e) {
    command.promise.set_value(
        Unavailable("send to rank " + std::to_string(command.rank) + ": " + e.what()));
    return false;
  }
  return true;
}

void RpcClient::ResetDataPeer(int rank) {
  auto it = data_peers_.find(rank);
  if (it == data_peers_.end()) return;
  std::deque<Command> waiting = std::move(it->second.waiting);
  it->second.keys.Wipe();
  data_peers_.erase(it);  // closes the data socket; its late replies are gone
  for (auto& command : waiting) RunCommand(command);
}

void RpcClient::StartKeyExchange(int rank, DataPeer& peer, Command& command) {
  auto keys = DataSessionKeys::Generate();
  auto control = peers_.find(rank);
  if (!keys.ok() || control == peers_.end()) {
    // No session possible: this call (and later ones) go over CURVE, or fail
    // there for want of a connection.
    if (!keys.ok()) METAPS_LOG(ERROR) << "data session with rank " << rank << ": " << keys.status();
    peer.state = DataPeer::State::kCurve;
    return;
  }
  Message m = MakeMessage(wire::DATA_SESSION, my_rank_);
  const std::string frame = keys->Serialize();
  m.AddCopy(frame.data(), frame.size());
  const uint64_t id = next_request_id_++;
  m.header.set_request_id(id);
  std::vector<zmq::message_t> parts = EncodeMessage(std::move(m));
  Command exchange;
  exchange.rank = rank;
  if (!SendParts(control->second, parts, exchange)) {
    keys->Wipe();
    command.promise.set_value(exchange.promise.get_future().get().status());
    return;
  }
  peer.keys = *keys;
  keys->Wipe();
  peer.state = DataPeer::State::kExchanging;
  Pending pending{rank, command.deadline, {}, Via::kKeyExchange, peer.keys.id};
  pending_.emplace(id, std::move(pending));
  peer.waiting.push_back(std::move(command));
}

void RpcClient::FinishKeyExchange(int rank, const StatusOr<Message>& reply) {
  DataPeer& peer = data_peers_[rank];
  Status status = reply.status();
  if (status.ok() && reply->header.control().host().empty()) {
    status = InvalidArgument("the reply names no data endpoint");
  }
  if (status.ok()) {
    auto socket = transport_->ConnectData(reply->header.control().host());
    auto sealer = DataSealer::Create(peer.keys.id, peer.keys.to_server, transport_->crypto_pool());
    auto opener = DataOpener::Create(peer.keys.id, peer.keys.to_client, transport_->crypto_pool());
    if (!socket.ok()) status = socket.status();
    if (!sealer.ok()) status = sealer.status();
    if (!opener.ok()) status = opener.status();
    if (status.ok()) {
      peer.socket = std::move(socket).value();
      peer.sealer = std::move(sealer).value();
      peer.opener = std::move(opener).value();
      peer.state = DataPeer::State::kReady;
      data_sessions_opened_++;
      METAPS_LOG(DEBUG) << "data session with rank " << rank << ": " << DataCipherDescription();
    }
  }
  peer.keys.Wipe();
  if (!status.ok()) {
    METAPS_LOG(WARNING) << "rank " << rank << " did not open an aead data session ("
                        << status.message() << "): PULL and PUSH to it go over CURVE";
    peer.state = DataPeer::State::kCurve;
  }
  std::deque<Command> waiting = std::move(peer.waiting);
  peer.waiting.clear();
  for (auto& command : waiting) RunCommand(command);
}

void RpcClient::RunCommand(Command& command) {
  if (!command.is_call) {
    auto socket = transport_->ConnectPeer(command.endpoint, command.public_key, keys_,
                                          "r" + std::to_string(my_rank_));
    if (!socket.ok()) {
      METAPS_LOG(ERROR) << "connect to rank " << command.rank << ": " << socket.status();
      return;
    }
    peers_[command.rank] = std::move(socket).value();
    // A new connection gets a new data session (new keys) on its first call.
    ResetDataPeer(command.rank);
    return;
  }
  auto it = peers_.find(command.rank);
  if (it == peers_.end()) {
    command.promise.set_value(Unavailable("no connection to rank " + std::to_string(command.rank)));
    return;
  }
  if (transport_->aead_data_plane() && TravelsOnDataPlane(command.request.header.type())) {
    DataPeer& peer = data_peers_[command.rank];
    switch (peer.state) {
      case DataPeer::State::kIdle:
        StartKeyExchange(command.rank, peer, command);
        if (peer.state != DataPeer::State::kCurve) return;
        break;  // no session possible: over CURVE
      case DataPeer::State::kExchanging:
        peer.waiting.push_back(std::move(command));
        return;
      case DataPeer::State::kReady: {
        const uint64_t id = next_request_id_++;
        command.request.header.set_request_id(id);
        command.request.header.set_sender(my_rank_);
        const uint64_t writable = command.request.writable_frames;
        std::vector<zmq::message_t> parts = EncodeMessage(std::move(command.request));
        Status sealed = peer.sealer->Seal(&parts, writable);
        if (!sealed.ok()) {
          command.promise.set_value(sealed);
          return;
        }
        if (!SendParts(peer.socket, parts, command)) return;
        pending_.emplace(id, Pending{command.rank, command.deadline, std::move(command.promise),
                                     Via::kData, peer.sealer->session_id()});
        return;
      }
      case DataPeer::State::kCurve:
        break;
    }
  }
  const uint64_t id = next_request_id_++;
  command.request.header.set_request_id(id);
  command.request.header.set_sender(my_rank_);
  std::vector<zmq::message_t> parts = EncodeMessage(std::move(command.request));
  if (!SendParts(it->second, parts, command)) return;
  pending_.emplace(id, Pending{command.rank, command.deadline, std::move(command.promise)});
}

void RpcClient::HandleReply(int rank, zmq::socket_t& socket, bool data) {
  for (int budget = 256; budget > 0; --budget) {
    std::vector<zmq::message_t> parts;
    try {
      if (!zmq::recv_multipart(socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
        return;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() != EAGAIN) METAPS_LOG(ERROR) << "recv from rank " << rank << ": " << e.what();
      return;
    }
    uint64_t session = 0;
    if (data) {
      auto peer = data_peers_.find(rank);
      if (peer == data_peers_.end() || !peer->second.opener) return;  // reset meanwhile
      session = peer->second.opener->session_id();
      Status opened = peer->second.opener->Open(&parts);
      if (!opened.ok()) {
        Drop(rank, opened.message());
        continue;
      }
    }
    auto decoded = DecodeMessage(std::move(parts));
    if (!decoded.ok()) {
      Drop(rank, decoded.status().message());
      continue;
    }
    Status valid = ValidateHeader(decoded->header, world_size_, rank, true);
    if (!valid.ok()) {
      Drop(rank, valid.message());
      continue;
    }
    auto it = pending_.find(decoded->header.request_id());
    // A reply travels back the way its request went: one on the data socket
    // to a request sent over CURVE (or the other way) is forged.
    const bool expected_data = it != pending_.end() && it->second.via == Via::kData;
    if (it == pending_.end() || it->second.rank != rank || expected_data != data ||
        (data && it->second.session != session)) {
      // A reply after its deadline, or to a request never made.
      Drop(rank,
           "protocol: reply to unknown request " + std::to_string(decoded->header.request_id()));
      continue;
    }
    Status status = ReplyStatus(decoded->header);
    if (it->second.via == Via::kKeyExchange) {
      const uint64_t exchange_session = it->second.session;
      pending_.erase(it);
      auto peer = data_peers_.find(rank);
      if (peer == data_peers_.end() || peer->second.state != DataPeer::State::kExchanging ||
          peer->second.keys.id != exchange_session) {
        continue;  // superseded by a reconnect
      }
      if (status.ok()) {
        FinishKeyExchange(rank, std::move(decoded));
      } else {
        FinishKeyExchange(rank, status);
      }
      continue;
    }
    if (status.ok()) {
      it->second.promise.set_value(std::move(decoded).value());
    } else {
      it->second.promise.set_value(status.Annotate("rank " + std::to_string(rank)));
    }
    pending_.erase(it);
  }
}

void RpcClient::ExpireDeadlines() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<int> reset;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      const int rank = it->second.rank;
      auto peer = data_peers_.find(rank);
      const bool current_session =
          peer != data_peers_.end() && ((it->second.via == Via::kData && peer->second.sealer &&
                                         peer->second.sealer->session_id() == it->second.session) ||
                                        (it->second.via == Via::kKeyExchange &&
                                         peer->second.state == DataPeer::State::kExchanging &&
                                         peer->second.keys.id == it->second.session));
      if (it->second.via == Via::kKeyExchange) {
        if (current_session) {
          // The calls that waited for it end with it; the next call tries again.
          for (auto& command : peer->second.waiting) {
            command.promise.set_value(
                DeadlineExceeded("rank " + std::to_string(rank) +
                                 " did not answer the data-plane key exchange in "
                                 "time"));
          }
          peer->second.waiting.clear();
          reset.push_back(rank);
        }
      } else {
        it->second.promise.set_value(DeadlineExceeded("rank " + std::to_string(rank) +
                                                      " did not reply to request " +
                                                      std::to_string(it->first) + " in time"));
        // A lost data reply may mean the server lost the session (it
        // restarted, or evicted it): the next call opens a new one.
        if (current_session) reset.push_back(rank);
      }
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (int rank : reset) {
    METAPS_LOG(WARNING) << "a data-plane call to rank " << rank
                        << " timed out: its session is dropped, the next call opens a new one";
    ResetDataPeer(rank);
  }
}

void RpcClient::Loop() {
  std::vector<zmq::pollitem_t> items;
  std::vector<int> item_ranks;
  while (!stop_) {
    items.clear();
    item_ranks.clear();
    items.push_back({wake_pull_.handle(), 0, ZMQ_POLLIN, 0});
    item_ranks.push_back(-1);
    for (auto& [rank, socket] : peers_) {
      items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
      item_ranks.push_back(rank);
    }
    const size_t first_data_item = items.size();
    for (auto& [rank, peer] : data_peers_) {
      if (peer.state != DataPeer::State::kReady) continue;
      items.push_back({peer.socket.handle(), 0, ZMQ_POLLIN, 0});
      item_ranks.push_back(rank);
    }
    long timeout_ms = -1;
    if (!pending_.empty()) {
      auto earliest = pending_.begin()->second.deadline;
      for (auto& [id, p] : pending_) earliest = std::min(earliest, p.deadline);
      timeout_ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                         earliest - std::chrono::steady_clock::now())
                                             .count() +
                                         1);
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() != EINTR) METAPS_LOG(ERROR) << "client poll: " << e.what();
      continue;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t ignored;
      while (wake_pull_.recv(ignored, zmq::recv_flags::dontwait)) {
      }
      std::deque<Command> commands;
      {
        std::lock_guard<std::mutex> lock(mu_);
        commands.swap(commands_);
      }
      for (auto& command : commands) RunCommand(command);
    }
    for (size_t i = 1; i < first_data_item; ++i) {
      if (items[i].revents & ZMQ_POLLIN) HandleReply(item_ranks[i], peers_[item_ranks[i]], false);
    }
    for (size_t i = first_data_item; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      // A reply handled above may have reset this peer's session.
      auto peer = data_peers_.find(item_ranks[i]);
      if (peer == data_peers_.end() || peer->second.state != DataPeer::State::kReady ||
          peer->second.socket.handle() != items[i].socket) {
        continue;
      }
      HandleReply(item_ranks[i], peer->second.socket, true);
    }
    ExpireDeadlines();
  }
}

}  // namespace metaps
