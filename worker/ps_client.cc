#include "worker/ps_client.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/key_dedup.h"
#include "common/logging.h"
#include "common/partition.h"
#include "common/ps_messages.h"
#include "common/stream_copy.h"

namespace metaps {

// A request's distinct keys, grouped by server, and where each was asked for.
//
// Keys asked for once ("cold": the long tail of a skewed batch, and every key
// of a batch of distinct keys) and keys asked for more than once ("hot") are
// handled apart, so that every pass over the caller's arrays runs in input
// order: a cold row's one gradient is copied, and its pulled value written,
// at its position, and the cold rows of a server are in input order; the hot
// rows' gradients are summed, and their values written, in one pass over the
// hot positions in input order. (Gathering each hot row's gradients from all
// over the request instead, row by row, took 2.1-2.5 ms against the one
// pass's 1.5-1.9 ms for 65,536 Zipf keys at dim 64 in a microbenchmark.)
struct KeyPlan::Data {
  int servers = 0;  // the layout it was sliced for
  size_t n = 0;
  // The distinct keys grouped by server: server s owns rows
  // [server_begin[s], server_begin[s + 1]) of keys_by_server, its hot rows
  // first, up to hot_end[s], then its cold ones, each in first-seen order.
  // A "row" below is an index into keys_by_server.
  std::vector<uint64_t> keys_by_server;
  std::vector<size_t> server_begin;
  std::vector<size_t> hot_end;
  // A cold row's input position (unused for hot rows).
  std::vector<uint32_t> position;
  // Every position of a hot row, in input order, with the row; kFirst marks
  // the row's first position.
  static constexpr uint32_t kFirst = 1u << 31;
  struct HotUse {
    uint32_t position;
    uint32_t row_and_first;  // the row | kFirst
    uint32_t row() const { return row_and_first & ~kFirst; }
    bool first() const { return (row_and_first & kFirst) != 0; }
  };
  std::vector<HotUse> hot_uses;

  size_t num_rows() const { return keys_by_server.size(); }
  // Rows of server s (none in a default, empty plan).
  size_t rows_of(int s) const {
    if (server_begin.empty()) return 0;
    return server_begin[static_cast<size_t>(s) + 1] - server_begin[static_cast<size_t>(s)];
  }
};

namespace {

// Requests travel in pieces of about this many bytes of rows, each its own
// PULL or PUSH: the server works on piece k while piece k + 1 is in transit
// and the client fills (push) or scatters (pull) another, so the two
// processes and the two kernel copies of loopback overlap. A piece is at most
// one value chunk (common/ps_messages.h), so its message has one value frame.
constexpr size_t kPieceBytes = size_t{1} << 20;

// A streamed pull (PsClient::StreamPull) deduplicates its keys this many at a
// time, and sends the pieces filled by each segment before the next.
constexpr size_t kSegmentKeys = 4096;

size_t RowsPerPiece(int dim) {
  return std::min(RowsPerChunk(dim),
                  std::max<size_t>(1, kPieceBytes / (static_cast<size_t>(dim) * sizeof(float))));
}

// Rows [first, first + rows) of one server's slice, all hot or all cold.
struct Piece {
  int server;
  size_t first, rows;
  bool hot;
};

// Every server's hot rows, then every server's cold rows, cut into pieces of
// at most `per_piece` rows, taken round-robin over the servers so that each
// starts working at once.
std::vector<Piece> CutPieces(const KeyPlan::Data& p, size_t per_piece) {
  std::vector<Piece> pieces;
  for (bool hot : {true, false}) {
    for (size_t first = 0;; first += per_piece) {
      bool any = false;
      for (int s = 0; s < p.servers; ++s) {
        const size_t si = static_cast<size_t>(s);
        const size_t begin = hot ? 0 : p.hot_end[si] - p.server_begin[si];
        const size_t end = hot ? p.hot_end[si] - p.server_begin[si] : p.rows_of(s);
        if (begin + first >= end) continue;
        pieces.push_back({s, begin + first, std::min(per_piece, end - begin - first), hot});
        any = true;
      }
      if (!any) break;
    }
  }
  return pieces;
}

// The row index of a piece's first row.
size_t FirstRow(const KeyPlan::Data& p, const Piece& piece) {
  return p.server_begin[static_cast<size_t>(piece.server)] + piece.first;
}

inline void AddRow(const float* __restrict src, size_t dim, float* __restrict dst) {
  for (size_t d = 0; d < dim; ++d) dst[d] += src[d];
}

inline void PrefetchRow(const float* row, size_t bytes) {
  const char* c = reinterpret_cast<const char*>(row);
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b);
}

// Copies rows to the output with streaming stores when it is large.
struct RowWriter {
  RowWriter(size_t n, size_t dim)
      : row_bytes(dim * sizeof(float)),
        stream(ShouldStream(row_bytes, n * row_bytes)),
        stream_row(StreamRowFn()) {}
  void Write(float* dst, const float* src) const {
    if (stream) {
      stream_row(dst, src, row_bytes);
    } else {
      std::memcpy(dst, src, row_bytes);
    }
  }
  const size_t row_bytes;
  const bool stream;
  const RowCopyFn stream_row;
};

// Copies the gradients of cold rows [row0, row0 + rows) to dst, in order.
void CopyColdRows(const KeyPlan::Data& p, size_t row0, size_t rows, const float* grads, size_t dim,
                  float* dst) {
  constexpr size_t kAhead = 4;
  for (size_t r = 0; r < rows; ++r, dst += dim) {
    if (r + kAhead < rows) {
      PrefetchRow(grads + size_t{p.position[row0 + r + kAhead]} * dim, dim * sizeof(float));
    }
    std::memcpy(dst, grads + size_t{p.position[row0 + r]} * dim, dim * sizeof(float));
  }
}

// Sums every hot row's gradients, in input order, into dst_of[row].
void SumHotRows(const KeyPlan::Data& p, const float* grads, size_t dim,
                const std::vector<float*>& dst_of) {
  constexpr size_t kAhead = 8;
  const size_t uses = p.hot_uses.size();
  for (size_t k = 0; k < uses; ++k) {
    if (k + kAhead < uses) {
      PrefetchRow(grads + size_t{p.hot_uses[k + kAhead].position} * dim, dim * sizeof(float));
    }
    const KeyPlan::Data::HotUse& use = p.hot_uses[k];
    const float* g = grads + size_t{use.position} * dim;
    float* dst = dst_of[use.row()];
    if (use.first()) {
      std::memcpy(dst, g, dim * sizeof(float));
    } else {
      AddRow(g, dim, dst);
    }
  }
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
  // A pull sent while its keys were being deduplicated (the key-based Pull,
  // PullAndPlan): a piece is `rows` of server `server`'s distinct keys from
  // the `first`-th, in the order the server was sent them, and Wait writes
  // the output in input order, each segment of the input once its rows are in.
  struct Streamed {
    std::vector<uint32_t> inverse;  // input position -> distinct key; empty: identity
    size_t num_distinct = 0;
    // Server s's distinct keys (their indices), in the order it was sent them.
    std::vector<std::vector<uint32_t>> sent;
    // Segment c of the input ends at position ready_at[c]; positions before it
    // use only the first need[c * servers + s] rows of every server s.
    std::vector<size_t> ready_at;
    std::vector<size_t> need;
  };
  std::unique_ptr<Streamed> streamed;  // null for a pull of a plan, and a push
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

// The plan of n keys from their dedup: `unique[0..num_unique)` the distinct
// keys in first-seen order, `inverse[i]` key i's index among them (nullptr:
// the keys were distinct, inverse is the identity), and, when known,
// `server_of[u]` the server of unique[u]. Counts each distinct key's uses,
// orders each server's rows hot first, then records where each row was asked
// for in one pass over the input.
std::shared_ptr<KeyPlan::Data> LayOut(const uint32_t* inverse, const uint64_t* unique,
                                      size_t num_unique, size_t n, int servers,
                                      const uint32_t* server_of) {
  auto d = std::make_shared<KeyPlan::Data>();
  d->n = n;
  const size_t ns = static_cast<size_t>(servers);
  d->servers = servers;
  // Per distinct key, side by side so that the pass over the input reads one
  // word: how often it was asked for (hot: twice or more), and its row.
  struct KeyUse {
    uint32_t uses;
    uint32_t row;  // first its server
  };
  std::vector<KeyUse> key_use(num_unique, KeyUse{1, 0});
  const bool repeats = num_unique < n;
  if (repeats) {
    for (KeyUse& k : key_use) k.uses = 0;
    for (size_t i = 0; i < n; ++i) ++key_use[inverse[i]].uses;
  }
  std::vector<size_t> hot(ns, 0), cold(ns, 0);
  for (size_t u = 0; u < num_unique; ++u) {
    const size_t s =
        server_of != nullptr ? server_of[u] : static_cast<size_t>(KeyToServer(unique[u], servers));
    key_use[u].row = static_cast<uint32_t>(s);
    ++(key_use[u].uses > 1 ? hot : cold)[s];
  }
  d->server_begin.assign(ns + 1, 0);
  d->hot_end.resize(ns);
  std::vector<size_t> next_hot(ns), next_cold(ns);
  size_t hot_positions = n;
  for (size_t s = 0; s < ns; ++s) {
    d->server_begin[s + 1] = d->server_begin[s] + hot[s] + cold[s];
    d->hot_end[s] = next_cold[s] = d->server_begin[s] + hot[s];
    next_hot[s] = d->server_begin[s];
    hot_positions -= cold[s];
  }
  d->keys_by_server.resize(num_unique);
  for (size_t u = 0; u < num_unique; ++u) {
    KeyUse& k = key_use[u];
    k.row = static_cast<uint32_t>(k.uses > 1 ? next_hot[k.row]++ : next_cold[k.row]++);
    d->keys_by_server[k.row] = unique[u];
  }
  d->position.resize(num_unique);
  if (!repeats) {  // every key distinct: all cold
    for (size_t i = 0; i < n; ++i) {
      d->position[key_use[inverse == nullptr ? i : inverse[i]].row] = static_cast<uint32_t>(i);
    }
  } else {
    // Without branches (hot and cold positions interleave at random): every
    // position is written to `position` (a hot row's entry is unused) and to
    // the next HotUse, which only a hot position keeps.
    d->hot_uses.resize(hot_positions + 1);
    KeyPlan::Data::HotUse* hot_use = d->hot_uses.data();
    uint32_t* position = d->position.data();
    for (size_t i = 0; i < n; ++i) {
      KeyUse& k = key_use[inverse[i]];
      const uint32_t is_hot = k.uses != 1;
      position[k.row] = static_cast<uint32_t>(i);
      // A hot key's count gets the kFirst bit at its first use.
      *hot_use = {static_cast<uint32_t>(i), k.row | (~k.uses & KeyPlan::Data::kFirst)};
      hot_use += is_hot;
      k.uses |= is_hot << 31;
    }
    d->hot_uses.pop_back();
  }
  return d;
}

// One per thread: its table and key buffers are reused from call to call.
KeyDedup& ThreadDedup() {
  thread_local KeyDedup dedup;
  return dedup;
}

}  // namespace

PsFuture PsClient::TooManyKeys(size_t n) {
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  future.state_->early = InvalidArgument("a request of " + std::to_string(n) + " keys; at most " +
                                         std::to_string(kMaxRequestKeys));
  return future;
}

// Dedup (unless the caller vouches the keys are distinct), then the layout.
KeyPlan PsClient::Plan(const uint64_t* keys, size_t n, bool keys_unique) const {
  METAPS_CHECK(n <= kMaxRequestKeys);
  KeyPlan plan;
  const int servers = view_.layout.num_servers();
  if (keys_unique) {
    plan.data_ = LayOut(nullptr, keys, n, n, servers, nullptr);
    return plan;
  }
  std::vector<uint32_t> inverse(n);  // input position -> index among the distinct keys
  KeyDedup& dedup = ThreadDedup();
  dedup.Reset(n);
  dedup.Add(keys, n, inverse.data());
  plan.data_ =
      LayOut(inverse.data(), dedup.unique().data(), dedup.unique().size(), n, servers, nullptr);
  return plan;
}

PsFuture PsClient::Pull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                        bool keys_unique, PullMode mode) {
  return StreamPull(table_id, keys, n, out, keys_unique, mode, nullptr);
}

PsFuture PsClient::PullAndPlan(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                               KeyPlan* plan, bool keys_unique, PullMode mode) {
  return StreamPull(table_id, keys, n, out, keys_unique, mode, plan);
}

// The keys are deduplicated a segment at a time; after each segment, every
// server with a piece's worth of new distinct keys is sent that piece, so the
// servers gather the first rows while the client reads the rest of the keys.
// A piece's keys are copied into its frame (8 bytes a row, against 4 * dim
// coming back).
PsFuture PsClient::StreamPull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                              bool keys_unique, PullMode mode, KeyPlan* plan) {
  if (n > kMaxRequestKeys) return TooManyKeys(n);
  PsFuture future;
  future.state_ = std::make_unique<PsFuture::State>();
  PsFuture::State& st = *future.state_;
  st.is_pull = true;
  st.out = out;
  auto dim = Dim(table_id);
  if (!dim.ok()) {
    st.early = dim.status();
    if (plan != nullptr) *plan = Plan(keys, n, keys_unique);
    return future;
  }
  st.dim = *dim;
  const int servers = view_.layout.num_servers();
  const size_t ns = static_cast<size_t>(servers);
  const size_t per_piece = RowsPerPiece(st.dim);
  auto sp = std::make_unique<PsFuture::State::Streamed>();
  sp->sent.resize(ns);
  KeyDedup& dedup = ThreadDedup();
  if (!keys_unique) {
    sp->inverse.resize(n);
    dedup.Reset(n);
  }
  const uint64_t* unique = keys;    // the distinct keys so far, in first-seen order
  std::vector<uint32_t> server_of;  // per distinct key
  server_of.reserve(keys_unique ? n : n / 2);
  std::vector<size_t> unsent(ns, 0);  // server s's first distinct key not yet sent
  auto send = [&](size_t s, size_t rows) {
    const uint32_t* ids = sp->sent[s].data() + unsent[s];
    zmq::message_t frame(rows * sizeof(uint64_t));
    uint64_t* piece_keys = frame.data<uint64_t>();
    for (size_t r = 0; r < rows; ++r) piece_keys[r] = unique[ids[r]];
    Message m = MakeMessage(wire::PULL, view_.my_rank);
    m.header.set_table_id(table_base_ + table_id);
    m.header.set_read_only(mode == PullMode::kReadOnly);
    m.AddWritableFrame(std::move(frame));
    st.pieces.push_back({static_cast<int>(s), unsent[s], rows, false});
    st.replies.push_back(
        rpc_->Call(view_.layout.ServerRank(static_cast<int>(s)), std::move(m), timeout_));
    unsent[s] += rows;
  };
  size_t distinct = 0;
  for (size_t begin = 0; begin < n; begin += kSegmentKeys) {
    const size_t end = std::min(n, begin + kSegmentKeys);
    if (!keys_unique) {
      dedup.Add(keys + begin, end - begin, sp->inverse.data() + begin);
      unique = dedup.unique().data();  // Add may have moved it
    }
    const size_t seen = keys_unique ? end : dedup.unique().size();
    for (size_t u = distinct; u < seen; ++u) {
      const int s = KeyToServer(unique[u], servers);
      server_of.push_back(static_cast<uint32_t>(s));
      sp->sent[static_cast<size_t>(s)].push_back(static_cast<uint32_t>(u));
    }
    distinct = seen;
    sp->ready_at.push_back(end);
    for (size_t s = 0; s < ns; ++s) {
      const size_t rows = sp->sent[s].size();
      sp->need.push_back(rows);
      while (rows - unsent[s] >= per_piece) send(s, per_piece);
      if (end == n && rows > unsent[s]) send(s, rows - unsent[s]);
    }
  }
  sp->num_distinct = distinct;
  // The plan for the pushes that follow, laid out while the servers work.
  if (plan != nullptr) {
    plan->data_ = LayOut(keys_unique ? nullptr : sp->inverse.data(), unique, distinct, n, servers,
                         server_of.data());
  }
  st.streamed = std::move(sp);
  return future;
}

PsFuture PsClient::Push(uint32_t table_id, const uint64_t* keys, size_t n, const float* grads,
                        int64_t clock, bool every_server, bool keys_unique) {
  if (n > kMaxRequestKeys) return TooManyKeys(n);
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
    m.header.set_table_id(table_base_ + table_id);
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

  // Value frames are allocated per piece (chunk-sized allocations are reused
  // from the heap, where one buffer of a whole request would be fresh mmap'd
  // pages). A repeated key's gradient is the sum of its positions' in input
  // order, so it has the same bits however the request is cut.
  auto make_push = [&](int server, size_t first, size_t rows) {
    Message m = MakeMessage(wire::PUSH, view_.my_rank);
    m.header.set_table_id(table_base_ + table_id);
    m.header.set_clock(clock);
    m.AddFrame(rows == 0 ? zmq::message_t() : KeyFrame(plan.data_, server, first, rows));
    return m;
  };
  // Hot rows: where their sums go (indexed by row, so only with hot rows).
  std::vector<float*> dst_of(p.hot_uses.empty() ? 0 : p.num_rows());
  if (!every_server) {
    // One PUSH per piece: cold pieces go as soon as they are copied, so the
    // server applies them while the client sums the hot rows; the hot
    // pieces follow.
    std::vector<std::pair<Piece, Message>> hot;
    for (const Piece& piece : CutPieces(p, RowsPerPiece(st.dim))) {
      Message m = make_push(piece.server, piece.first, piece.rows);
      zmq::message_t values = AlignedFrame(piece.rows * row_bytes);
      if (piece.hot) {
        float* dst = values.data<float>();
        for (size_t r = 0; r < piece.rows; ++r) dst_of[FirstRow(p, piece) + r] = dst + r * dim;
        m.AddWritableFrame(std::move(values));
        hot.emplace_back(piece, std::move(m));
        continue;
      }
      CopyColdRows(p, FirstRow(p, piece), piece.rows, grads, dim, values.data<float>());
      m.AddWritableFrame(std::move(values));
      st.replies.push_back(
          rpc_->Call(view_.layout.ServerRank(piece.server), std::move(m), timeout_));
    }
    SumHotRows(p, grads, dim, dst_of);
    for (auto& [piece, m] : hot) {
      st.replies.push_back(
          rpc_->Call(view_.layout.ServerRank(piece.server), std::move(m), timeout_));
    }
    return future;
  }
  // BSP aggregation: each server gets exactly one PUSH per worker and step,
  // its gradients in value chunks.
  const size_t per_chunk = RowsPerChunk(st.dim);
  std::vector<Message> messages;
  for (int s = 0; s < servers; ++s) {
    const size_t rows = p.rows_of(s);
    messages.push_back(make_push(s, 0, rows));  // an empty push when it owns no keys
    if (rows == 0) continue;
    const size_t row0 = p.server_begin[static_cast<size_t>(s)];
    const size_t hot_rows = p.hot_end[static_cast<size_t>(s)] - row0;
    for (size_t first = 0; first < rows; first += per_chunk) {
      const size_t chunk_rows = std::min(per_chunk, rows - first);
      zmq::message_t values = AlignedFrame(chunk_rows * row_bytes);
      float* dst = values.data<float>();
      for (size_t r = first; r < std::min(first + chunk_rows, hot_rows); ++r) {
        dst_of[row0 + r] = dst + (r - first) * dim;
      }
      if (first + chunk_rows > hot_rows) {
        const size_t cold_first = std::max(first, hot_rows);
        CopyColdRows(p, row0 + cold_first, first + chunk_rows - cold_first, grads, dim,
                     dst + (cold_first - first) * dim);
      }
      messages.back().AddWritableFrame(std::move(values));
    }
  }
  SumHotRows(p, grads, dim, dst_of);
  for (int s = 0; s < servers; ++s) {
    st.replies.push_back(rpc_->Call(view_.layout.ServerRank(s),
                                    std::move(messages[static_cast<size_t>(s)]), timeout_));
  }
  return future;
}

// A streamed pull: each reply's rows are noted by distinct key, then every
// segment of the input whose rows are all in is written, in input order: the
// output is written front to back, while later pieces are still in transit.
Status PsFuture::WaitStreamed(State& st) {
  const State::Streamed& sp = *st.streamed;
  const size_t dim = static_cast<size_t>(st.dim);
  const size_t n = sp.ready_at.empty() ? 0 : sp.ready_at.back();
  const size_t ns = sp.sent.size();
  const RowWriter writer(n, dim);
  const uint32_t* inverse = sp.inverse.empty() ? nullptr : sp.inverse.data();
  std::vector<const float*> src_of(sp.num_distinct);  // each distinct key's row, once in
  std::vector<size_t> delivered(ns, 0);               // rows of server s in, in sent order
  std::vector<Message> held;                          // keeps the rows alive
  held.reserve(st.replies.size());
  auto write = [&](size_t begin, size_t end) {
    constexpr size_t kAhead = 16;
    for (size_t i = begin; i < end; ++i) {
      if (i + kAhead < end) {
        const size_t ahead = i + kAhead;
        PrefetchRow(src_of[inverse != nullptr ? inverse[ahead] : ahead], writer.row_bytes);
      }
      writer.Write(st.out + i * dim, src_of[inverse != nullptr ? inverse[i] : i]);
    }
  };
  Status first_error;
  size_t segment = 0, written = 0;
  for (size_t k = 0; k < st.replies.size(); ++k) {
    auto reply = st.replies[k].get();
    if (!reply.ok()) {
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    if (!first_error.ok()) continue;
    const Piece& piece = st.pieces[k];
    const size_t s = static_cast<size_t>(piece.server);
    first_error = CheckValueChunks(*reply, 0, piece.rows, st.dim,
                                   "PULL reply from server " + std::to_string(piece.server));
    if (!first_error.ok()) continue;
    const float* src = reply->FrameAs<float>(0);
    const uint32_t* ids = sp.sent[s].data() + piece.first;
    for (size_t r = 0; r < piece.rows; ++r) src_of[ids[r]] = src + r * dim;
    delivered[s] = piece.first + piece.rows;  // a server's pieces are waited for in order
    held.push_back(std::move(reply).value());
    for (; segment < sp.ready_at.size(); ++segment) {
      bool ready = true;
      for (size_t t = 0; t < ns; ++t) ready &= sp.need[segment * ns + t] <= delivered[t];
      if (!ready) break;
      write(written, sp.ready_at[segment]);
      written = sp.ready_at[segment];
    }
  }
  if (writer.stream) StreamFence();
  return first_error;
}

Status PsFuture::Wait() {
  if (!state_) return Internal("PsFuture::Wait on an empty or already waited future");
  std::unique_ptr<State> st = std::move(state_);
  if (!st->early.ok()) return st->early;
  if (st->streamed != nullptr) return WaitStreamed(*st);
  Status first_error;
  const bool scatter = st->is_pull && st->plan != nullptr;
  const KeyPlan::Data no_keys;
  const KeyPlan::Data& p = scatter ? *st->plan : no_keys;
  const size_t dim = static_cast<size_t>(st->dim);
  const RowWriter writer(p.n, dim);
  // Pull: a cold piece's rows are written to their positions as it arrives;
  // the hot pieces come first and are written together, in input order,
  // once the last of them is in (while cold pieces are in transit).
  // Hot rows' values (indexed by row, so only with hot rows).
  std::vector<const float*> src_of(p.hot_uses.empty() ? 0 : p.num_rows());
  std::vector<Message> hot_replies;
  size_t hot_left = 0;
  for (const Piece& piece : st->pieces) hot_left += piece.hot;
  auto write_hot = [&] {
    // The received rows were written by the I/O thread, often on the other core.
    constexpr size_t kAhead = 8;
    const size_t uses = p.hot_uses.size();
    for (size_t k = 0; k < uses; ++k) {
      if (k + kAhead < uses) {
        PrefetchRow(src_of[p.hot_uses[k + kAhead].row()], writer.row_bytes);
      }
      const KeyPlan::Data::HotUse& use = p.hot_uses[k];
      writer.Write(st->out + size_t{use.position} * dim, src_of[use.row()]);
    }
  };
  for (size_t k = 0; k < st->replies.size(); ++k) {
    auto reply = st->replies[k].get();
    if (!reply.ok()) {
      if (first_error.ok()) first_error = reply.status();
      continue;
    }
    if (!scatter || !first_error.ok()) continue;
    const Piece& piece = st->pieces[k];
    first_error = CheckValueChunks(*reply, 0, piece.rows, st->dim,
                                   "PULL reply from server " + std::to_string(piece.server));
    if (!first_error.ok()) continue;
    const float* src = reply->FrameAs<float>(0);
    const size_t row0 = FirstRow(p, piece);
    if (!piece.hot) {
      for (size_t r = 0; r < piece.rows; ++r, src += dim) {
        writer.Write(st->out + size_t{p.position[row0 + r]} * dim, src);
      }
      continue;
    }
    for (size_t r = 0; r < piece.rows; ++r) src_of[row0 + r] = src + r * dim;
    hot_replies.push_back(std::move(reply).value());  // keeps the rows alive
    if (--hot_left == 0) write_hot();
  }
  if (writer.stream) StreamFence();
  return first_error;
}

Status PsClient::CallEveryServer(const Message& request, const std::string& what) {
  std::vector<std::pair<int, std::future<StatusOr<Message>>>> replies;
  for (int s = 0; s < view_.layout.num_servers(); ++s) {
    Message m;
    m.header = request.header;
    const int rank = view_.layout.ServerRank(s);
    replies.emplace_back(rank, rpc_->Call(rank, std::move(m), timeout_));
  }
  Status first_error;
  for (auto& [rank, future] : replies) {
    StatusOr<Message> reply = future.get();
    Status status = reply.ok() ? ReplyStatus(reply->header) : reply.status();
    if (!status.ok() && first_error.ok()) {
      first_error = Status(status.code(),
                           what + " on " + view_.layout.Describe(rank) + ": " + status.message());
    }
  }
  return first_error;
}

Status PsClient::CreateTable(const TableSpec& spec, uint64_t job_seed, int64_t clock_origin) {
  const uint64_t wire_id = uint64_t{table_base_} + spec.id;
  if (wire_id > UINT32_MAX) {
    return InvalidArgument("table '" + spec.name + "': table base " + std::to_string(table_base_) +
                           " + id " + std::to_string(spec.id) + " is over 2^32 - 1");
  }
  TableCreateRequest create;
  create.spec = spec;
  create.spec.id = static_cast<uint32_t>(wire_id);
  create.job_seed = job_seed;
  create.clock_origin = clock_origin;
  RETURN_IF_ERROR(ValidateTableSpec(create.spec));
  Message m = MakeMessage(wire::TABLE_CREATE, view_.my_rank);
  m.header.set_table_id(create.spec.id);
  m.header.mutable_control()->set_payload(EncodeTableCreate(create));
  RETURN_IF_ERROR(CallEveryServer(
      m, "TABLE_CREATE of table " + std::to_string(wire_id) + " ('" + spec.name + "')"));
  AddTable(spec.id, spec.dim);
  return Status::Ok();
}

Status PsClient::DropTable(uint32_t table_id) {
  const uint64_t wire_id = uint64_t{table_base_} + table_id;
  if (wire_id > UINT32_MAX) {
    return InvalidArgument("table base " + std::to_string(table_base_) + " + id " +
                           std::to_string(table_id) + " is over 2^32 - 1");
  }
  Message m = MakeMessage(wire::TABLE_DROP, view_.my_rank);
  m.header.set_table_id(static_cast<uint32_t>(wire_id));
  RETURN_IF_ERROR(CallEveryServer(m, "TABLE_DROP of table " + std::to_string(wire_id)));
  RemoveTable(table_id);
  return Status::Ok();
}

Status WaitAll(std::vector<PsFuture>* futures) {
  Status status;
  for (auto& f : *futures) status.Update(f.Wait());
  futures->clear();
  return status;
}

}  // namespace metaps
