// Request/reply over the Transport.
//
// RpcServer: one ROUTER and one loop thread. Every received message is decoded
// and validated (ValidateHeader) before the handler sees it; an invalid one is
// counted, logged once per peer with the reason, and dropped; so is a message
// whose handler throws (handlers must not, but a peer's payload must never
// take the process down). The handler runs
// on the loop thread and may reply at once or keep the PeerAddress and reply
// later from the loop thread (barriers do this).
// With the transport's aead data plane and Options::rank set, it also binds a
// data socket (NULL mechanism): DATA_SESSION requests over CURVE open sessions
// (RpcServer answers them itself), and PULL and PUSH sealed under a session
// arrive there; what does not open is dropped and counted like any invalid
// message, and replies go back sealed the way their request came.
//
// RpcClient: one DEALER per peer, all owned by one I/O thread. Call() is
// thread-safe and returns a future that resolves with the reply, the reply's
// error status, DeadlineExceeded, or Unavailable once the client is closed.
//
// The aead data plane (Transport::aead_data_plane): the first PULL or PUSH to
// a peer opens a session (DATA_SESSION over CURVE: random id and two keys,
// common/data_seal.h); calls wait for it, then PULL and PUSH go sealed over a
// second DEALER to the server's data socket, and their replies come back
// sealed on it. Request ids are shared by both sockets, so replies match
// their calls whichever way they travel. A server that refuses the session
// gets PULL and PUSH over CURVE (logged). AddPeer again, or a data call that
// timed out, drops the session: the next call opens a new one with new keys.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/data_seal.h"
#include "common/transport.h"
#include "common/wire.h"

namespace metaps {

// Where a request came from, enough to reply to it.
struct PeerAddress {
  std::string routing_id;
  // The header's sender (validated against authentication), or kMonitorRank
  // for a client authenticated with a monitor key (which may only PING).
  int rank = -1;
  int fd = -1;  // the TCP connection's descriptor, -1 on inproc
  // Nonzero: the id of the data-plane session the request came sealed under
  // on the data socket; the reply goes back sealed the same way.
  uint64_t data_session = 0;
};

// Counters of messages dropped by validation, by reason. Reasons are short
// classes ("protocol", "role", "clock window", ...); a peer can make up new
// ones (a message's text), so at most kMaxDropReasons are kept and the rest
// are counted under "other".
struct DropStats {
  static constexpr size_t kMaxDropReasons = 32;
  static constexpr size_t kMaxReasonChars = 96;
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_reason;
  // Drops by peer ("rank 3", "rank 3 (data session)", "peer <routing id>
  // (data socket)", ...): the first kMaxLoggedPeers peers, the rest "other".
  std::map<std::string, uint64_t> by_peer;
  void Count(const std::string& reason);
  void CountPeer(const std::string& peer);
};

// At most this many distinct peers get a log line for their first drop; drops
// from further peers are counted (and one line says logging stopped).
constexpr size_t kMaxLoggedPeers = 64;

class RpcServer {
 public:
  using RequestHandler = std::function<void(const PeerAddress& from, Message request)>;
  using TickHandler = std::function<void()>;
  // A TCP connection from a client closed (the client's fd as seen here).
  using DisconnectHandler = std::function<void(int fd)>;

  struct Options {
    std::string name;                   // used for inproc endpoints and logs
    int world_size = 0;                 // senders must be ranks below this
    std::chrono::milliseconds tick{0};  // 0: no tick handler calls
    bool watch_connections = false;     // call the DisconnectHandler
    int64_t max_frame_bytes = 0;        // > 0: below the transport's limit
    // This rank (the sender of the replies RpcServer makes itself). With the
    // transport's aead data plane on, a rank >= 0 binds the data socket and
    // serves key exchanges; with -1, DATA_SESSION goes to the handler.
    int rank = -1;
  };

  static StatusOr<std::unique_ptr<RpcServer>> Create(Transport* transport, const CurveKeyPair& keys,
                                                     const Options& options);
  ~RpcServer();

  const std::string& endpoint() const { return endpoint_; }
  // The aead data plane's socket, empty without one.
  const std::string& data_endpoint() const { return data_endpoint_; }
  // Data-plane sessions opened so far (DATA_SESSION requests accepted).
  uint64_t data_sessions_opened() const { return data_sessions_opened_.load(); }
  // At most this many sessions per rank; a new one evicts the rank's oldest.
  static constexpr size_t kMaxDataSessionsPerRank = 16;
  // Starts the loop thread. Handlers run on it and must not throw.
  void Start(RequestHandler on_request, TickHandler on_tick = {},
             DisconnectHandler on_disconnect = {});
  // Stops and joins the loop thread. Idempotent.
  void Stop();

  // REQUIRES: called on the loop thread (from a handler or a posted task).
  // A reply to a peer that left, or whose queue is at kReplyHighWaterMark (it
  // stopped reading), is dropped and counted ("reply dropped").
  void Reply(const PeerAddress& to, Message reply);
  // Counts (and logs, once per peer) a message a handler refused without a
  // reply. Thread-safe.
  void CountDrop(const PeerAddress& from, const std::string& reason);
  // Runs `task` on the loop thread. Thread-safe.
  void Post(std::function<void()> task);
  DropStats drop_stats() const;

 private:
  RpcServer(Transport* transport, Options options) : transport_(transport), options_(options) {}
  struct DataSession {
    int rank = -1;
    uint64_t opened = 0;  // order of opening, for eviction
    std::unique_ptr<DataOpener> opener;
    std::unique_ptr<DataSealer> sealer;
  };

  void Loop();
  void HandleIncoming(bool data);
  void HandleMonitorEvent(zmq::socket_t& monitor);
  void OpenDataSession(const PeerAddress& from, const Message& request);
  void Drop(const std::string& peer, const std::string& reason);

  Transport* transport_;
  Options options_;
  std::string endpoint_;
  std::string data_endpoint_;
  zmq::socket_t router_;
  zmq::socket_t data_router_;
  zmq::socket_t data_monitor_;
  // Loop thread only.
  std::map<uint64_t, DataSession> sessions_;
  uint64_t sessions_seq_ = 0;
  std::atomic<uint64_t> data_sessions_opened_{0};
  zmq::socket_t wake_pull_;
  zmq::socket_t wake_push_;  // GUARDED_BY(post_mu_)
  zmq::socket_t monitor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  RequestHandler on_request_;
  TickHandler on_tick_;
  DisconnectHandler on_disconnect_;

  std::mutex post_mu_;
  std::deque<std::function<void()>> posted_;  // GUARDED_BY(post_mu_)

  mutable std::mutex stats_mu_;
  DropStats drops_;                     // GUARDED_BY(stats_mu_)
  std::set<std::string> logged_peers_;  // GUARDED_BY(stats_mu_), <= kMaxLoggedPeers
};

class RpcClient {
 public:
  static StatusOr<std::unique_ptr<RpcClient>> Create(Transport* transport, const CurveKeyPair& keys,
                                                     int my_rank, int world_size,
                                                     const std::string& name);
  ~RpcClient();

  // Thread-safe. Connects (lazily, on the I/O thread) to `rank`'s service.
  void AddPeer(int rank, const std::string& endpoint, const std::string& public_key);
  // Thread-safe. Fills request id; the reply's own error status becomes the
  // future's status.
  std::future<StatusOr<Message>> Call(int rank, Message request, std::chrono::milliseconds timeout);
  // Fails every pending call with Unavailable and joins the I/O thread.
  void Close();
  DropStats drop_stats() const;
  // Data-plane sessions this client opened (key exchanges a server accepted).
  uint64_t data_sessions_opened() const { return data_sessions_opened_.load(); }

 private:
  struct Command {
    int rank = -1;
    std::string endpoint, public_key;  // AddPeer
    bool is_call = false;
    Message request;
    std::chrono::steady_clock::time_point deadline;
    std::promise<StatusOr<Message>> promise;
  };
  enum class Via { kControl, kData, kKeyExchange };
  struct Pending {
    int rank;
    std::chrono::steady_clock::time_point deadline;
    std::promise<StatusOr<Message>> promise;
    Via via = Via::kControl;
    uint64_t session = 0;  // kData, kKeyExchange: the session it belongs to
  };
  // The aead data plane towards one peer.
  struct DataPeer {
    enum class State { kIdle, kExchanging, kReady, kCurve };
    State state = State::kIdle;
    DataSessionKeys keys;  // while kExchanging
    zmq::socket_t socket;  // kReady
    std::unique_ptr<DataSealer> sealer;
    std::unique_ptr<DataOpener> opener;
    std::deque<Command> waiting;  // calls made while kExchanging
  };

  RpcClient(Transport* transport, const CurveKeyPair& keys, int my_rank, int world_size)
      : transport_(transport), keys_(keys), my_rank_(my_rank), world_size_(world_size) {}
  void Loop();
  void RunCommand(Command& command);
  // Sends `parts` on `socket` without blocking; fails the call when it cannot.
  bool SendParts(zmq::socket_t& socket, std::vector<zmq::message_t>& parts, Command& command);
  void StartKeyExchange(int rank, DataPeer& peer, Command& command);
  void FinishKeyExchange(int rank, const StatusOr<Message>& reply);
  // Forgets the session with `rank`; waiting calls run again (a new session).
  void ResetDataPeer(int rank);
  void HandleReply(int rank, zmq::socket_t& socket, bool data);
  void ExpireDeadlines();
  void Drop(int rank, const std::string& reason);

  Transport* transport_;
  CurveKeyPair keys_;
  int my_rank_;
  int world_size_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  zmq::socket_t wake_pull_;

  std::mutex mu_;
  zmq::socket_t wake_push_;       // GUARDED_BY(mu_)
  std::deque<Command> commands_;  // GUARDED_BY(mu_)
  bool closed_ = false;           // GUARDED_BY(mu_)

  // I/O thread only.
  std::map<int, zmq::socket_t> peers_;
  std::map<int, DataPeer> data_peers_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_request_id_ = 1;

  std::atomic<uint64_t> data_sessions_opened_{0};

  mutable std::mutex stats_mu_;
  DropStats drops_;  // GUARDED_BY(stats_mu_)
};

}  // namespace metaps
