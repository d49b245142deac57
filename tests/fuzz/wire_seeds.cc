// Writes the seed corpus of wire_fuzz (encoded messages in its input format)
// into the directory given as argv[1]: a ping, a pull with keys, a push with
// keys and values, a reply with an error status, a barrier with control text.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/wire.h"

namespace {

void Write(const std::string& dir, const std::string& name, uint8_t flags, metaps::Message m) {
  std::vector<zmq::message_t> parts = metaps::EncodeMessage(std::move(m));
  std::string out;
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(parts.size()));
  for (const zmq::message_t& p : parts) {
    const uint32_t len = static_cast<uint32_t>(p.size());
    out.append(reinterpret_cast<const char*>(&len), 4);
    out.append(static_cast<const char*>(p.data()), p.size());
  }
  std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(out.data(), 1, out.size(), f);
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Write(dir, "ping", 0x03, metaps::MakeMessage(metaps::wire::PING, 1));
  {
    metaps::Message m = metaps::MakeMessage(metaps::wire::PULL, 2);
    m.header.set_table_id(1);
    m.header.set_clock(5);
    const std::vector<uint64_t> keys = {1, 2, 3, 99};
    m.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
    Write(dir, "pull", 0x1b, std::move(m));
  }
  {
    metaps::Message m = metaps::MakeMessage(metaps::wire::PUSH, 3);
    m.header.set_table_id(2);
    m.header.set_clock(7);
    const std::vector<uint64_t> keys = {5, 6};
    const std::vector<float> grads = {0.5f, -1.0f, 0.25f, 2.0f};
    m.AddCopy(keys.data(), keys.size() * sizeof(uint64_t));
    m.AddCopy(grads.data(), grads.size() * sizeof(float));
    Write(dir, "push", 0x23, std::move(m));
  }
  {
    metaps::wire::Header request;
    request.set_type(metaps::wire::PULL);
    request.set_request_id(42);
    Write(dir, "reply_error", 0x47,
          metaps::MakeReply(request, 1, metaps::InvalidArgument("table 7 is unknown")));
  }
  {
    metaps::Message m = metaps::MakeMessage(metaps::wire::BARRIER, 2);
    m.header.mutable_control()->set_name("epoch-1");
    m.header.mutable_control()->set_text("12");
    Write(dir, "barrier", 0x02, std::move(m));
  }
  return 0;
}
