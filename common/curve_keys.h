// CURVE key pairs (Curve25519, ZeroMQ's CurveZMQ). Keys are held as 32 raw
// bytes in memory and as 40-character Z85 text in files.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

struct CurveKeyPair {
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 32 raw bytes; never leaves the process that uses it
};

// True when the linked libzmq was built with CURVE (libsodium).
bool CurveAvailable();

StatusOr<CurveKeyPair> GenerateCurveKeyPair();

std::string Z85Encode(const std::string& raw32);
// Decodes 40 Z85 characters into 32 raw bytes.
StatusOr<std::string> Z85Decode(const std::string& text);

// `metaps keygen --out DIR`: writes DIR/metaps.pub (Z85) and DIR/metaps.key
// (Z85 secret, mode 0600). Refuses to overwrite an existing key.
Status WriteKeyPair(const std::string& dir, const CurveKeyPair& keys);
// Reads the pair written by WriteKeyPair; errors name the file.
StatusOr<CurveKeyPair> ReadKeyPair(const std::string& dir);
// An operator's client key from --authorized-keys and what it may do.
struct AuthorizedKey {
  std::string role;        // "monitor": may only PING; never a member rank
  std::string public_key;  // 32 raw bytes
};
// Reads a file of client keys, one per line: "ROLE Z85KEY", or a bare Z85 key
// (role monitor). '#' comments and blank lines are allowed. The only role is
// "monitor"; any other is an error. Errors name file:line.
StatusOr<std::vector<AuthorizedKey>> ReadAuthorizedKeys(const std::string& path);

}  // namespace metaps
