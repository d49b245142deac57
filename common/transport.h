// Transport: the ZeroMQ context of a process, its CURVE authenticator, and the
// factory for the two kinds of sockets metaps uses:
//   - a service socket (ROUTER) each rank binds and serves requests on;
//   - peer sockets (DEALER), one per peer a rank sends requests to.
//
// Security: with CURVE on, every service socket is a CURVE server and every
// peer socket a CURVE client. A ZAP handler thread accepts a client only when
// its public key is in the authorized list (the job's members, published
// during bootstrap) and tags the connection with the member's rank, so a
// receiver can check that a message's `sender` field is the authenticated rank.
//
// Thread safety: the Transport is shared by all sockets of a process (or of a
// single-process cluster); Authorize and stats are thread-safe. Sockets it
// returns belong to the caller's thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/crypto_pool.h"
#include "common/curve_keys.h"
#include "common/status.h"

namespace metaps {

struct TransportOptions {
  bool curve = true;
  // "tcp" across processes; "inproc" for a single-process cluster (no
  // handshake happens on inproc, so CURVE does not apply there).
  std::string scheme = "tcp";
  std::string host = "127.0.0.1";  // interface to bind service sockets on
  int io_threads = 1;
  // With CURVE on: "aead" carries PULL and PUSH on a second, NULL-mechanism
  // socket pair, each message sealed with AES-256-GCM under per-session,
  // per-direction keys exchanged over CURVE (common/data_seal.h); "curve"
  // carries them over CURVE like every other message. Ignored without CURVE.
  std::string data_plane = "aead";
  // Helper threads that seal and open large aead messages' frames in
  // parallel (CryptoPool); -1: CryptoPool::DefaultThreads of this machine.
  int data_plane_threads = -1;
  // Largest frame (message part) a socket accepts (ZMQ_MAXMSGSIZE); a peer
  // sending a larger one is disconnected by ZeroMQ before the frame is
  // allocated. Every legitimate frame is far smaller: values travel in chunks
  // of common/ps_messages.h's RowsPerChunk, a keys frame is 8 bytes a key.
  int64_t max_message_bytes = kDefaultMaxMessageBytes;
  static constexpr int64_t kDefaultMaxMessageBytes = int64_t{256} << 20;
};

// Per-pipe high-water marks, in messages. Inbound (RCVHWM): a full pipe stops
// reading from that peer's connection (TCP back-pressure), nothing is dropped.
// Outbound on a service socket (SNDHWM): a ROUTER drops what it cannot queue,
// so replies are sent with ZMQ_ROUTER_MANDATORY and a reply over the mark is
// counted as a drop ("reply dropped") instead of vanishing; a member has at
// most a few requests in flight per peer, far below the mark. A peer socket's
// SNDHWM stays unlimited: the caller's own requests are never dropped.
constexpr int kReceiveHighWaterMark = 10000;
constexpr int kReplyHighWaterMark = 10000;

// The rank AuthenticatedRank reports for a connection authenticated with an
// extra key of role "monitor" (--authorized-keys): it may only PING.
constexpr int kMonitorRank = -2;

struct ZapStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;
};

class Transport {
 public:
  static StatusOr<std::unique_ptr<Transport>> Create(const TransportOptions& options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  const TransportOptions& options() const { return options_; }
  bool curve() const { return options_.curve && options_.scheme != "inproc"; }
  // PULL and PUSH travel sealed on the data sockets (BindData, ConnectData).
  bool aead_data_plane() const { return curve() && options_.data_plane == "aead"; }
  // Where aead sessions seal and open large messages in parallel; null
  // without the aead data plane.
  CryptoPool* crypto_pool() { return crypto_pool_.get(); }
  zmq::context_t& context() { return context_; }

  // Allows clients presenting `public_key` (32 raw bytes); they are tagged
  // `rank` (a member), not tagged when rank == -1 (a member key shared by
  // several ranks), or tagged "monitor" when rank == kMonitorRank (an
  // operator's client, which RpcServer lets only PING). A member's key never
  // becomes a monitor's, and a monitor key never a member's.
  void Authorize(const std::string& public_key, int rank);
  ZapStats zap_stats() const;

  // Binds a ROUTER on an ephemeral port (tcp) or inproc://metaps-<name>, and
  // returns it with the endpoint peers should connect to.
  // `max_frame_bytes` > 0 lowers the socket's frame limit below the
  // transport's (a server's, derived from its tables' dims).
  StatusOr<zmq::socket_t> BindService(const std::string& name, const CurveKeyPair& keys,
                                      std::string* endpoint, int64_t max_frame_bytes = 0);
  // A DEALER connected to `endpoint`. With CURVE, `server_public_key` must be
  // the service's key, and `keys` are this rank's own pair. `routing_id` is
  // only a label: the socket sets none, so the ROUTER assigns a unique one
  // (a fixed one could be taken first by another client and lock the rank out).
  // The data-plane ROUTER of the aead data plane: no CURVE and no ZAP (any
  // process can connect); every message is an envelope and sealed frames,
  // and RpcServer drops what fails to open.
  StatusOr<zmq::socket_t> BindData(std::string* endpoint, int64_t max_frame_bytes = 0);
  // A NULL-mechanism DEALER connected to a data endpoint.
  StatusOr<zmq::socket_t> ConnectData(const std::string& endpoint);
  StatusOr<zmq::socket_t> ConnectPeer(const std::string& endpoint,
                                      const std::string& server_public_key,
                                      const CurveKeyPair& keys, const std::string& routing_id);

 private:
  // A ROUTER with the limits every service socket has: linger, high-water
  // marks, the frame limit (min of `max_frame_bytes` > 0 and the transport's),
  // ROUTER_MANDATORY replies.
  zmq::socket_t NewRouter(int64_t max_frame_bytes);
  // A DEALER with the options every client socket shares (no linger, no send
  // limit, the receive high-water mark and frame limit).
  zmq::socket_t NewDealer();
  explicit Transport(const TransportOptions& options);
  Status StartAuthenticator();
  void ZapLoop(zmq::socket_t socket);

  TransportOptions options_;
  zmq::context_t context_;
  std::unique_ptr<CryptoPool> crypto_pool_;
  std::thread zap_thread_;
  mutable std::mutex mu_;
  std::map<std::string, int> authorized_;  // raw public key -> rank   GUARDED_BY(mu_)
  std::set<std::string> refused_logged_;   // keys whose refusal was logged (<= 64)  GUARDED_BY(mu_)
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
};

// The rank the authenticator attached to a received frame's connection, -1
// when none (insecure, inproc, or a shared member key), or kMonitorRank.
int AuthenticatedRank(const zmq::message_t& frame);

}  // namespace metaps
