// A raw ZeroMQ DEALER for tests that play a peer the project's own client
// would never be (an attacker, a non-member, a hand-made session): it sends
// and receives frames as given, with an optional CURVE key pair.
#pragma once

#include <chrono>
#include <iterator>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/curve_keys.h"
#include "common/status.h"

namespace metaps::testing {

class RawDealer {
 public:
  using Parts = std::vector<zmq::message_t>;
  // `keys` null: a plain (NULL mechanism) connection; else CURVE towards
  // `server_key`.
  RawDealer(zmq::context_t& context, const std::string& endpoint, const CurveKeyPair* keys,
            const std::string& server_key)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    if (keys != nullptr) {
      socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), 32));
      socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys->public_key.data(), 32));
      socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys->secret_key.data(), 32));
    }
    socket_.connect(endpoint);
  }
  void Send(Parts parts) { zmq::send_multipart(socket_, parts); }
  // The next message's frames, or an error when none comes within `timeout`.
  StatusOr<Parts> ReceiveParts(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return DeadlineExceeded("no reply");
    Parts parts;
    if (!zmq::recv_multipart(socket_, std::back_inserter(parts))) return Unavailable("no reply");
    return parts;
  }
  // Whether a message is queued now (after a reply that came later on the
  // same connection, nothing else can still be on its way).
  bool HasQueued() {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, std::chrono::milliseconds(0)) > 0;
  }

 private:
  zmq::socket_t socket_;
};

}  // namespace metaps::testing
