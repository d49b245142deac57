// The worker's view of the parameter servers: asynchronous Pull and Push of
// embedding rows by key.
//
// Each call dedups its keys, slices the unique keys by owning server
// (KeyToServer), and returns a PsFuture. A KeyPlan holds that dedup and
// slicing, and where each distinct key was asked for, so that the Pull and the
// Push of the same keys (a training step's rows, then their gradients) do it
// once. A call travels in pieces of about 1 MiB of rows, each its own request,
// so that client, server and both kernel copies work at once: the server
// gathers (or applies) piece k while piece k + 1 is in transit and the client
// scatters (or sums) another. Pull's Wait() writes the rows to their
// positions in the caller's order as their pieces arrive; Push sums the
// gradients of repeated keys (in input order) before sending, so each key is
// updated once per call. Values are copied exactly once on each side: into
// the send buffer, and out of the received frame; key frames go out of the
// plan without a copy.
//
// Thread-safety: calls may come from several threads; all per-call state lives
// in the PsFuture, and a plan is immutable (but one KeyPlan object must not be
// assigned while another thread reads it). `keys` and `grads` are used up
// before a call returns; the caller keeps `out` alive until Wait() returns.
#pragma once

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <vector>

#include "common/cluster.h"
#include "common/rpc.h"
#include "ps/table_spec.h"

namespace metaps {

class PsFuture {
 public:
  PsFuture();
  ~PsFuture();
  PsFuture(PsFuture&&) noexcept;
  PsFuture& operator=(PsFuture&&) noexcept;
  // Waits for every server's reply; for Pull, fills the output (on an error,
  // the output may be partly written). Call once.
  Status Wait();
  bool valid() const { return state_ != nullptr; }

 private:
  friend class PsClient;
  struct State;
  static Status WaitStreamed(State& st);
  std::unique_ptr<State> state_;
};

// The keys of one request, deduplicated and sliced by server: made by
// PsClient::Plan, immutable, shared by the calls (and their futures) that use
// it. Copying one is cheap. It fits the layout of the client that made it; a
// call with a plan for another number of servers fails with InvalidArgument.
// Waits for every future (each exactly once), clears the list, and returns
// the first error.
Status WaitAll(std::vector<PsFuture>* futures);

class KeyPlan {
 public:
  KeyPlan();
  ~KeyPlan();
  KeyPlan(const KeyPlan&);
  KeyPlan& operator=(const KeyPlan&);
  KeyPlan(KeyPlan&&) noexcept;
  KeyPlan& operator=(KeyPlan&&) noexcept;
  size_t size() const;        // the keys planned, repeats included
  size_t num_unique() const;  // the distinct keys among them

  struct Data;  // opaque: defined in ps_client.cc

 private:
  friend class PsClient;
  std::shared_ptr<const Data> data_;
};

class PsClient {
 public:
  // `rpc` must be connected to every server; borrowed.
  PsClient(RpcClient* rpc, const ClusterView& view,
           std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

  // A table namespace (a model selection trial's): every table id this
  // client's calls take is logical, and travels as table_base() + id. 0 (the
  // default): ids are the servers'. REQUIRES: no call in flight; base + id
  // stays below 2^32 for every id used.
  void set_table_base(uint32_t base) { table_base_ = base; }
  uint32_t table_base() const { return table_base_; }

  // Creates table table_base() + spec.id (spec.id logical) on every server
  // (TABLE_CREATE, over CURVE), its rows seeded from `job_seed` (and
  // spec.seed_id) and its clock starting at `clock_origin`, then declares it
  // here (AddTable). Waits for every server; the first error names the
  // server. Retrying after an error is safe: a server that already holds
  // the same table answers OK. REQUIRES: a worker's client (servers refuse
  // other ranks).
  Status CreateTable(const TableSpec& spec, uint64_t job_seed, int64_t clock_origin);
  // Drops table table_base() + id on every server (TABLE_DROP), then forgets
  // it here (RemoveTable). NotFound from a server that does not hold it.
  // REQUIRES: no call on it in flight.
  Status DropTable(uint32_t table_id);

  // Declares a table's dimension. REQUIRES: before any call on it.
  void AddTable(uint32_t table_id, int dim) { dims_[table_id] = dim; }
  // Forgets a table (dropped on the servers): calls on it fail here.
  // REQUIRES: no call on it in flight.
  void RemoveTable(uint32_t table_id) { dims_.erase(table_id); }

  // Row arrays (a pull's `out`, a push's `grads`) may have any alignment; on
  // 64-byte-aligned arrays (AlignedVector) a row of a multiple of 16 floats is
  // whole cache lines, read and written without sharing a line with its
  // neighbours: bench-ps at dim 64 ran 10% faster each way with them than
  // the same build without (6 paired rounds, 2026-12-06).

  // Rows of keys[0..n) into out[0..n*dim), in the caller's order.
  // `keys_unique`: the caller guarantees distinct keys (e.g. an
  // EmbeddingBatch's), so the per-call dedup is skipped. kReadOnly (for
  // evaluation) leaves the tables as they were: keys without a row read as
  // their initial value and are neither created nor counted for admission.
  enum class PullMode { kTrain, kReadOnly };
  PsFuture Pull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                bool keys_unique = false, PullMode mode = PullMode::kTrain);
  // Applies grads[i*dim..] to keys[i] on the servers; repeated keys are summed.
  // `clock` is the worker's step, recorded by the servers as the rows' last use.
  // With `every_server`, servers that own none of the keys get an empty PUSH
  // too: under BSP aggregation each server waits for one push per worker per
  // step (see ParameterServer::EnableBspAggregation).
  PsFuture Push(uint32_t table_id, const uint64_t* keys, size_t n, const float* grads,
                int64_t clock, bool every_server = false, bool keys_unique = false);

  // The same with the dedup and slicing done once, by Plan, for any number of
  // Pulls and Pushes of keys[0..n) (which need not outlive the plan). `out` and
  // `grads` have plan.size() rows, in the order of the planned keys.
  // REQUIRES: n <= kMaxRequestKeys (the key-based calls return an error).
  KeyPlan Plan(const uint64_t* keys, size_t n, bool keys_unique = false) const;
  // Positions and rows are 31-bit indices in a plan.
  static constexpr size_t kMaxRequestKeys = (size_t{1} << 31) - 1;
  PsFuture Pull(uint32_t table_id, const KeyPlan& plan, float* out,
                PullMode mode = PullMode::kTrain);
  PsFuture Push(uint32_t table_id, const KeyPlan& plan, const float* grads, int64_t clock,
                bool every_server = false);

  // Pull(table_id, keys, n, out, ...) that also makes the keys' plan, for the
  // Pushes of the same keys that follow (a step's pull, then its push): *plan
  // is ready when this returns. It pulls as the key-based Pull does, with the
  // servers' pieces sent while the keys are still being deduplicated, and the
  // plan is laid out while the servers answer.
  PsFuture PullAndPlan(uint32_t table_id, const uint64_t* keys, size_t n, float* out, KeyPlan* plan,
                       bool keys_unique = false, PullMode mode = PullMode::kTrain);

 private:
  PsFuture StreamPull(uint32_t table_id, const uint64_t* keys, size_t n, float* out,
                      bool keys_unique, PullMode mode, KeyPlan* plan);
  StatusOr<int> Dim(uint32_t table_id) const;
  static PsFuture TooManyKeys(size_t n);  // an error future
  // Sends `request` to every server and waits for each reply.
  Status CallEveryServer(const Message& request, const std::string& what);

  RpcClient* rpc_;
  const ClusterView& view_;
  std::chrono::milliseconds timeout_;
  std::map<uint32_t, int> dims_;  // by logical id
  uint32_t table_base_ = 0;
};

}  // namespace metaps
