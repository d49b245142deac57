// The parameter-server role: one shard of every table, served on an RpcServer.
//
// PULL and PUSH follow common/ps_messages.h. Every request is answered: an
// unknown table, a key this server does not own, or frames that do not match
// the table's dim get an error reply naming the problem, never a crash.
// Requests are handled on the RpcServer's loop thread, in arrival order, so a
// PUSH reply means the gradients are applied.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "common/cluster.h"
#include "common/env.h"
#include "common/rpc.h"
#include "common/scheduler_client.h"
#include "ps/checkpoint.h"
#include "ps/embedding_table.h"

namespace metaps {

struct ServerStats {
  uint64_t pull_requests = 0, push_requests = 0;
  uint64_t pulled_rows = 0, pushed_rows = 0;
  uint64_t rejected = 0;       // requests answered with an error
  uint64_t role_dropped = 0;   // PUSH/PULL from a rank that is not a worker
  uint64_t clock_dropped = 0;  // PUSH whose clock is outside the window
  uint64_t held_expired = 0;   // BSP pushes of a step that can no longer complete
};

// What a PUSH's clock may be, relative to its table's clock (the highest
// clock of an accepted push of that table, starting at the job's first step,
// or at the clock a table created at run time was given: trials at different
// steps share the servers). A worker's
// clock grows by one a step, so a legitimate push is never more than a step
// ahead of the fastest worker's previous one, plus the steps in which that
// worker had no keys on this server: kDefaultClockLead covers that. Behind:
// under SSP with bound s a worker is at most s steps behind the fastest; under
// ASP there is no bound (lag < 0). Under BSP the window is the step being
// aggregated (it may repeat: an epoch's end pushes the next step's clock
// empty) and the next one; older clocks are refused.
struct ClockWindow {
  static constexpr int64_t kDefaultClockLead = 64;
  int64_t lead = kDefaultClockLead;
  int64_t lag = -1;  // < 0: unbounded (ASP)
  // The window for a job's consistency: staleness 0 = BSP, s > 0 = SSP, < 0 = ASP.
  static ClockWindow ForStaleness(int64_t staleness);
};

class ParameterServer {
 public:
  ParameterServer(RpcServer* rpc, const ClusterView& view) : rpc_(rpc), view_(view) {}
  // Stops the RpcServer: its handler points at this object.
  ~ParameterServer() { rpc_->Stop(); }
  ParameterServer(const ParameterServer&) = delete;
  ParameterServer& operator=(const ParameterServer&) = delete;

  // BSP with several workers: hold each (table, clock)'s pushes until all
  // `num_workers` workers have pushed it (empty pushes count), then apply them
  // in worker-rank order and acknowledge them. Order-sensitive optimizers
  // (Adagrad, Adam, FTRL) then give the same tables on every rerun. A table
  // whose spec has bsp_pushers > 0 uses that count instead (over 1:
  // aggregated even when this is 0 or 1; 1: applied as they arrive).
  // REQUIRES: before Start(); every worker pushes every table to every server
  // once per clock (PsClient::Push with every_server).
  void EnableBspAggregation(int num_workers) { bsp_workers_ = num_workers; }
  // Sets which PUSH clocks are accepted (see ClockWindow); the default accepts
  // up to kDefaultClockLead ahead and any clock behind. REQUIRES: before Start().
  void SetClockWindow(const ClockWindow& window) { window_ = window; }
  // The job's clock starts at `step` (a resumed job's restored step): every
  // table's clock is raised to it. REQUIRES: before Start(), or the job is
  // quiesced.
  void SetClockOrigin(int64_t step);
  // The highest clock of all tables (each table keeps its own). Thread-safe.
  int64_t clock() const { return clock_.load(std::memory_order_relaxed); }
  // Tables one server holds at most (TABLE_CREATE beyond it: ResourceExhausted).
  static constexpr size_t kMaxTables = 4096;

  // Creates this server's shard of a table. REQUIRES: before Start().
  Status AddTable(const TableSpec& spec, uint64_t job_seed);
  // Tables at run time (model selection's trials, each in its own table
  // namespace): thread-safe, but not from a request handler. While serving,
  // the change runs on the loop thread between two requests, so a request
  // sees a table whole or not at all. CreateTable: AlreadyExists for an id in
  // use. DropTable frees the table's rows, optimizer state and index (its
  // slabs go back to the OS), answers its held BSP pushes Aborted, and later
  // requests for the id get "no table id"; NotFound for an unknown id.
  // Its clock (and last completed BSP step) starts at the server's origin.
  Status CreateTable(const TableSpec& spec, uint64_t job_seed);
  // The same with the table's clock starting at `clock_origin` (a trial
  // created at its own step 0 on servers other trials pushed far ahead).
  Status CreateTable(const TableSpec& spec, uint64_t job_seed, int64_t clock_origin);
  Status DropTable(uint32_t id);
  // The ids of the tables held now, and the memory they hold (TableStats::bytes
  // summed). Thread-safe, not from a request handler.
  std::vector<uint32_t> TableIds();
  size_t TableBytes();
  // BSP pushes held for the other workers now. Thread-safe, not from a handler.
  size_t HeldPushes();
  // Starts serving on the RpcServer's loop thread.
  void Start();
  // Stops serving; the tables stay readable (for export after the job).
  void Stop() {
    rpc_->Stop();
    serving_ = false;
  }

  // Called on the loop thread for every validated request.
  void Handle(const PeerAddress& from, Message request);
  // Called on the loop thread when a client's TCP connection closed (the
  // RpcServer watches connections): if it was a worker's, every held BSP push
  // is answered Aborted, since no held step can complete without that worker.
  void OnDisconnect(int fd);

  // Writes this server's shard of every table under `root`/step-<step>/ and,
  // on server 0 once every server's file is known, the manifest (last). A
  // collective of all servers. REQUIRES: no pushes in flight (the job is
  // quiesced), or the snapshot mixes steps.
  Status SaveCheckpoint(Env* env, SchedulerClient* scheduler, const std::string& root, int64_t step,
                        const std::string& job_name);
  // Loads the checkpoint of `step` under `root` (-1: the latest), keeping the
  // rows this server owns among the current number of servers (any count, not
  // only the saved one). The tables are replaced by fresh ones holding only the
  // checkpoint's rows, so it also rolls a serving job back (early stopping
  // restores the best step). Returns the restored step. REQUIRES: the tables
  // are declared as in the checkpoint; before Start(), or no request in flight
  // until the caller's next collective (the job is quiesced, as for a save).
  StatusOr<int64_t> RestoreCheckpoint(Env* env, const std::string& root, int64_t step = -1);

  // Writes this server's shard of tables[i].id in the export format
  // (ExportEmbeddings), recorded as tables[i].as_id and as_name: a trial's
  // tables export as a plain job's. Thread-safe while serving (the rows are
  // read on the loop thread, between two requests); not from a handler.
  // NotFound for an id this server does not hold.
  using ExportAs = metaps::ExportAs;
  Status ExportTablesAs(Env* env, const std::string& path, const std::vector<ExportAs>& tables);

  // REQUIRES: serving stopped or the caller tolerates concurrent updates.
  std::vector<const EmbeddingTable*> tables() const;
  ServerStats stats() const { return stats_; }  // REQUIRES: serving stopped

 private:
  Status HandlePull(const Message& request, Message* reply);
  Status HandlePush(const Message& request);
  void HoldPush(const PeerAddress& from, Message request);
  // OK when a PUSH at `clock` for `table_id` is within the window.
  Status CheckClock(uint32_t table_id, int64_t clock) const;
  // The workers whose pushes of a clock are aggregated (<= 1: none).
  int PushersOf(uint32_t table_id) const;
  // On the loop thread: adds `table` with its clock at `clock_origin`.
  // `retry_ok`: an id held with the same spec and seed is OK (TABLE_CREATE).
  Status InsertTable(std::unique_ptr<EmbeddingTable> table, int64_t clock_origin, bool retry_ok);
  // On the loop thread: removes table `id`, answering its held pushes, and
  // hands it to *dropped (to be freed by the caller).
  Status RemoveTable(uint32_t id, std::unique_ptr<EmbeddingTable>* dropped);
  // TABLE_CREATE and TABLE_DROP (from a worker).
  Status HandleTableCreate(const PeerAddress& from, const Message& request);
  Status HandleTableDrop(const Message& request);
  // Runs eviction on tables that have a policy, every evict_after_steps / 4
  // clocks (each run scans the table).
  void MaybeEvict(EmbeddingTable* table, int64_t clock);
  StatusOr<EmbeddingTable*> Lookup(const wire::Header& h);
  Status CheckKeys(const Message& request, const uint64_t** keys, size_t* n) const;

  // Runs `task` on the loop thread while serving (and waits), else here.
  Status OnLoop(const std::function<Status()>& task);

  RpcServer* rpc_;
  const ClusterView& view_;
  std::atomic<bool> serving_{false};
  std::map<uint32_t, std::unique_ptr<EmbeddingTable>> tables_;
  std::map<uint32_t, int64_t> last_eviction_clock_;
  struct HeldPush {
    PeerAddress from;
    Message request;
  };
  int bsp_workers_ = 0;  // 0: apply pushes as they arrive
  // (table, clock) -> worker rank -> its push, until every worker's is in.
  // Bounded: only clocks in [completed, completed + 2] of a table are held.
  std::map<std::pair<uint32_t, int64_t>, std::map<int, HeldPush>> held_;
  std::map<uint32_t, int64_t> bsp_completed_;  // table -> last aggregated clock
  std::map<uint32_t, int64_t> table_clock_;    // table -> highest accepted PUSH clock
  std::map<int, int> worker_fd_;               // worker rank -> its connection (tcp)
  void ExpireHeld(const std::string& why);
  ClockWindow window_;
  int64_t origin_ = 0;  // the job's first clock - 1
  // The highest table clock (or origin_); written on the loop thread only.
  std::atomic<int64_t> clock_{0};
  void RaiseClock(int64_t clock) {
    if (clock > clock_.load(std::memory_order_relaxed)) {
      clock_.store(clock, std::memory_order_relaxed);
    }
  }
  ServerStats stats_;
};

}  // namespace metaps
