// Wire messages: a protobuf Header frame followed by raw array frames.
//
// Frames are zmq::message_t so that received arrays are used in place (no copy)
// and sent arrays can borrow caller buffers (zero-copy). Validation happens once,
// on receipt, before any handler sees a message: see ValidateHeader.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/proto/wire.pb.h"
#include "common/status.h"

namespace metaps {

// Bumped whenever the meaning of a header field or frame layout changes.
constexpr uint32_t kProtocolVersion = 1;
// Upper bound on the number of raw frames a message may carry.
constexpr int kMaxFrames = 64;
// Upper bound on the header frame (a wire.Header: a few ids, up to kMaxFrames
// sizes and a control payload). A larger frame is dropped before protobuf
// parses it. Gather texts (checkpoint records, metrics) stay far below this.
constexpr size_t kMaxHeaderBytes = 1 << 20;

struct Message {
  wire::Header header;
  std::vector<zmq::message_t> frames;  // raw little-endian arrays
  // Bit i: frames[i] is this message's own buffer, which the aead data plane
  // may encrypt in place (common/data_seal.h); other frames may borrow a
  // caller's buffer and are encrypted into a new one.
  uint64_t writable_frames = 0;

  // Appends a copy of [data, data + bytes).
  void AddCopy(const void* data, size_t bytes) { frames.emplace_back(data, bytes); }
  // Appends a frame that borrows `buffer` (or bytes [offset, offset + size) of
  // it) until ZeroMQ has sent it.
  void AddShared(std::shared_ptr<const std::vector<char>> buffer);
  void AddShared(std::shared_ptr<const std::vector<char>> buffer, size_t offset, size_t size);
  void AddFrame(zmq::message_t frame) { frames.push_back(std::move(frame)); }
  // A frame whose buffer nobody else reads or writes once it is added.
  void AddWritableFrame(zmq::message_t frame) {
    if (frames.size() < 64) writable_frames |= uint64_t{1} << frames.size();
    frames.push_back(std::move(frame));
  }

  template <typename T>
  const T* FrameAs(size_t i) const {
    return static_cast<const T*>(frames[i].data());
  }
  template <typename T>
  size_t FrameCount(size_t i) const {
    return frames[i].size() / sizeof(T);
  }
};

// A frame of `bytes` uninitialized bytes starting on a 64-byte boundary
// (zmq::message_t's own allocation puts its data 8 bytes off one), for arrays
// written with vector or streaming stores (common/stream_copy.h).
zmq::message_t AlignedFrame(size_t bytes);

// Builds a message of `type` with version and sender filled in.
Message MakeMessage(wire::MessageType type, int sender);
// Builds the reply to `request`: same type and request id, is_reply set.
Message MakeReply(const wire::Header& request, int sender, const Status& status = Status());

// Serializes the header (filling frame_bytes from the frames) and returns the
// multipart message ready for send. Leaves `message` without frames.
std::vector<zmq::message_t> EncodeMessage(Message&& message);

// Parses frame 0 into a header and takes the remaining frames. Structural checks
// only (parse, frame count vs declared sizes); policy checks are in ValidateHeader.
StatusOr<Message> DecodeMessage(std::vector<zmq::message_t>&& parts);

// Policy checks on a decoded message: protocol version, a known type, the
// sender is a member of the job (0 <= sender < world_size) and matches the
// authenticated peer rank (-1 when unknown, e.g. insecure inproc), and reply
// direction. Returns kProtocolError naming the field.
Status ValidateHeader(const wire::Header& header, int world_size, int authenticated_rank,
                      bool expect_reply);

// The status carried by a reply.
Status ReplyStatus(const wire::Header& reply);

const char* MessageTypeName(wire::MessageType type);

}  // namespace metaps
