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
  // The distinct keys grouped by server: server s owns rows
  // [server_begin[s], server_begin[s + 1]) of keys_by_server, in first-seen
  // order. A "row" below is an index into keys_by_server.
  std::vector<uint64_t> keys_by_server;
  std::vector<size_t> server_begin;
  // The input positions that asked for each row, ascending: row r's are
  // positions[pos_begin[r] .. pos_begin[r + 1]). When every key was distinct,
  // pos_begin is empty and row r's one position is positions[r].
  std::vector<uint32_t> positions;
  std::vector<uint32_t> pos_begin;

  size_t num_rows() const { return keys_by_server.size(); }
  // Rows of server s (none in a default, empty plan).
  size_t rows_of(int s) const {
    if (server_begin.empty()) return 0;
    return server_begin[static_cast<size_t>(s) + 1] - server_begin[static_cast<size_t>(s)];
  }
  // Row r's positions: [*first, *last) of `positions`.
  void positions_of(size_t r, size_t* first, size_t* last) const {
    if (pos_begin.empty()) {
      *first = r;
      *last = r + 1;
    } else {
      *first = pos_begin[r];
      *last = pos_begin[r + 1];
    }
  }
};

namespace {

// Requests travel in pieces of about this many bytes of rows, each its own
// PULL or PUSH: the server works on piece k while piece k + 1 is in transit
// and the client sums (push) or scatters (pull) piece k - 1, so the two
// processes and the two kernel copies of loopback overlap. A piece is at most
// one value chunk (common/ps_messages.h), so its message has one value frame.
constexpr size_t kPieceBytes = size_t{1} << 20;

size_t RowsPerPiece(int dim) {
  return std::min(RowsPerChunk(dim),
                  std::max<size_t>(1, kPieceBytes / (static_cast<size_t>(dim) * sizeof(float))));
}

// Rows [first, first + rows) of one server's slice.
struct Piece {
  int server;
  size_t first, rows;
};

// Every server's rows cut into pieces of at most `per_piece` rows, taken
// round-robin over the servers so that each starts working at once.
std::vector<Piece> CutPieces(const KeyPlan::Data& p, size_t per_piece) {
  std::vector<Piece> pieces;
  for (size_t first = 0;; first += per_piece) {
    bool any = false;
    for (int s = 0; s < p.servers; ++s) {
      const size_t rows = p.rows_of(s);
      if (first >= rows) continue;
      pieces.push_back({s, first, std::min(per_piece, rows - first)});
      any = true;
    }
    if (!any) return pieces;
  }
}

inline void AddRow(const float* __restrict src, size_t dim, float* __restrict dst) {
  for (size_t d = 0; d < dim; ++d) dst[d] += src[d];
}

inline void PrefetchRow(const float* row, size_t bytes) {
  const char* c = reinterpret_cast<const char*>(row);
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b);
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
size_t KeyPlan::num_unique() const { return data_ ? data_->num_rows() : 0; }

struct PsFuture::State {
  bool is_pull = false;
  int dim = 0;
  float* out = nullptr;
  Status early;  // an error found before sending
  std::shared_ptr<const KeyPlan::Data> plan;
  // Pull: one per piece, in `pieces`' order. Push: one per message sent.
  std::vector<Piece> pieces;
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

// Dedup (unless the caller vouches the keys are distinct), each distinct key's
// server and row, then each row's input positions (a counting sort).
KeyPlan PsClient::Plan(const uint64_t* keys, size_t n, bool keys_unique) const {
  auto d = std::make_shared<KeyPlan::Data>();
  d->n = n;
  std::vector<uint32_t> inverse;  // input position -> index among the distinct keys
  const uint64_t* unique = keys;
  size_t num_unique = n;
  KeyDedup dedup;
  if (!keys_unique) {
    inverse.resize(n);
    dedup.Reset(n);
    dedup.Add(keys, n, inverse.data());
    unique = dedup.unique().data();
    num_unique = dedup.unique().size();
  }
  const int servers = view_.layout.num_servers();
  d->servers = servers;
  std::vector<uint32_t> row_of(num_unique);  // distinct key -> row
  std::vector<uint32_t> counts(static_cast<size_t>(servers), 0);
  for (size_t u = 0; u < num_unique; ++u) {
    row_of[u] = counts[static_cast<size_t>(KeyToServer(unique[u], servers))]++;
  }
  d->server_begin.assign(static_cast<size_t>(servers) + 1, 0);
  for (size_t s = 0; s < static_cast<size_t>(servers); ++s) {
    d->server_begin[s + 1] = d->server_begin[s] + counts[s];
  }
  d->keys_by_server.resize(num_unique);
  for (size_t u = 0; u < num_unique; ++u) {
    row_of[u] += d->server_begin[static_cast<size_t>(KeyToServer(unique[u], servers))];
    d->keys_by_server[row_of[u]] = unique[u];
  }
  d->positions.resize(n);
  if (num_unique == n) {  // one position per row
    for (size_t i = 0; i < n; ++i) d->positions[row_of[inverse.empty() ? i : inverse[i]]] = i;
  } else {
    d->pos_begin.assign(num_unique + 1, 0);
    for (size_t i = 0; i < n; ++i) ++d->pos_begin[row_of[inverse[i]] + 1];
    for (size_t r = 0; r < num_unique; ++r) d->pos_begin[r + 1] += d->pos_begin[r];
    // pos_begin[r] serves as row r's next free place, then is restored.
    for (size_t i = 0; i < n; ++i) d->positions[d->pos_begin[row_of[inverse[i]]]++] = i;
    for (size_t r = num_unique; r > 0; --r) d->pos_begin[r] = d->pos_begin[r - 1];
    d->pos_begin[0] = 0;
  }
  KeyPlan plan;
  plan.data_ = std::move(d);
  return plan;
}

namespace {

// Copies rows to the output with streaming stores when it is large.
struct RowWriter {
  RowWriter(size_t n, size_t dim)
      : row_bytes(dim * sizeof(float)), stream(ShouldStream(row_bytes, n * row_bytes)) {}
  ~RowWriter() {
    if (stream) StreamFence();
  }
  void Write(float* dst, const float* src) const {
    if (stream) {
      StreamRow(dst, src, row_bytes);
    } else {
      std::memcpy(dst, src, row_bytes);
    }
  }
  const size_t row_bytes;
  const bool stream;
};

// Writes one pull piece's rows to their positions, as soon as it arrives.
void ScatterPiece(const PsFuture::State& st, const Piece& piece, const Message& reply) {
  const KeyPlan::Data& p = *st.plan;
  const size_t dim = static_cast<size_t>(st.dim);
  const RowWriter writer(p.n, dim);
  const float* src = reply.FrameAs<float>(0);
  const size_t row0 = p.server_begin[static_cast<size_t>(piece.server)] + piece.first;
  for (size_t r = 0; r < piece.rows; ++r, src += dim) {
    size_t i, last;
    p.positions_of(row0 + r, &i, &last);
    for (; i < last; ++i) writer.Write(st.out + size_t{p.positions[i]} * dim, src);
  }
}

}  // namespace

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
  st.pieces = CutPieces(*st.plan, RowsPerPiece(st.dim));
  for (const Piece& piece : st.pieces) {
    Message m = MakeMessage(wire::PULL, view_.my_rank);
    m.header.set_table_id(table_id);
    m.header.set_read_only(mode == PullMode::kReadOnly);
    m.AddFrame(KeyFrame(st.plan, piece.server, piece.first, piece.rows));
    st.replies.push_back(rpc_->Call(view_.layout.ServerRank(piece.server), std::move(m), timeout_));
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
  const size_t row_bytes = dim * sizeof(float);

  // Each row's gradient is the sum of its positions' in input order (so a
  // repeated key gets the same bits whatever the piece size), written once
  // into the piece's frame (chunk-sized allocations are reused from the heap,
  // where one buffer of a whole request would be fresh mmap'd pages).
  auto sum_piece = [&](const Piece& piece) {
    zmq::message_t values = AlignedFrame(piece.rows * row_bytes);
    float* dst = values.data<float>();
    const size_t row0 = p.server_begin[static_cast<size_t>(piece.server)] + piece.first;
    // The piece's positions are [ahead, end): their gradients are fetched
    // kAhead positions before they are added.
    size_t ahead, end, unused;
    p.positions_of(row0, &ahead, &unused);
    p.positions_of(row0 + piece.rows - 1, &unused, &end);
    constexpr size_t kAhead = 8;
    for (size_t r = 0; r < piece.rows; ++r, dst += dim) {
      size_t k, last;
      p.positions_of(row0 + r, &k, &last);
      for (; ahead < std::min(end, last + kAhead); ++ahead) {
        PrefetchRow(grads + size_t{p.positions[ahead]} * dim, row_bytes);
      }
      std::memcpy(dst, grads + size_t{p.positions[k]} * dim, row_bytes);
      for (++k; k < last; ++k) AddRow(grads + size_t{p.positions[k]} * dim, dim, dst);
    }
    return values;
  };
  if (!every_server) {
    // One PUSH per piece, sent as soon as it is summed: the server applies
    // piece k while the client sums k + 1.
    for (const Piece& piece : CutPieces(p, RowsPerPiece(st.dim))) {
      Message m = MakeMessage(wire::PUSH, view_.my_rank);
      m.header.set_table_id(table_id);
      m.header.set_clock(clock);
      m.AddFrame(KeyFrame(plan.data_, piece.server, piece.first, piece.rows));
      m.AddFrame(sum_piece(piece));
      st.replies.push_back(
          rpc_->Call(view_.layout.ServerRank(piece.server), std::move(m), timeout_));
    }
    return future;
  }
  // BSP aggregation: each server gets exactly one PUSH per worker and step,
  // its gradients in value chunks.
  const size_t per_chunk = RowsPerChunk(st.dim);
  for (int s = 0; s < servers; ++s) {
    Message m = MakeMessage(wire::PUSH, view_.my_rank);
    m.header.set_table_id(table_id);
    m.header.set_clock(clock);
    const size_t rows = p.rows_of(s);
    m.AddFrame(rows == 0 ? zmq::message_t() : KeyFrame(plan.data_, s, 0, rows));  // empty push
    for (size_t first = 0; first < rows; first += per_chunk) {
      m.AddFrame(sum_piece({s, first, std::min(per_chunk, rows - first)}));
    }
    st.replies.push_back(rpc_->Call(view_.layout.ServerRank(s), std::move(m), timeout_));
  }
  return future;
}

Status PsFuture::Wait() {
  if (!state_) return Internal("PsFuture::Wait on an empty or already waited future");
  std::unique_ptr<State> st = std::move(state_);
  if (!st->early.ok()) return st->early;
  Status first_error;
  for (size_t k = 0; k < st->replies.size(); ++k) {
    auto reply = st->replies[k].get();
    if (!reply.ok()) {
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    if (st->is_pull && first_error.ok()) {
      const Piece& piece = st->pieces[k];
      first_error = CheckValueChunks(*reply, 0, piece.rows, st->dim,
                                     "PULL reply from server " + std::to_string(piece.server));
      if (first_error.ok()) ScatterPiece(*st, piece, *reply);
    }
  }
  return first_error;
}

}  // namespace metaps
