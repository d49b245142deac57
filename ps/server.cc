#include "ps/server.h"

namespace metaps {

void ParameterServer::Start() {
  rpc_->Start([this](const PeerAddress& from, Message m) { Handle(from, std::move(m)); });
}

void ParameterServer::Handle(const PeerAddress& from, Message request) {
  const wire::Header& h = request.header;
  switch (h.type()) {
    case wire::PING: {
      Message reply = MakeReply(h, view_.my_rank);
      uint64_t bytes = 0;
      for (const auto& f : request.frames) bytes += f.size();
      reply.header.mutable_control()->set_value(static_cast<int64_t>(bytes));
      // Echo moves the received frames back out: no copy.
      if (h.control().echo()) reply.frames = std::move(request.frames);
      rpc_->Reply(from, std::move(reply));
      return;
    }
    default:
      rpc_->Reply(from, MakeReply(h, view_.my_rank,
                                  InvalidArgument(std::string("server does not serve ") +
                                                  MessageTypeName(h.type()))));
  }
}

}  // namespace metaps
