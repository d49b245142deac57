#include "common/wire.h"

#include <cstdlib>
#include <new>

namespace metaps {

void Message::AddShared(std::shared_ptr<const std::vector<char>> buffer) {
  const size_t size = buffer->size();
  AddShared(std::move(buffer), 0, size);
}

void Message::AddShared(std::shared_ptr<const std::vector<char>> buffer, size_t offset,
                        size_t size) {
  // ZeroMQ calls the free function from its I/O thread once the frame is sent;
  // the heap-held shared_ptr keeps the buffer alive until then.
  auto* owner = new std::shared_ptr<const std::vector<char>>(std::move(buffer));
  auto release = [](void*, void* hint) {
    delete static_cast<std::shared_ptr<const std::vector<char>>*>(hint);
  };
  frames.emplace_back(const_cast<char*>((*owner)->data()) + offset, size, release, owner);
}

zmq::message_t AlignedFrame(size_t bytes) {
  if (bytes == 0) return zmq::message_t();
  constexpr size_t kAlign = 64;
  void* data = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
  if (data == nullptr) throw std::bad_alloc();
  return zmq::message_t(
      data, bytes, [](void* p, void*) { std::free(p); }, nullptr);
}

Message MakeMessage(wire::MessageType type, int sender) {
  Message m;
  m.header.set_version(kProtocolVersion);
  m.header.set_type(type);
  m.header.set_sender(sender);
  return m;
}

Message MakeReply(const wire::Header& request, int sender, const Status& status) {
  Message m = MakeMessage(request.type(), sender);
  m.header.set_request_id(request.request_id());
  m.header.set_is_reply(true);
  m.header.set_table_id(request.table_id());
  if (!status.ok()) {
    m.header.set_status_code(static_cast<int32_t>(status.code()));
    m.header.set_status_message(status.message());
  }
  return m;
}

std::vector<zmq::message_t> EncodeMessage(Message&& message) {
  message.header.clear_frame_bytes();
  for (const auto& f : message.frames) message.header.add_frame_bytes(f.size());
  std::vector<zmq::message_t> parts;
  parts.reserve(message.frames.size() + 1);
  const size_t header_bytes = message.header.ByteSizeLong();
  parts.emplace_back(header_bytes);
  message.header.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(parts[0].data()));
  for (auto& f : message.frames) parts.push_back(std::move(f));
  message.frames.clear();
  message.writable_frames = 0;
  return parts;
}

StatusOr<Message> DecodeMessage(std::vector<zmq::message_t>&& parts) {
  if (parts.empty()) return ProtocolError("empty message");
  if (parts.size() > static_cast<size_t>(kMaxFrames) + 1) {
    return ProtocolError("too many frames: " + std::to_string(parts.size()));
  }
  // Checked before parsing: protobuf would allocate for a huge frame, and its
  // int length would truncate one over 2 GiB.
  if (parts[0].size() > kMaxHeaderBytes) {
    return ProtocolError("header frame too large: " + std::to_string(parts[0].size()) +
                         " bytes (limit " + std::to_string(kMaxHeaderBytes) + ")");
  }
  Message m;
  if (!m.header.ParseFromArray(parts[0].data(), static_cast<int>(parts[0].size()))) {
    return ProtocolError("header frame is not a valid wire.Header (" +
                         std::to_string(parts[0].size()) + " bytes)");
  }
  const size_t declared = static_cast<size_t>(m.header.frame_bytes_size());
  if (declared != parts.size() - 1) {
    return ProtocolError("header declares " + std::to_string(declared) + " frames, message has " +
                         std::to_string(parts.size() - 1));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].size() != m.header.frame_bytes(static_cast<int>(i - 1))) {
      return ProtocolError("frame " + std::to_string(i - 1) + " has " +
                           std::to_string(parts[i].size()) + " bytes, header declares " +
                           std::to_string(m.header.frame_bytes(static_cast<int>(i - 1))));
    }
  }
  m.frames.reserve(parts.size() - 1);
  for (size_t i = 1; i < parts.size(); ++i) m.frames.push_back(std::move(parts[i]));
  return m;
}

Status ValidateHeader(const wire::Header& header, int world_size, int authenticated_rank,
                      bool expect_reply) {
  if (header.version() != kProtocolVersion) {
    return ProtocolError("protocol version " + std::to_string(header.version()) + ", expected " +
                         std::to_string(kProtocolVersion));
  }
  if (header.type() == wire::MESSAGE_TYPE_UNSPECIFIED ||
      !wire::MessageType_IsValid(header.type())) {
    return ProtocolError("unknown message type " + std::to_string(header.type()));
  }
  if (header.sender() < 0 || header.sender() >= world_size) {
    return ProtocolError("sender rank " + std::to_string(header.sender()) +
                         " is not a member (world size " + std::to_string(world_size) + ")");
  }
  if (authenticated_rank >= 0 && header.sender() != authenticated_rank) {
    return ProtocolError("sender field says rank " + std::to_string(header.sender()) +
                         " but the connection is authenticated as rank " +
                         std::to_string(authenticated_rank));
  }
  if (header.is_reply() != expect_reply) {
    return ProtocolError(expect_reply ? "expected a reply, got a request"
                                      : "expected a request, got a reply");
  }
  return Status::Ok();
}

Status ReplyStatus(const wire::Header& reply) {
  if (reply.status_code() == 0) return Status::Ok();
  const int code = reply.status_code();
  if (code < 0 || code > static_cast<int>(StatusCode::kResourceExhausted)) {
    return ProtocolError("reply carries unknown status code " + std::to_string(code) + ": " +
                         reply.status_message());
  }
  return Status(static_cast<StatusCode>(code), reply.status_message());
}

const char* MessageTypeName(wire::MessageType type) {
  if (!wire::MessageType_IsValid(type)) return "INVALID";
  return wire::MessageType_Name(type).c_str();
}

}  // namespace metaps
