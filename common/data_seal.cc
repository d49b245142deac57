#include "common/data_seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <functional>

#include "common/wire.h"

namespace metaps {
namespace {

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

StatusOr<EVP_CIPHER_CTX*> NewContext(const DataKey& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return Internal("EVP_CIPHER_CTX_new failed");
  const int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr)
                         : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr);
  if (ok != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return Internal("AES-256-GCM key setup failed");
  }
  return ctx;
}

// Nonce (96 bits) of frame `index` of message `counter`.
void MakeNonce(uint32_t index, uint64_t counter, uint8_t nonce[12]) {
  PutU32(nonce, index);
  PutU64(nonce + 4, counter);
}

// Additional data of frame `index`: the envelope's fixed part and the index.
void MakeAad(const uint8_t* fixed, uint32_t index, uint8_t aad[kEnvelopeFixedBytes + 4]) {
  std::memcpy(aad, fixed, kEnvelopeFixedBytes);
  PutU32(aad + kEnvelopeFixedBytes, index);
}

}  // namespace

StatusOr<DataSessionKeys> DataSessionKeys::Generate() {
  DataSessionKeys k;
  uint8_t id[8];
  do {
    if (RAND_bytes(id, sizeof(id)) != 1) return Internal("RAND_bytes failed");
    k.id = GetU64(id);
  } while (k.id == 0);
  if (RAND_bytes(k.to_server.data(), kDataKeyBytes) != 1 ||
      RAND_bytes(k.to_client.data(), kDataKeyBytes) != 1) {
    return Internal("RAND_bytes failed");
  }
  return k;
}

std::string DataSessionKeys::Serialize() const {
  std::string out(kFrameBytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  PutU64(p, id);
  std::memcpy(p + 8, to_server.data(), kDataKeyBytes);
  std::memcpy(p + 8 + kDataKeyBytes, to_client.data(), kDataKeyBytes);
  return out;
}

StatusOr<DataSessionKeys> DataSessionKeys::Parse(const void* data, size_t size) {
  if (size != kFrameBytes) {
    return ProtocolError("data session: key frame has " + std::to_string(size) +
                         " bytes, expected " + std::to_string(kFrameBytes));
  }
  const auto* p = static_cast<const uint8_t*>(data);
  DataSessionKeys k;
  k.id = GetU64(p);
  if (k.id == 0) return ProtocolError("data session: session id 0 is reserved");
  std::memcpy(k.to_server.data(), p + 8, kDataKeyBytes);
  std::memcpy(k.to_client.data(), p + 8 + kDataKeyBytes, kDataKeyBytes);
  return k;
}

void DataSessionKeys::Wipe() {
  OPENSSL_cleanse(to_server.data(), kDataKeyBytes);
  OPENSSL_cleanse(to_client.data(), kDataKeyBytes);
}

uint64_t EnvelopeSessionId(const zmq::message_t& envelope) {
  if (envelope.size() < kEnvelopeFixedBytes) return 0;
  return GetU64(static_cast<const uint8_t*>(envelope.data()) + 8);
}

namespace {

// Seals (encrypts) or opens one frame in place or from `src` to `dst`, with
// the frame's own nonce and additional data. Returns false on an OpenSSL
// failure, or (opening) when the tag does not match.
bool CryptFrame(EVP_CIPHER_CTX* ctx, bool encrypt, const uint8_t* env, uint64_t counter,
                uint32_t index, const uint8_t* src, uint8_t* dst, size_t size, uint8_t* tag) {
  uint8_t nonce[12], aad[kEnvelopeFixedBytes + 4];
  MakeNonce(index, counter, nonce);
  MakeAad(env, index, aad);
  int len = 0;
  if (encrypt) {
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, nullptr, &len, aad, sizeof(aad)) != 1) {
      return false;
    }
  } else if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
             EVP_DecryptUpdate(ctx, nullptr, &len, aad, sizeof(aad)) != 1) {
    return false;
  }
  // EVP lengths are int: feed large frames in pieces.
  for (size_t off = 0; off < size;) {
    const int piece = static_cast<int>(std::min<size_t>(size - off, size_t{1} << 30));
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, dst + off, &len, src + off, piece)
                           : EVP_DecryptUpdate(ctx, dst + off, &len, src + off, piece);
    if (ok != 1) return false;
    off += static_cast<size_t>(piece);
  }
  if (encrypt) {
    return EVP_EncryptFinal_ex(ctx, dst + size, &len) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kDataTagBytes, tag) == 1;
  }
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kDataTagBytes, tag) == 1 &&
         EVP_DecryptFinal_ex(ctx, dst + size, &len) == 1;
}

}  // namespace

namespace data_seal_internal {

// Runs crypt(ctx, i) for every frame i, on the pool when the message is large
// enough to be worth it, each part with its own copy of the key's context.
bool CryptAll(CryptoPool* pool, EVP_CIPHER_CTX* ctx, std::vector<EVP_CIPHER_CTX*>* copies, size_t n,
              size_t total_bytes, const std::function<bool(EVP_CIPHER_CTX*, size_t)>& crypt) {
  if (pool == nullptr || pool->threads() == 0 || n < 2 || total_bytes < kParallelSealBytes) {
    for (size_t i = 0; i < n; ++i) {
      if (!crypt(ctx, i)) return false;
    }
    return true;
  }
  while (copies->size() < n) {
    EVP_CIPHER_CTX* copy = EVP_CIPHER_CTX_new();
    if (copy == nullptr || EVP_CIPHER_CTX_copy(copy, ctx) != 1) {
      EVP_CIPHER_CTX_free(copy);
      return false;
    }
    copies->push_back(copy);
  }
  std::vector<char> ok(n, 0);
  pool->ParallelFor(n, [&](size_t i) { ok[i] = crypt((*copies)[i], i) ? 1 : 0; });
  for (char v : ok) {
    if (v == 0) return false;
  }
  return true;
}

}  // namespace data_seal_internal

namespace {
void FreeAll(std::vector<EVP_CIPHER_CTX*>* copies) {
  for (auto* c : *copies) EVP_CIPHER_CTX_free(c);
  copies->clear();
}
}  // namespace

StatusOr<std::unique_ptr<DataSealer>> DataSealer::Create(uint64_t session_id, const DataKey& key,
                                                         CryptoPool* pool) {
  ASSIGN_OR_RETURN(EVP_CIPHER_CTX * ctx, NewContext(key, /*encrypt=*/true));
  return std::unique_ptr<DataSealer>(new DataSealer(session_id, ctx, pool));
}

DataSealer::~DataSealer() {
  FreeAll(&copies_);
  EVP_CIPHER_CTX_free(ctx_);
}

Status DataSealer::Seal(std::vector<zmq::message_t>* parts, uint64_t writable_frames) {
  const size_t n = parts->size();
  if (n == 0 || n > static_cast<size_t>(kMaxFrames) + 1) {
    return InvalidArgument("cannot seal a message of " + std::to_string(n) + " frames");
  }
  const uint64_t counter = ++counter_;
  zmq::message_t envelope(kEnvelopeFixedBytes + n * kDataTagBytes);
  auto* env = static_cast<uint8_t*>(envelope.data());
  std::memset(env, 0, kEnvelopeFixedBytes);
  env[0] = kEnvelopeVersion;
  PutU32(env + 4, static_cast<uint32_t>(n));
  PutU64(env + 8, session_id_);
  PutU64(env + 16, counter);
  std::vector<zmq::message_t> sealed;
  sealed.reserve(n + 1);
  sealed.push_back(std::move(envelope));
  std::vector<const uint8_t*> sources(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    zmq::message_t& plain = (*parts)[i];
    const size_t size = plain.size();
    total += size;
    // The header (encoded here) and writable frames in place; others into a
    // fresh, aligned buffer, as the part may borrow a caller's buffer.
    const bool in_place = i == 0 || (i <= 64 && ((writable_frames >> (i - 1)) & 1) != 0);
    if (in_place) {
      sealed.push_back(std::move(plain));
      sources[i] = static_cast<const uint8_t*>(sealed.back().data());
    } else {
      sources[i] = static_cast<const uint8_t*>(plain.data());
      sealed.push_back(size > 4096 ? AlignedFrame(size) : zmq::message_t(size));
    }
  }
  env = static_cast<uint8_t*>(sealed[0].data());
  const bool ok = data_seal_internal::CryptAll(
      pool_, ctx_, &copies_, n, total, [&](EVP_CIPHER_CTX* ctx, size_t i) {
        zmq::message_t& out = sealed[i + 1];
        return CryptFrame(ctx, /*encrypt=*/true, env, counter, static_cast<uint32_t>(i), sources[i],
                          static_cast<uint8_t*>(out.data()), out.size(),
                          env + kEnvelopeFixedBytes + i * kDataTagBytes);
      });
  if (!ok) return Internal("AES-256-GCM seal failed");
  parts->swap(sealed);
  return Status::Ok();
}

StatusOr<std::unique_ptr<DataOpener>> DataOpener::Create(uint64_t session_id, const DataKey& key,
                                                         CryptoPool* pool) {
  ASSIGN_OR_RETURN(EVP_CIPHER_CTX * ctx, NewContext(key, /*encrypt=*/false));
  return std::unique_ptr<DataOpener>(new DataOpener(session_id, ctx, pool));
}

DataOpener::~DataOpener() {
  FreeAll(&copies_);
  EVP_CIPHER_CTX_free(ctx_);
}

Status DataOpener::Open(std::vector<zmq::message_t>* parts) {
  if (parts->empty() || (*parts)[0].size() < kEnvelopeFixedBytes) {
    return ProtocolError("data truncated: no envelope frame (" +
                         std::to_string(parts->empty() ? 0 : (*parts)[0].size()) + " bytes)");
  }
  const auto* env = static_cast<const uint8_t*>((*parts)[0].data());
  const size_t env_size = (*parts)[0].size();
  if (env[0] != kEnvelopeVersion) {
    return ProtocolError("data envelope: version " + std::to_string(env[0]) + ", expected " +
                         std::to_string(kEnvelopeVersion));
  }
  const uint32_t n = GetU32(env + 4);
  const uint64_t session = GetU64(env + 8);
  const uint64_t counter = GetU64(env + 16);
  if (session != session_id_) {
    return ProtocolError("data session: envelope names session " + std::to_string(session) +
                         ", this is session " + std::to_string(session_id_));
  }
  if (n == 0 || n > static_cast<uint32_t>(kMaxFrames) + 1 ||
      env_size != kEnvelopeFixedBytes + size_t{n} * kDataTagBytes) {
    return ProtocolError("data truncated: envelope of " + std::to_string(env_size) + " bytes for " +
                         std::to_string(n) + " frames");
  }
  if (parts->size() - 1 != n) {
    return ProtocolError("data truncated: envelope declares " + std::to_string(n) +
                         " frames, message has " + std::to_string(parts->size() - 1));
  }
  if (counter <= last_counter_) {
    return ProtocolError("data replay: counter " + std::to_string(counter) +
                         " is not above the last accepted " + std::to_string(last_counter_) +
                         " (replayed or reordered)");
  }
  // The header first, alone: a forged message fails there, after a few
  // hundred bytes, whatever it carries behind.
  uint8_t tag[kDataTagBytes];
  std::memcpy(tag, env + kEnvelopeFixedBytes, kDataTagBytes);
  auto* header = static_cast<uint8_t*>((*parts)[1].data());
  if (!CryptFrame(ctx_, /*encrypt=*/false, env, counter, 0, header, header, (*parts)[1].size(),
                  tag)) {
    return ProtocolError("data auth: frame 0 of message " + std::to_string(counter) +
                         " failed authentication (tampered, truncated, or sealed under "
                         "another key)");
  }
  size_t total = 0;
  for (uint32_t i = 1; i < n; ++i) total += (*parts)[i + 1].size();
  std::vector<char> failed(n, 0);
  data_seal_internal::CryptAll(
      pool_, ctx_, &copies_, n - 1, total, [&](EVP_CIPHER_CTX* ctx, size_t k) {
        const uint32_t i = static_cast<uint32_t>(k + 1);
        zmq::message_t& frame = (*parts)[i + 1];
        auto* data = static_cast<uint8_t*>(frame.data());
        uint8_t frame_tag[kDataTagBytes];
        std::memcpy(frame_tag, env + kEnvelopeFixedBytes + size_t{i} * kDataTagBytes,
                    kDataTagBytes);
        const bool ok = CryptFrame(ctx, /*encrypt=*/false, env, counter, i, data, data,
                                   frame.size(), frame_tag);
        failed[i] = ok ? 0 : 1;
        return ok;
      });
  for (uint32_t i = 1; i < n; ++i) {
    if (failed[i] != 0) {
      return ProtocolError("data auth: frame " + std::to_string(i) + " of message " +
                           std::to_string(counter) +
                           " failed authentication (tampered, truncated, or sealed under "
                           "another key)");
    }
  }
  last_counter_ = counter;
  parts->erase(parts->begin());
  return Status::Ok();
}

std::string DataCipherDescription() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul")) {
    return "AES-256-GCM (OpenSSL, AES-NI and PCLMULQDQ)";
  }
  return "AES-256-GCM (OpenSSL, constant-time software AES: this CPU has no AES-NI, expect it "
         "slower than CURVE)";
#else
  return "AES-256-GCM (OpenSSL)";
#endif
}

}  // namespace metaps
