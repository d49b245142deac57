#include "worker/ps_client.h"

#include <cstring>

#include "common/key_dedup.h"
#include "common/partition.h"
#include "common/ps_messages.h"

namespace metaps {

struct PsFuture::State {
  bool is_pull = false;
  int dim = 0;
  size_t n = 0;
  float* out = nullptr;
  Status early;                   // an error found before sending
  std::vector<uint32_t> inverse;  // input position -> unique index
  std::vector<int> server_of;     // unique index -> server index
  std::vector<uint32_t> offset;   // unique index -> row within its server's slice
  // Pull: by server index (invalid: unused). Push: one per message sent.
  std::vector<std::future<StatusOr<Message>>> replies;
};

PsFuture::PsFuture() = default;
PsFuture::~PsFuture() = default;
PsFuture::PsFuture(PsFuture&&) noexcept = default;
PsFuture& PsFuture::operator=(PsFuture&&) noexcept = default;

PsClient::PsClient(RpcClient* rpc, const ClusterView& view, std::chrono::milliseconds timeout)
    : rpc_(rpc), view_(view), timeout_(timeout) {}

StatusOr<int> PsClient::Dim(uint32_t table_id) const {
  auto it = dims_.find(table_id);
  if (it == dims_.end()) return InvalidArgument("unknown table id " + std::to_string(table_id));
  return it->second;
}

namespace {

inline void AddRow(const float* __restrict src, size_t dim, float* __restrict dst) {
  for (size_t d = 0; d < dim; ++d) dst[d] += src[d];
}

// Shared by Pull and Push: dedup (unless the caller vouches the keys are
// distinct), then assign each unique key its server and its row within that
// server's slice. Returns per-server key frames (empty: the server owns none).
// Frames are allocated uninitialized (zmq::message_t), never zero-filled: every
// byte is written before sending.

std::vector<zmq::message_t> Slice(const uint64_t* keys, size_t n, bool keys_unique, int servers,
                                  std::vector<uint64_t>* unique_storage,
                                  std::vector<uint32_t>* inverse, std::vector<int>* server_of,
                                  std::vector<uint32_t>* offset) {
  inverse->resize(n);
  const uint64_t* unique = keys;
  size_t num_unique = n;
  if (keys_unique) {
    for (size_t i = 0; i < n; ++i) (*inverse)[i] = static_cast<uint32_t>(i);
  } else {
    KeyDedup dedup;
    dedup.Reset(n);
    dedup.Add(keys, n, inverse->data());
    unique_storage->swap(dedup.unique());
    unique = unique_storage->data();
    num_unique = unique_storage->size();
  }
  server_of->resize(num_unique);
  offset->resize(num_unique);
  std::vector<uint32_t> counts(static_cast<size_t>(servers), 0);
  for (size_t u = 0; u < num_unique; ++u) {
    const int s = KeyToServer(unique[u], servers);
    (*server_of)[u] = s;
    (*offset)[u] = counts[static_cast<size_t>(s)]++;
  }
  std::vector<zmq::message_t> key_frames(static_cast<size_t>(servers));
  std::vector<uint64_t*> dst(static_cast<size_t>(servers), nullptr);
  for (int s = 0; s < servers; ++s) {
    if (counts[static_cast<size_t>(s)] == 0) continue;
    key_frames[static_cast<size_t>(s)].rebuild(counts[static_cast<size_t>(s)] * sizeof(uint64_t));
    dst[static_cast<size_t>(s)] = key_frames[static_cast<size_t>(s)].data<uint64_t>();
  }
  for (size_t u = 0; u < num_unique; ++u) {
    dst[static_cast<size_t>((*server_of)[u])][(*offset)[u]] = unique[u];
  }
  return key_frames;
}

}  // namespace

PsFuture PsClient::Pull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                        bool keys_unique, PullMode mode) {
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  PsFuture::State& st = *future.state_;
  st.is_pull = true;
  st.n = n;
  st.out = out;
  auto dim = Dim(table_id);
  if (!dim.ok()) {
    st.early = dim.status();
    return future;
  }
  st.dim = *dim;
  const int servers = view_.layout.num_servers();
  std::vector<uint64_t> unique;
  auto key_frames =
      Slice(keys, n, keys_unique, servers, &unique, &st.inverse, &st.server_of, &st.offset);
  st.replies.resize(static_cast<size_t>(servers));
  for (int s = 0; s < servers; ++s) {
    if (key_frames[static_cast<size_t>(s)].size() == 0) continue;
    Message m = MakeMessage(wire::PULL, view_.my_rank);
    m.header.set_table_id(table_id);
    m.header.set_read_only(mode == PullMode::kReadOnly);
    m.AddFrame(std::move(key_frames[static_cast<size_t>(s)]));
    st.replies[static_cast<size_t>(s)] =
        rpc_->Call(view_.layout.ServerRank(s), std::move(m), timeout_);
  }
  return future;
}

PsFuture PsClient::Push(uint32_t table_id, const uint64_t* keys, size_t n, const float* grads,
                        int64_t clock, bool every_server, bool keys_unique) {
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  PsFuture::State& st = *future.state_;
  st.n = n;
  auto dim_or = Dim(table_id);
  if (!dim_or.ok()) {
    st.early = dim_or.status();
    return future;
  }
  const size_t dim = static_cast<size_t>(*dim_or);
  st.dim = *dim_or;
  const int servers = view_.layout.num_servers();
  std::vector<uint64_t> unique;
  auto key_frames =
      Slice(keys, n, keys_unique, servers, &unique, &st.inverse, &st.server_of, &st.offset);

  // Gradients are summed, in one pass over the input, into frames of at most
  // RowsPerChunk rows of one server (chunk-sized allocations are reused from
  // the heap, where one buffer of a whole request would be fresh mmap'd pages;
  // zmq::message_t leaves them uninitialized). Unless every server must get
  // exactly one message (BSP aggregation), each chunk then travels as its own
  // PUSH, so the server applies one chunk while the next is in transit.
  const size_t per_chunk = RowsPerChunk(st.dim);
  struct Chunk {
    int server;
    size_t first, rows;  // rows [first, first + rows) of the server's slice
  };
  std::vector<Chunk> plan;
  std::vector<size_t> first_chunk(static_cast<size_t>(servers) + 1, 0);
  for (int s = 0; s < servers; ++s) {
    first_chunk[static_cast<size_t>(s)] = plan.size();
    const size_t rows = key_frames[static_cast<size_t>(s)].size() / sizeof(uint64_t);
    for (size_t first = 0; first < rows; first += per_chunk) {
      plan.push_back({s, first, std::min(per_chunk, rows - first)});
    }
  }
  first_chunk[static_cast<size_t>(servers)] = plan.size();
  const size_t num_unique = st.server_of.size();
  std::vector<zmq::message_t> values(plan.size());
  for (size_t c = 0; c < plan.size(); ++c) values[c].rebuild(plan[c].rows * dim * sizeof(float));
  // Where each distinct key's summed gradient goes.
  std::vector<float*> dst_of(num_unique);
  for (size_t u = 0; u < num_unique; ++u) {
    const size_t c = first_chunk[static_cast<size_t>(st.server_of[u])] + st.offset[u] / per_chunk;
    dst_of[u] = values[c].data<float>() + (st.offset[u] % per_chunk) * dim;
  }
  // Distinct keys are numbered in first-seen order, so position i is its key's
  // first occurrence exactly when its index is the next new one.
  uint32_t next_new = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = st.inverse[i];
    if (u == next_new) {
      std::memcpy(dst_of[u], grads + i * dim, dim * sizeof(float));
      ++next_new;
    } else {
      AddRow(grads + i * dim, dim, dst_of[u]);
    }
  }
  if (!every_server) {
    // One PUSH per chunk: the server applies chunk c while c + 1 is in transit.
    for (size_t c = 0; c < plan.size(); ++c) {
      const Chunk& chunk = plan[c];
      Message m = MakeMessage(wire::PUSH, view_.my_rank);
      m.header.set_table_id(table_id);
      m.header.set_clock(clock);
      zmq::message_t& server_keys = key_frames[static_cast<size_t>(chunk.server)];
      if (chunk.rows * sizeof(uint64_t) == server_keys.size()) {
        m.AddFrame(std::move(server_keys));  // the server's only chunk: no copy
      } else {
        m.AddFrame(zmq::message_t(server_keys.data<uint64_t>() + chunk.first,
                                  chunk.rows * sizeof(uint64_t)));
      }
      m.AddFrame(std::move(values[c]));
      st.replies.push_back(
          rpc_->Call(view_.layout.ServerRank(chunk.server), std::move(m), timeout_));
    }
    return future;
  }
  // BSP aggregation: each server gets exactly one PUSH per worker and step.
  for (int s = 0; s < servers; ++s) {
    const size_t si = static_cast<size_t>(s);
    Message m = MakeMessage(wire::PUSH, view_.my_rank);
    m.header.set_table_id(table_id);
    m.header.set_clock(clock);
    m.AddFrame(std::move(key_frames[si]));  // empty: an empty push
    for (size_t c = first_chunk[si]; c < first_chunk[si + 1]; ++c) m.AddFrame(std::move(values[c]));
    st.replies.push_back(rpc_->Call(view_.layout.ServerRank(s), std::move(m), timeout_));
  }
  return future;
}

Status PsFuture::Wait() {
  if (!state_) return Internal("PsFuture::Wait on an empty or already waited future");
  std::unique_ptr<State> st = std::move(state_);
  if (!st->early.ok()) return st->early;
  std::vector<Message> replies(st->replies.size());
  Status first_error;
  for (size_t s = 0; s < st->replies.size(); ++s) {
    if (!st->replies[s].valid()) continue;
    auto reply = st->replies[s].get();
    if (!reply.ok()) {
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    replies[s] = std::move(reply).value();
  }
  RETURN_IF_ERROR(first_error);
  if (!st->is_pull) return Status::Ok();

  // Check every server's reply before writing anything.
  std::vector<size_t> rows(replies.size(), 0);
  for (uint32_t u = 0; u < st->server_of.size(); ++u) rows[static_cast<size_t>(st->server_of[u])]++;
  for (size_t s = 0; s < replies.size(); ++s) {
    if (rows[s] == 0) continue;
    RETURN_IF_ERROR(CheckValueChunks(replies[s], 0, rows[s], st->dim,
                                     "PULL reply from server " + std::to_string(s)));
  }
  const size_t dim = static_cast<size_t>(st->dim);
  const size_t per_chunk = RowsPerChunk(st->dim);
  for (size_t i = 0; i < st->n; ++i) {
    const uint32_t u = st->inverse[i];
    const Message& m = replies[static_cast<size_t>(st->server_of[u])];
    const size_t o = st->offset[u];
    const float* src = m.FrameAs<float>(o / per_chunk) + (o % per_chunk) * dim;
    std::memcpy(st->out + i * dim, src, dim * sizeof(float));
  }
  return Status::Ok();
}

}  // namespace metaps
