#include "worker/ps_client.h"

#include <cstring>

#include "common/key_dedup.h"
#include "common/partition.h"
#include "common/ps_messages.h"
#include "common/stream_copy.h"

namespace metaps {

struct KeyPlan::Data {
  int servers = 0;  // the layout it was sliced for
  size_t n = 0;
  std::vector<uint32_t> inverse;  // input position -> unique index
  std::vector<int> server_of;     // unique index -> server index
  std::vector<uint32_t> offset;   // unique index -> row within its server's slice
  // The distinct keys grouped by server: server s owns
  // keys_by_server[server_begin[s] .. server_begin[s + 1]), in first-seen order.
  std::vector<uint64_t> keys_by_server;
  std::vector<size_t> server_begin;

  // Rows of server s (none in a default, empty plan).
  size_t rows_of(int s) const {
    if (server_begin.empty()) return 0;
    return server_begin[static_cast<size_t>(s) + 1] - server_begin[static_cast<size_t>(s)];
  }
};

namespace {

inline void AddRow(const float* __restrict src, size_t dim, float* __restrict dst) {
  for (size_t d = 0; d < dim; ++d) dst[d] += src[d];
}

// A frame of `rows` > 0 keys of server s from its row `first`, without a copy:
// the frame holds a reference to the plan until ZeroMQ has sent it.
zmq::message_t KeyFrame(const std::shared_ptr<const KeyPlan::Data>& plan, int s, size_t first,
                        size_t rows) {
  auto* hold = new std::shared_ptr<const KeyPlan::Data>(plan);
  // ZeroMQ takes a non-const pointer but never writes to a message it sends.
  auto* keys = const_cast<uint64_t*>(plan->keys_by_server.data() +
                                     plan->server_begin[static_cast<size_t>(s)] + first);
  return zmq::message_t(
      keys, rows * sizeof(uint64_t),
      +[](void*, void* hint) { delete static_cast<std::shared_ptr<const KeyPlan::Data>*>(hint); },
      hold);
}

// An error for a plan sliced for another number of servers, else Ok.
Status CheckPlanLayout(const KeyPlan::Data* plan, int servers) {
  if (plan == nullptr || plan->servers == servers) return Status::Ok();
  return InvalidArgument("a KeyPlan made for " + std::to_string(plan->servers) +
                         " servers used with " + std::to_string(servers));
}

}  // namespace

KeyPlan::KeyPlan() = default;
KeyPlan::~KeyPlan() = default;
KeyPlan::KeyPlan(const KeyPlan&) = default;
KeyPlan& KeyPlan::operator=(const KeyPlan&) = default;
KeyPlan::KeyPlan(KeyPlan&&) noexcept = default;
KeyPlan& KeyPlan::operator=(KeyPlan&&) noexcept = default;
size_t KeyPlan::size() const { return data_ ? data_->n : 0; }
size_t KeyPlan::num_unique() const { return data_ ? data_->server_of.size() : 0; }

struct PsFuture::State {
  bool is_pull = false;
  int dim = 0;
  float* out = nullptr;
  Status early;  // an error found before sending
  std::shared_ptr<const KeyPlan::Data> plan;
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

// Dedup (unless the caller vouches the keys are distinct), then each unique
// key's server and its row within that server's slice, in first-seen order.
KeyPlan PsClient::Plan(const uint64_t* keys, size_t n, bool keys_unique) const {
  auto d = std::make_shared<KeyPlan::Data>();
  d->n = n;
  d->inverse.resize(n);
  const uint64_t* unique = keys;
  size_t num_unique = n;
  KeyDedup dedup;
  if (keys_unique) {
    for (size_t i = 0; i < n; ++i) d->inverse[i] = static_cast<uint32_t>(i);
  } else {
    dedup.Reset(n);
    dedup.Add(keys, n, d->inverse.data());
    unique = dedup.unique().data();
    num_unique = dedup.unique().size();
  }
  const int servers = view_.layout.num_servers();
  d->servers = servers;
  d->server_of.resize(num_unique);
  d->offset.resize(num_unique);
  std::vector<uint32_t> counts(static_cast<size_t>(servers), 0);
  for (size_t u = 0; u < num_unique; ++u) {
    const int s = KeyToServer(unique[u], servers);
    d->server_of[u] = s;
    d->offset[u] = counts[static_cast<size_t>(s)]++;
  }
  d->server_begin.assign(static_cast<size_t>(servers) + 1, 0);
  for (int s = 0; s < servers; ++s) {
    d->server_begin[static_cast<size_t>(s) + 1] =
        d->server_begin[static_cast<size_t>(s)] + counts[static_cast<size_t>(s)];
  }
  d->keys_by_server.resize(num_unique);
  for (size_t u = 0; u < num_unique; ++u) {
    d->keys_by_server[d->server_begin[static_cast<size_t>(d->server_of[u])] + d->offset[u]] =
        unique[u];
  }
  KeyPlan plan;
  plan.data_ = std::move(d);
  return plan;
}

PsFuture PsClient::Pull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                        bool keys_unique, PullMode mode) {
  return Pull(table_id, Plan(keys, n, keys_unique), out, mode);
}

PsFuture PsClient::Push(uint32_t table_id, const uint64_t* keys, size_t n, const float* grads,
                        int64_t clock, bool every_server, bool keys_unique) {
  return Push(table_id, Plan(keys, n, keys_unique), grads, clock, every_server);
}

PsFuture PsClient::Pull(uint32_t table_id, const KeyPlan& plan, float* out, PullMode mode) {
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  PsFuture::State& st = *future.state_;
  st.is_pull = true;
  st.out = out;
  st.plan = plan.data_;
  const int servers = view_.layout.num_servers();
  auto dim = Dim(table_id);
  if (!dim.ok()) {
    st.early = dim.status();
    return future;
  }
  st.early = CheckPlanLayout(st.plan.get(), servers);
  if (!st.early.ok() || st.plan == nullptr) return future;  // nullptr: a default KeyPlan, no keys
  st.dim = *dim;
  const KeyPlan::Data& p = *st.plan;
  st.replies.resize(static_cast<size_t>(servers));
  for (int s = 0; s < servers; ++s) {
    if (p.rows_of(s) == 0) continue;
    Message m = MakeMessage(wire::PULL, view_.my_rank);
    m.header.set_table_id(table_id);
    m.header.set_read_only(mode == PullMode::kReadOnly);
    m.AddFrame(KeyFrame(st.plan, s, 0, p.rows_of(s)));
    st.replies[static_cast<size_t>(s)] =
        rpc_->Call(view_.layout.ServerRank(s), std::move(m), timeout_);
  }
  return future;
}

PsFuture PsClient::Push(uint32_t table_id, const KeyPlan& plan, const float* grads, int64_t clock,
                        bool every_server) {
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  PsFuture::State& st = *future.state_;
  auto dim_or = Dim(table_id);
  if (!dim_or.ok()) {
    st.early = dim_or.status();
    return future;
  }
  const size_t dim = static_cast<size_t>(*dim_or);
  st.dim = *dim_or;
  const int servers = view_.layout.num_servers();
  st.early = CheckPlanLayout(plan.data_.get(), servers);
  if (!st.early.ok()) return future;
  const KeyPlan::Data no_keys;  // a default KeyPlan
  const KeyPlan::Data& p = plan.data_ ? *plan.data_ : no_keys;
  const size_t n = p.n;

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
  std::vector<Chunk> chunks;
  std::vector<size_t> first_chunk(static_cast<size_t>(servers) + 1, 0);
  for (int s = 0; s < servers; ++s) {
    first_chunk[static_cast<size_t>(s)] = chunks.size();
    const size_t rows = p.rows_of(s);
    for (size_t first = 0; first < rows; first += per_chunk) {
      chunks.push_back({s, first, std::min(per_chunk, rows - first)});
    }
  }
  first_chunk[static_cast<size_t>(servers)] = chunks.size();
  const size_t num_unique = p.server_of.size();
  std::vector<zmq::message_t> values(chunks.size());
  for (size_t c = 0; c < chunks.size(); ++c) {
    values[c] = AlignedFrame(chunks[c].rows * dim * sizeof(float));
  }
  // Where each distinct key's summed gradient goes.
  std::vector<float*> dst_of(num_unique);
  for (size_t u = 0; u < num_unique; ++u) {
    const size_t c = first_chunk[static_cast<size_t>(p.server_of[u])] + p.offset[u] / per_chunk;
    dst_of[u] = values[c].data<float>() + (p.offset[u] % per_chunk) * dim;
  }
  // Distinct keys are numbered in first-seen order, so position i is its key's
  // first occurrence exactly when its index is the next new one.
  uint32_t next_new = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = p.inverse[i];
    if (u == next_new) {
      std::memcpy(dst_of[u], grads + i * dim, dim * sizeof(float));
      ++next_new;
    } else {
      AddRow(grads + i * dim, dim, dst_of[u]);
    }
  }
  if (!every_server) {
    // One PUSH per chunk: the server applies chunk c while c + 1 is in transit.
    for (size_t c = 0; c < chunks.size(); ++c) {
      const Chunk& chunk = chunks[c];
      Message m = MakeMessage(wire::PUSH, view_.my_rank);
      m.header.set_table_id(table_id);
      m.header.set_clock(clock);
      m.AddFrame(KeyFrame(plan.data_, chunk.server, chunk.first, chunk.rows));
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
    const size_t rows = p.rows_of(s);
    m.AddFrame(rows == 0 ? zmq::message_t() : KeyFrame(plan.data_, s, 0, rows));  // empty push
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
  if (!st->is_pull || st->plan == nullptr) return Status::Ok();

  // Check every server's reply before writing anything.
  const KeyPlan::Data& p = *st->plan;
  for (size_t s = 0; s < replies.size(); ++s) {
    const size_t rows = p.rows_of(static_cast<int>(s));
    if (rows == 0) continue;
    RETURN_IF_ERROR(CheckValueChunks(replies[s], 0, rows, st->dim,
                                     "PULL reply from server " + std::to_string(s)));
  }
  const size_t dim = static_cast<size_t>(st->dim);
  const size_t per_chunk = RowsPerChunk(st->dim);
  // Where each server's chunks start, so that the loop below does not ask
  // ZeroMQ for a frame's data once per row.
  std::vector<const float*> chunk_data;
  std::vector<size_t> first_chunk(replies.size(), 0);
  for (size_t s = 0; s < replies.size(); ++s) {
    first_chunk[s] = chunk_data.size();
    for (size_t c = 0; c < replies[s].frames.size(); ++c) {
      chunk_data.push_back(replies[s].FrameAs<float>(c));
    }
  }
  const size_t row_bytes = dim * sizeof(float);
  auto row_of = [&](size_t i) {
    const uint32_t u = p.inverse[i];
    const size_t o = p.offset[u];
    return chunk_data[first_chunk[static_cast<size_t>(p.server_of[u])] + o / per_chunk] +
           (o % per_chunk) * dim;
  };
  // The received rows were written by the I/O thread, often on the other
  // core: fetch them a few rows ahead.
  constexpr size_t kAhead = 8;
  auto scatter = [&](auto copy_row) {
    for (size_t i = 0; i < p.n; ++i) {
      if (i + kAhead < p.n) {
        const char* next = reinterpret_cast<const char*>(row_of(i + kAhead));
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b);
      }
      copy_row(st->out + i * dim, row_of(i));
    }
  };
  if (ShouldStream(st->out, row_bytes, p.n * row_bytes)) {
    scatter([row_bytes](float* dst, const float* src) { StreamRow(dst, src, row_bytes); });
    StreamFence();
  } else {
    scatter([row_bytes](float* dst, const float* src) { std::memcpy(dst, src, row_bytes); });
  }
  return Status::Ok();
}

}  // namespace metaps
