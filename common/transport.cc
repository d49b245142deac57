#include "common/transport.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <zmq_addon.hpp>

#include "common/logging.h"

namespace metaps {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapDomain[] = "metaps";
constexpr size_t kMaxLoggedRefusedKeys = 64;

std::string ZmqError(const std::string& call, const zmq::error_t& e) {
  return call + ": " + e.what();
}

}  // namespace

Transport::Transport(const TransportOptions& options)
    : options_(options), context_(options.io_threads) {}

StatusOr<std::unique_ptr<Transport>> Transport::Create(const TransportOptions& options) {
  if (options.max_message_bytes < 1024) {
    return InvalidArgument("maximum message size must be at least 1024 bytes, got " +
                           std::to_string(options.max_message_bytes));
  }
  if (options.data_plane != "aead" && options.data_plane != "curve") {
    return InvalidArgument("--data-plane must be aead or curve, got '" + options.data_plane + "'");
  }
  if (options.data_plane_threads < -1 || options.data_plane_threads > 256) {
    return InvalidArgument("--data-plane-threads must be -1 (auto) or 0..256, got " +
                           std::to_string(options.data_plane_threads));
  }
  if (options.scheme != "tcp" && options.scheme != "inproc") {
    return InvalidArgument("transport scheme must be tcp or inproc, got '" + options.scheme + "'");
  }
  std::unique_ptr<Transport> t(new Transport(options));
  if (t->curve()) {
    if (!CurveAvailable()) {
      return Internal("CURVE requested but libzmq has no CURVE support; use --insecure");
    }
    RETURN_IF_ERROR(t->StartAuthenticator());
  }
  if (t->aead_data_plane()) {
    const int threads = options.data_plane_threads >= 0
                            ? options.data_plane_threads
                            : CryptoPool::DefaultThreads(std::thread::hardware_concurrency());
    t->crypto_pool_ = std::make_unique<CryptoPool>(threads);
  }
  return t;
}

Transport::~Transport() {
  // Unblocks the ZAP thread (its recv returns ETERM); sockets owned elsewhere
  // must already be closed, or context close would wait for them.
  context_.shutdown();
  if (zap_thread_.joinable()) zap_thread_.join();
  context_.close();
}

Status Transport::StartAuthenticator() {
  zmq::socket_t socket(context_, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Internal(ZmqError("bind ZAP handler", e));
  }
  // Bound before any service socket exists, so no handshake can skip it.
  zap_thread_ = std::thread(&Transport::ZapLoop, this, std::move(socket));
  return Status::Ok();
}

void Transport::ZapLoop(zmq::socket_t socket) {
  // ZAP/1.0 (RFC 27): version, request id, domain, address, identity,
  // mechanism, credentials... -> version, request id, status, text, user id, metadata.
  while (true) {
    std::vector<zmq::message_t> request;
    try {
      if (!zmq::recv_multipart(socket, std::back_inserter(request))) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      METAPS_LOG(ERROR) << "ZAP handler recv: " << e.what();
      continue;
    }
    std::string status = "400", text = "refused", user_id;
    if (request.size() >= 7 && request[5].to_string() == "CURVE" && request[6].size() == 32) {
      const std::string key = request[6].to_string();
      std::lock_guard<std::mutex> lock(mu_);
      auto it = authorized_.find(key);
      if (it != authorized_.end()) {
        status = "200";
        text = "OK";
        // Members are tagged with their rank; extra authorized keys with nothing.
        if (it->second >= 0) user_id = std::to_string(it->second);
        if (it->second == kMonitorRank) user_id = "monitor";
        accepted_++;
      } else {
        refused_++;
        // Keys are the peer's choice: log the first kMaxLoggedRefusedKeys only.
        if (refused_logged_.size() < kMaxLoggedRefusedKeys && refused_logged_.insert(key).second) {
          METAPS_LOG(WARNING) << "refused a CURVE client from " << request[3].to_string()
                              << ": public key " << Z85Encode(key)
                              << " is not a member of this job";
        }
      }
    } else {
      if (refused_++ < kMaxLoggedRefusedKeys) {
        METAPS_LOG(WARNING) << "refused a connection without CURVE credentials";
      }
    }
    std::vector<zmq::message_t> reply;
    reply.emplace_back(std::string("1.0"));
    reply.emplace_back(request.size() > 1 ? request[1].to_string() : std::string());
    reply.emplace_back(status);
    reply.emplace_back(text);
    reply.emplace_back(user_id);
    reply.emplace_back();
    try {
      zmq::send_multipart(socket, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      METAPS_LOG(ERROR) << "ZAP handler send: " << e.what();
    }
  }
}

void Transport::Authorize(const std::string& public_key, int rank) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = authorized_.emplace(public_key, rank);
  if (inserted || it->second == rank) return;
  if (rank == kMonitorRank) return;  // a member's key stays a member's
  if (it->second == kMonitorRank) {
    it->second = rank;  // members win over a monitor listing of the same key
    return;
  }
  // One key shared by several ranks (--keys) cannot tell them apart: no tag.
  it->second = -1;
}

ZapStats Transport::zap_stats() const { return {accepted_.load(), refused_.load()}; }

zmq::socket_t Transport::NewDealer() {
  zmq::socket_t socket(context_, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
  socket.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
  return socket;
}

zmq::socket_t Transport::NewRouter(int64_t max_frame_bytes) {
  zmq::socket_t socket(context_, zmq::socket_type::router);
  // Replies queued at close (the last shutdown release) still go out.
  socket.set(zmq::sockopt::linger, 1000);
  socket.set(zmq::sockopt::sndhwm, kReplyHighWaterMark);
  socket.set(zmq::sockopt::rcvhwm, kReceiveHighWaterMark);
  socket.set(zmq::sockopt::maxmsgsize, max_frame_bytes > 0
                                           ? std::min(max_frame_bytes, options_.max_message_bytes)
                                           : options_.max_message_bytes);
  // Replies go out with dontwait: a peer that went away (EHOSTUNREACH) or
  // stopped reading (EAGAIN at the high-water mark) costs a counted drop,
  // never a blocked loop (RpcServer::Reply).
  socket.set(zmq::sockopt::router_mandatory, true);
  return socket;
}

StatusOr<zmq::socket_t> Transport::BindService(const std::string& name, const CurveKeyPair& keys,
                                               std::string* endpoint, int64_t max_frame_bytes) {
  try {
    zmq::socket_t socket = NewRouter(max_frame_bytes);
    if (curve()) {
      socket.set(zmq::sockopt::curve_server, true);
      socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), 32));
      socket.set(zmq::sockopt::zap_domain, kZapDomain);
    }
    if (options_.scheme == "inproc") {
      socket.bind("inproc://metaps-" + name);
    } else {
      socket.bind("tcp://" + options_.host + ":*");
    }
    *endpoint = socket.get(zmq::sockopt::last_endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return Internal(
        ZmqError("bind service socket on " + options_.scheme + "://" + options_.host, e));
  }
}

StatusOr<zmq::socket_t> Transport::BindData(std::string* endpoint, int64_t max_frame_bytes) {
  try {
    // The envelope adds 16 bytes a frame, in its own frame: the limit holds.
    zmq::socket_t socket = NewRouter(max_frame_bytes);
    socket.bind("tcp://" + options_.host + ":*");
    *endpoint = socket.get(zmq::sockopt::last_endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return Internal(ZmqError("bind data socket on tcp://" + options_.host, e));
  }
}

StatusOr<zmq::socket_t> Transport::ConnectData(const std::string& endpoint) {
  try {
    zmq::socket_t socket = NewDealer();
    socket.connect(endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return Internal(ZmqError("connect to data endpoint " + endpoint, e));
  }
}

StatusOr<zmq::socket_t> Transport::ConnectPeer(const std::string& endpoint,
                                               const std::string& server_public_key,
                                               const CurveKeyPair& keys,
                                               const std::string& routing_id) {
  try {
    zmq::socket_t socket = NewDealer();
    // No fixed routing id: the ROUTER assigns a unique one per connection.
    // A peer-chosen id ("r2") could be squatted by another client first, and
    // the ROUTER refuses a second connection with an id in use.
    (void)routing_id;
    if (curve()) {
      if (server_public_key.size() != 32) {
        return InvalidArgument("peer " + endpoint + " published no CURVE public key");
      }
      socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_public_key.data(), 32));
      socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), 32));
      socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), 32));
    }
    socket.connect(endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return Internal(ZmqError("connect to " + endpoint, e));
  }
}

int AuthenticatedRank(const zmq::message_t& frame) {
  const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "User-Id");
  if (user == nullptr || *user == '\0') return -1;
  if (std::strcmp(user, "monitor") == 0) return kMonitorRank;
  return std::atoi(user);
}

}  // namespace metaps
