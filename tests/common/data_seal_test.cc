// Sealing and opening of aead data-plane messages (common/data_seal.h): a
// round trip restores the message; a tampered, replayed, reordered or
// truncated message, or one sealed under another session's key, is rejected
// with the class of the failure, and a rejection does not advance the counter.
#include "common/data_seal.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/wire.h"

namespace metaps {
namespace {

using Parts = std::vector<zmq::message_t>;

// An encoded PULL-like message: header, keys frame (borrowed), values frame.
Parts Plain(uint64_t first_key, size_t values) {
  Message m = MakeMessage(wire::PULL, 2);
  m.header.set_request_id(first_key);
  auto keys = std::make_shared<std::vector<char>>(8 * 4);
  for (uint64_t i = 0; i < 4; ++i) {
    const uint64_t key = first_key + i;
    std::memcpy(keys->data() + 8 * i, &key, 8);
  }
  m.AddShared(keys);
  std::vector<float> v(values);
  for (size_t i = 0; i < values; ++i) v[i] = 0.25f * static_cast<float>(i);
  m.AddCopy(v.data(), v.size() * sizeof(float));
  return EncodeMessage(std::move(m));
}

// A deep copy (zmq::message_t::copy shares large buffers).
Parts Copy(const Parts& parts) {
  Parts out;
  for (const auto& p : parts) out.emplace_back(p.data(), p.size());
  return out;
}

std::vector<std::string> Bytes(const Parts& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.push_back(p.to_string());
  return out;
}

std::string FailureClass(const Status& s) { return s.message().substr(0, s.message().find(':')); }

class DataSealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = DataSessionKeys::Generate().value();
    sealer_ = DataSealer::Create(keys_.id, keys_.to_server).value();
    opener_ = DataOpener::Create(keys_.id, keys_.to_server).value();
  }
  Parts Sealed(uint64_t first_key, size_t values = 3000) {
    Parts p = Plain(first_key, values);
    EXPECT_TRUE(sealer_->Seal(&p).ok());
    return p;
  }
  DataSessionKeys keys_;
  std::unique_ptr<DataSealer> sealer_;
  std::unique_ptr<DataOpener> opener_;
};

TEST_F(DataSealTest, RoundTripRestoresTheMessageAndHidesThePlaintext) {
  const Parts plain = Plain(1000, 3000);
  Parts sealed = Copy(plain);
  ASSERT_TRUE(sealer_->Seal(&sealed).ok());
  ASSERT_EQ(sealed.size(), plain.size() + 1);
  EXPECT_EQ(sealed[0].size(), kEnvelopeFixedBytes + plain.size() * kDataTagBytes);
  EXPECT_EQ(EnvelopeSessionId(sealed[0]), keys_.id);
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(sealed[i + 1].size(), plain[i].size()) << "frame " << i;  // in place of
    EXPECT_NE(sealed[i + 1].to_string(), plain[i].to_string()) << "frame " << i;
  }
  // No 16-byte run of the values frame appears in its ciphertext.
  const std::string values = plain[2].to_string(), cipher = sealed[3].to_string();
  EXPECT_EQ(cipher.find(values.substr(400, 16)), std::string::npos);

  ASSERT_TRUE(opener_->Open(&sealed).ok());
  EXPECT_EQ(Bytes(sealed), Bytes(plain));
  auto decoded = DecodeMessage(std::move(sealed));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->header.request_id(), 1000u);
  EXPECT_EQ(opener_->last_counter(), 1u);
}

// Borrowed frames (a caller's buffer, ZeroMQ may still send it elsewhere) are
// encrypted into a new buffer; writable ones in place, without a copy.
TEST_F(DataSealTest, WritableFramesAreSealedInPlaceAndBorrowedOnesAreLeftAlone) {
  auto borrowed = std::make_shared<std::vector<char>>(8192, 'k');
  Message m = MakeMessage(wire::PUSH, 2);
  m.AddShared(borrowed);
  zmq::message_t values = AlignedFrame(16384);
  std::memset(values.data(), 'v', values.size());
  const void* values_buffer = values.data();
  m.AddWritableFrame(std::move(values));
  EXPECT_EQ(m.writable_frames, 2u);
  const uint64_t writable = m.writable_frames;
  Parts parts = EncodeMessage(std::move(m));
  ASSERT_TRUE(sealer_->Seal(&parts, writable).ok());
  EXPECT_EQ(*borrowed, std::vector<char>(8192, 'k'));  // untouched
  EXPECT_NE(parts[2].data(), static_cast<const void*>(borrowed->data()));
  EXPECT_EQ(parts[3].data(), values_buffer);  // in place
  EXPECT_NE(parts[3].to_string(), std::string(16384, 'v'));
  ASSERT_TRUE(opener_->Open(&parts).ok());
  EXPECT_EQ(parts[1].to_string(), std::string(8192, 'k'));
  EXPECT_EQ(parts[2].to_string(), std::string(16384, 'v'));
}

TEST_F(DataSealTest, ATamperedByteInAnyFrameOrTagIsRejected) {
  const Parts original = Sealed(1);
  for (size_t frame = 0; frame < original.size(); ++frame) {
    Parts tampered = Copy(original);
    auto* bytes = static_cast<uint8_t*>(tampered[frame].data());
    // Envelope: flip a tag byte (the fixed part is checked separately below).
    bytes[frame == 0 ? kEnvelopeFixedBytes + 3 : tampered[frame].size() / 2] ^= 0x40;
    Status s = opener_->Open(&tampered);
    EXPECT_EQ(s.code(), StatusCode::kProtocolError) << "frame " << frame;
    EXPECT_EQ(FailureClass(s), "data auth") << s;
  }
  // The counter in the envelope is part of every nonce and of the additional data.
  Parts recounted = Copy(original);
  static_cast<uint8_t*>(recounted[0].data())[16] ^= 0x02;
  EXPECT_EQ(FailureClass(opener_->Open(&recounted)), "data auth");
  // None of the rejections advanced the counter: the original still opens.
  Parts intact = Copy(original);
  EXPECT_TRUE(opener_->Open(&intact).ok());
}

TEST_F(DataSealTest, AReplayedMessageIsRejected) {
  Parts first = Sealed(1);
  Parts replay = Copy(first);
  ASSERT_TRUE(opener_->Open(&first).ok());
  Status s = opener_->Open(&replay);
  EXPECT_EQ(FailureClass(s), "data replay") << s;
  EXPECT_NE(s.message().find("replayed or reordered"), std::string::npos);
}

TEST_F(DataSealTest, AReorderedMessageIsRejectedAndLaterOnesStillOpen) {
  Parts m1 = Sealed(1), m2 = Sealed(2), m3 = Sealed(3);
  ASSERT_TRUE(opener_->Open(&m2).ok());
  EXPECT_EQ(FailureClass(opener_->Open(&m1)), "data replay");
  // A gap (a reply the server dropped) is allowed: counters only increase.
  EXPECT_TRUE(opener_->Open(&m3).ok());
  EXPECT_EQ(opener_->last_counter(), 3u);
}

TEST_F(DataSealTest, TruncatedMessagesAreRejected) {
  const Parts original = Sealed(1);
  Parts missing_frame = Copy(original);
  missing_frame.pop_back();
  EXPECT_EQ(FailureClass(opener_->Open(&missing_frame)), "data truncated");

  Parts short_frame = Copy(original);
  const std::string cut = short_frame.back().to_string().substr(0, short_frame.back().size() - 1);
  short_frame.back() = zmq::message_t(cut.data(), cut.size());
  EXPECT_EQ(FailureClass(opener_->Open(&short_frame)), "data auth");

  Parts short_envelope = Copy(original);
  short_envelope[0] = zmq::message_t(short_envelope[0].data(), kEnvelopeFixedBytes + 5);
  EXPECT_EQ(FailureClass(opener_->Open(&short_envelope)), "data truncated");

  Parts no_envelope;
  EXPECT_EQ(FailureClass(opener_->Open(&no_envelope)), "data truncated");

  // Frames swapped: each is authenticated with its index.
  Parts swapped = Copy(original);
  std::swap(swapped[1], swapped[2]);
  EXPECT_EQ(FailureClass(opener_->Open(&swapped)), "data auth");

  Parts intact = Copy(original);
  EXPECT_TRUE(opener_->Open(&intact).ok());
}

TEST_F(DataSealTest, AMessageUnderAnotherSessionsKeyIsRejected) {
  auto other = DataSessionKeys::Generate().value();
  auto other_sealer = DataSealer::Create(other.id, other.to_server).value();
  Parts foreign = Plain(1, 100);
  ASSERT_TRUE(other_sealer->Seal(&foreign).ok());
  EXPECT_EQ(FailureClass(opener_->Open(&foreign)), "data session");

  // Another key under the sealer's id (a non-member that read the id off
  // the wire): the tags fail.
  auto forger = DataSealer::Create(keys_.id, other.to_server).value();
  Parts forged = Plain(1, 100);
  ASSERT_TRUE(forger->Seal(&forged).ok());
  EXPECT_EQ(FailureClass(opener_->Open(&forged)), "data auth");

  // The other direction's key of the same session does not open it either.
  auto reverse = DataSealer::Create(keys_.id, keys_.to_client).value();
  Parts reflected = Plain(1, 100);
  ASSERT_TRUE(reverse->Seal(&reflected).ok());
  EXPECT_EQ(FailureClass(opener_->Open(&reflected)), "data auth");

  // A frame moved from another message of the same session fails too.
  Parts a = Sealed(10, 100), b = Sealed(20, 100);
  a[2] = zmq::message_t(b[2].data(), b[2].size());
  EXPECT_EQ(FailureClass(opener_->Open(&a)), "data auth");
}

// Large messages' frames are sealed and opened on the pool's threads: the
// result is the same as sealing them one by one, and a tampered frame is
// still found and named.
TEST_F(DataSealTest, LargeMessagesAreSealedAndOpenedInParallel) {
  CryptoPool pool(3);
  auto sealer = DataSealer::Create(keys_.id, keys_.to_server, &pool).value();
  auto pooled_opener = DataOpener::Create(keys_.id, keys_.to_server, &pool).value();
  auto make = [](char fill) {
    Message m = MakeMessage(wire::PUSH, 2);
    for (int f = 0; f < 6; ++f) {
      zmq::message_t frame = AlignedFrame(512 << 10);
      std::memset(frame.data(), fill + f, frame.size());
      m.AddWritableFrame(std::move(frame));
    }
    const uint64_t writable = m.writable_frames;
    Parts parts = EncodeMessage(std::move(m));
    return std::make_pair(writable, std::move(parts));
  };
  auto [writable, parts] = make('a');
  const std::vector<std::string> plain = Bytes(parts);
  ASSERT_TRUE(sealer->Seal(&parts, writable).ok());
  Parts copy = Copy(parts);
  // Opened serially (no pool) and in parallel, to the same bytes.
  ASSERT_TRUE(opener_->Open(&parts).ok());
  EXPECT_EQ(Bytes(parts), plain);
  ASSERT_TRUE(pooled_opener->Open(&copy).ok());
  EXPECT_EQ(Bytes(copy), plain);

  auto [writable2, tampered] = make('k');
  ASSERT_TRUE(sealer->Seal(&tampered, writable2).ok());
  static_cast<uint8_t*>(tampered[4].data())[100] ^= 1;  // frame 3 (after the header)
  Status s = pooled_opener->Open(&tampered);
  EXPECT_EQ(FailureClass(s), "data auth") << s;
  EXPECT_NE(s.message().find("frame 3 "), std::string::npos) << s;
  EXPECT_EQ(pooled_opener->last_counter(), 1u);
}

TEST(CryptoPoolTest, EveryPartRunsOnceWithConcurrentCallers) {
  for (int threads : {0, 1, 3}) {
    CryptoPool pool(threads);
    std::vector<std::atomic<int>> runs(4 * 1000);
    auto caller = [&](int c) {
      for (int job = 0; job < 50; ++job) {
        pool.ParallelFor(20, [&](size_t i) { runs[c * 1000 + job * 20 + i]++; });
      }
    };
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) callers.emplace_back(caller, c);
    for (auto& t : callers) t.join();
    for (size_t i = 0; i < runs.size(); ++i) {
      ASSERT_EQ(runs[i].load(), 1) << "part " << i << " with " << threads << " threads";
    }
  }
  EXPECT_EQ(CryptoPool::DefaultThreads(2), 0);
  EXPECT_EQ(CryptoPool::DefaultThreads(16), 4);
  EXPECT_EQ(CryptoPool::DefaultThreads(64), 8);
}

TEST(DataSessionKeysTest, SerializeParseAndErrors) {
  auto keys = DataSessionKeys::Generate().value();
  EXPECT_NE(keys.id, 0u);
  const std::string frame = keys.Serialize();
  auto parsed = DataSessionKeys::Parse(frame.data(), frame.size());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, keys.id);
  EXPECT_EQ(parsed->to_server, keys.to_server);
  EXPECT_EQ(parsed->to_client, keys.to_client);
  EXPECT_NE(keys.to_server, keys.to_client);
  auto short_frame = DataSessionKeys::Parse(frame.data(), frame.size() - 1);
  EXPECT_EQ(short_frame.status().code(), StatusCode::kProtocolError);
  std::string zero_id = frame;
  std::memset(zero_id.data(), 0, 8);
  EXPECT_FALSE(DataSessionKeys::Parse(zero_id.data(), zero_id.size()).ok());
  keys.Wipe();
  EXPECT_EQ(keys.to_server, DataKey{});
}

}  // namespace
}  // namespace metaps
