// Sealing of data-plane messages (PULL and PUSH, requests and replies) with
// AES-256-GCM, for the "aead" data plane (common/transport.h).
//
// Keys: a session is a random 64-bit id and two random 256-bit keys, one per
// direction (client to server, server to client). The client draws them from
// the OpenSSL CSPRNG and sends them to the server in a DATA_SESSION request
// over its CURVE connection, so only the authenticated member that opened the
// session and the server know them. Every reconnect (AddPeer, or a data call
// that timed out) opens a new session.
//
// A sealed message is an envelope frame followed by the message's frames
// (header first), each encrypted in place of its plaintext (same size):
//
//   envelope: u8 version (1) | u8 0 | u16 0 | u32 frames n | u64 session id |
//             u64 counter | n x 16-byte GCM tags            (all little-endian)
//   frame i:  AES-256-GCM(key of the direction,
//                         nonce = u32 i | u64 counter,
//                         additional data = envelope bytes [0, 24) | u32 i)
//
// The counter is per session and direction, starts at 1, and must be strictly
// greater than the last one the receiver accepted: a replayed or reordered
// message is rejected. (Gaps are allowed: a server may drop a reply to a
// client that stopped reading, and the client must not reject every later one.)
// The frame count and index are authenticated, so a truncated message (a frame
// missing, cut short, or moved) fails; the session id and counter form the
// nonce and additional data, so a frame copied from another message or sealed
// under another session's key fails its tag.
//
// Primitive: AES-256-GCM from OpenSSL's libcrypto (Debian libssl-dev), which
// uses AES-NI/VAES with carry-less multiply when the CPU has them and a
// constant-time software AES otherwise. Nothing here is a home-made cipher.
//
// Threads: a large message's frames (4 MiB value chunks) are independent, so
// with a CryptoPool they are sealed and opened on several cores at once.
//
// Thread safety: a DataSealer or DataOpener belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/crypto_pool.h"
#include "common/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace metaps {

constexpr size_t kDataKeyBytes = 32;
constexpr size_t kDataTagBytes = 16;
constexpr size_t kEnvelopeFixedBytes = 24;
constexpr uint8_t kEnvelopeVersion = 1;
// Messages of at least this many bytes (and two frames) have their frames
// sealed and opened in parallel on a CryptoPool, when there is one.
constexpr size_t kParallelSealBytes = size_t{1} << 20;

using DataKey = std::array<uint8_t, kDataKeyBytes>;

// What a client sends in a DATA_SESSION request (one frame of
// kSessionFrameBytes): id | client-to-server key | server-to-client key.
struct DataSessionKeys {
  uint64_t id = 0;
  DataKey to_server{};
  DataKey to_client{};
  static constexpr size_t kFrameBytes = 8 + 2 * kDataKeyBytes;
  // Fresh random keys and id (never 0) from the OpenSSL CSPRNG.
  static StatusOr<DataSessionKeys> Generate();
  std::string Serialize() const;
  static StatusOr<DataSessionKeys> Parse(const void* data, size_t size);
  // Overwrites the keys (OPENSSL_cleanse).
  void Wipe();
};

// The session id an envelope names, or 0 when the frame is no envelope.
uint64_t EnvelopeSessionId(const zmq::message_t& envelope);

// One direction of one session, sending side.
class DataSealer {
 public:
  // `pool` (may be null): where a large message's frames are sealed in parallel.
  static StatusOr<std::unique_ptr<DataSealer>> Create(uint64_t session_id, const DataKey& key,
                                                      CryptoPool* pool = nullptr);
  ~DataSealer();
  // Encrypts `parts` (an encoded message: header, frames) and prepends the
  // envelope. The header and the frames whose bit is set in
  // `writable_frames` (bit i: parts[i + 1], Message::writable_frames) are
  // encrypted in place; the others into fresh buffers, since a frame may
  // borrow a caller's buffer.
  Status Seal(std::vector<zmq::message_t>* parts, uint64_t writable_frames = 0);
  uint64_t session_id() const { return session_id_; }
  uint64_t last_counter() const { return counter_; }

 private:
  DataSealer(uint64_t session_id, EVP_CIPHER_CTX* ctx, CryptoPool* pool)
      : session_id_(session_id), ctx_(ctx), pool_(pool) {}
  uint64_t session_id_;
  EVP_CIPHER_CTX* ctx_;
  CryptoPool* pool_;
  std::vector<EVP_CIPHER_CTX*> copies_;  // one per frame sealed in parallel
  uint64_t counter_ = 0;
};

// One direction of one session, receiving side.
class DataOpener {
 public:
  static StatusOr<std::unique_ptr<DataOpener>> Create(uint64_t session_id, const DataKey& key,
                                                      CryptoPool* pool = nullptr);
  ~DataOpener();
  // `parts` = envelope, sealed frames. On success decrypts the frames in place
  // and removes the envelope, leaving the encoded message. On failure returns
  // kProtocolError whose message starts with the class of the failure
  // ("data truncated", "data replay", "data auth", "data session") and the
  // counter is not advanced.
  Status Open(std::vector<zmq::message_t>* parts);
  uint64_t session_id() const { return session_id_; }
  uint64_t last_counter() const { return last_counter_; }

 private:
  DataOpener(uint64_t session_id, EVP_CIPHER_CTX* ctx, CryptoPool* pool)
      : session_id_(session_id), ctx_(ctx), pool_(pool) {}
  uint64_t session_id_;
  EVP_CIPHER_CTX* ctx_;
  CryptoPool* pool_;
  std::vector<EVP_CIPHER_CTX*> copies_;  // one per frame opened in parallel
  uint64_t last_counter_ = 0;
};

// The AES implementation OpenSSL uses here, for a log line ("AES-NI" or "software").
std::string DataCipherDescription();

}  // namespace metaps
