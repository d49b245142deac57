#include "common/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

namespace metaps {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open key file");
  std::string line;
  std::getline(in, line);
  auto raw = Z85Decode(Trim(line));
  if (!raw.ok()) return raw.status().Annotate(path + ":1");
  return raw;
}

Status WriteFileMode(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return ErrnoStatus("write " + path, err);
  return Status::Ok();
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") == 1; }

StatusOr<CurveKeyPair> GenerateCurveKeyPair() {
  if (!CurveAvailable()) return Internal("libzmq was built without CURVE support");
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  CurveKeyPair keys;
  keys.public_key = Z85Decode(pub).value();
  keys.secret_key = Z85Decode(sec).value();
  return keys;
}

std::string Z85Encode(const std::string& raw32) {
  char text[41];
  zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(raw32.data()), raw32.size());
  return std::string(text, 40);
}

StatusOr<std::string> Z85Decode(const std::string& text) {
  if (text.size() != 40) {
    return InvalidArgument("a CURVE key is 40 Z85 characters, got " + std::to_string(text.size()));
  }
  std::string raw(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(&raw[0]), text.c_str()) == nullptr) {
    return InvalidArgument("not a Z85-encoded key");
  }
  return raw;
}

Status WriteKeyPair(const std::string& dir, const CurveKeyPair& keys) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + dir, errno);
  RETURN_IF_ERROR(WriteFileMode(dir + "/metaps.key", Z85Encode(keys.secret_key) + "\n", 0600));
  return WriteFileMode(dir + "/metaps.pub", Z85Encode(keys.public_key) + "\n", 0644);
}

StatusOr<CurveKeyPair> ReadKeyPair(const std::string& dir) {
  CurveKeyPair keys;
  ASSIGN_OR_RETURN(keys.public_key, ReadKeyFile(dir + "/metaps.pub"));
  ASSIGN_OR_RETURN(keys.secret_key, ReadKeyFile(dir + "/metaps.key"));
  char derived[41];
  std::string sec_z85 = Z85Encode(keys.secret_key);
  if (zmq_curve_public(derived, sec_z85.c_str()) != 0 ||
      Z85Decode(derived).value() != keys.public_key) {
    return InvalidArgument(dir + "/metaps.pub does not match " + dir + "/metaps.key");
  }
  return keys;
}

StatusOr<std::vector<AuthorizedKey>> ReadAuthorizedKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open authorized keys file");
  std::vector<AuthorizedKey> keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = path + ":" + std::to_string(n);
    if (line.size() > 256) return InvalidArgument(where + ": line longer than 256 characters");
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    AuthorizedKey key;
    key.role = "monitor";
    std::string z85 = line;
    const size_t space = line.find_first_of(" \t");
    if (space != std::string::npos) {
      key.role = line.substr(0, space);
      z85 = Trim(line.substr(space + 1));
      if (key.role != "monitor") {
        return InvalidArgument(where + ": unknown role '" + key.role +
                               "' (the only role is 'monitor'; member ranks use the keys "
                               "published at bootstrap)");
      }
    }
    auto raw = Z85Decode(z85);
    if (!raw.ok()) return raw.status().Annotate(where);
    key.public_key = std::move(raw).value();
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace metaps
