// Little-endian byte encoding of metric accumulator states (internal to
// worker/metrics*.cc). Independent of host byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {
namespace metrics_codec {

class Writer {
 public:
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    U64(bits);
  }
  void F32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    U32(bits);
  }
  void Bytes(const std::vector<uint8_t>& b) { out_.insert(out_.end(), b.begin(), b.end()); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// Reads fields in order; once a read runs past the end, every later read
// returns 0 and status() reports where the state was truncated.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const char* what)
      : data_(data), size_(size), what_(what) {}

  uint64_t U64() { return Take(8); }
  uint32_t U32() { return static_cast<uint32_t>(Take(4)); }
  double F64() {
    uint64_t bits = U64();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }
  // n raw bytes (empty when truncated).
  std::string Bytes(size_t n) {
    if (truncated_ || size_ - pos_ < n) {
      truncated_ = true;
      return {};
    }
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  float F32() {
    uint32_t bits = U32();
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }
  size_t remaining() const { return truncated_ ? 0 : size_ - pos_; }
  // Ok iff nothing was truncated and, when `expect_end`, every byte was consumed.
  Status Finish(bool expect_end = true) const {
    if (truncated_) {
      return DataLoss(std::string(what_) + " state truncated: " + std::to_string(size_) + " bytes");
    }
    if (expect_end && pos_ != size_) {
      return DataLoss(std::string(what_) + " state has " + std::to_string(size_ - pos_) +
                      " trailing bytes");
    }
    return Status::Ok();
  }
  Status Corrupt(const std::string& why) const {
    return DataLoss(std::string(what_) + " state corrupt: " + why);
  }

 private:
  uint64_t Take(int n) {
    if (truncated_ || size_ - pos_ < static_cast<size_t>(n)) {
      truncated_ = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool truncated_ = false;
  const char* what_;
};

// Every state starts with a 4-byte tag and a version.
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kBinaryTag = 0x4252544d;       // "MTRB"
inline constexpr uint32_t kRegressionTag = 0x5252544d;   // "MTRR"
inline constexpr uint32_t kRankingTag = 0x4b52544d;      // "MTRK"
inline constexpr uint32_t kUserRankingTag = 0x5552544d;  // "MTRU"
inline constexpr uint32_t kGaucTag = 0x4752544d;         // "MTRG"
inline constexpr uint32_t kScenarioTag = 0x5352544d;     // "MTRS"

// The tag of a serialized state (0 when shorter than a tag).
inline uint32_t PeekTag(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  return static_cast<uint32_t>(data[0]) | static_cast<uint32_t>(data[1]) << 8 |
         static_cast<uint32_t>(data[2]) << 16 | static_cast<uint32_t>(data[3]) << 24;
}

inline Status CheckHeader(Reader* r, uint32_t tag) {
  uint32_t got_tag = r->U32();
  uint32_t version = r->U32();
  RETURN_IF_ERROR(r->Finish(/*expect_end=*/false));
  if (got_tag != tag) return r->Corrupt("wrong tag (not this kind of accumulator)");
  if (version != kVersion) {
    return r->Corrupt("version " + std::to_string(version) + ", expected " +
                      std::to_string(kVersion));
  }
  return Status::Ok();
}

}  // namespace metrics_codec
}  // namespace metaps
