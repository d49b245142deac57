#include "ps/server.h"

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "common/control.h"
#include "common/logging.h"
#include "common/partition.h"
#include "common/ps_messages.h"
#include "ps/checkpoint.h"

namespace metaps {

Status ParameterServer::AddTable(const TableSpec& spec, uint64_t job_seed) {
  if (tables_.count(spec.id)) {
    return InvalidArgument("table id " + std::to_string(spec.id) + " declared twice");
  }
  ASSIGN_OR_RETURN(auto table, EmbeddingTable::Create(spec, job_seed));
  tables_[spec.id] = std::move(table);
  table_clock_[spec.id] = origin_;
  return Status::Ok();
}

Status ParameterServer::OnLoop(const std::function<Status()>& task) {
  if (!serving_) return task();
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  rpc_->Post([task, done] { done->set_value(task()); });
  // Stop() joins the loop before it clears serving_: once serving_ is false
  // the task has run or never will.
  while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (!serving_ && result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      return Unavailable(view_.layout.Describe(view_.my_rank) + " stopped serving");
    }
  }
  return result.get();
}

Status ParameterServer::CreateTable(const TableSpec& spec, uint64_t job_seed) {
  return CreateTable(spec, job_seed, origin_);
}

Status ParameterServer::CreateTable(const TableSpec& spec, uint64_t job_seed,
                                    int64_t clock_origin) {
  // The table is built (and validated) here; only the insertion runs on the loop.
  auto table = EmbeddingTable::Create(spec, job_seed);
  if (!table.ok()) return table.status();
  // Carried to the loop thread; freed with the task if it never runs.
  auto made = std::make_shared<std::unique_ptr<EmbeddingTable>>(std::move(table).value());
  return OnLoop([this, made, clock_origin]() -> Status {
    return InsertTable(std::move(*made), clock_origin, /*retry_ok=*/false);
  });
}

Status ParameterServer::InsertTable(std::unique_ptr<EmbeddingTable> table, int64_t clock_origin,
                                    bool retry_ok) {
  const uint32_t id = table->spec().id;
  auto it = tables_.find(id);
  if (it != tables_.end()) {
    if (retry_ok && SameTableSpec(it->second->spec(), table->spec()) &&
        it->second->job_seed() == table->job_seed()) {
      return Status::Ok();
    }
    return Status(StatusCode::kAlreadyExists,
                  "table id " + std::to_string(id) + " exists on " +
                      view_.layout.Describe(view_.my_rank) +
                      (retry_ok ? " with another spec (dim, optimizer, initializer or seed)" : ""));
  }
  if (tables_.size() >= kMaxTables) {
    return ResourceExhausted(
        view_.layout.Describe(view_.my_rank) + " holds " + std::to_string(tables_.size()) +
        " tables, the most it may (table id " + std::to_string(id) + " refused)");
  }
  tables_[id] = std::move(table);
  table_clock_[id] = clock_origin;
  bsp_completed_[id] = clock_origin;
  last_eviction_clock_[id] = clock_origin;
  RaiseClock(clock_origin);
  return Status::Ok();
}

Status ParameterServer::RemoveTable(uint32_t id, std::unique_ptr<EmbeddingTable>* dropped) {
  auto it = tables_.find(id);
  if (it == tables_.end()) {
    return NotFound(view_.layout.Describe(view_.my_rank) + " has no table id " +
                    std::to_string(id));
  }
  *dropped = std::move(it->second);
  tables_.erase(it);
  last_eviction_clock_.erase(id);
  bsp_completed_.erase(id);
  table_clock_.erase(id);
  for (auto held = held_.begin(); held != held_.end();) {
    if (held->first.first != id) {
      ++held;
      continue;
    }
    for (auto& [rank, push] : held->second) {
      stats_.held_expired++;
      rpc_->Reply(push.from, MakeReply(push.request.header, view_.my_rank,
                                       Aborted("table " + std::to_string(id) + " was dropped")));
    }
    held = held_.erase(held);
  }
  return Status::Ok();
}

Status ParameterServer::DropTable(uint32_t id) {
  std::unique_ptr<EmbeddingTable> dropped;
  RETURN_IF_ERROR(OnLoop([this, id, &dropped]() { return RemoveTable(id, &dropped); }));
  dropped.reset();  // freed here, off the loop thread
  return Status::Ok();
}

Status ParameterServer::HandleTableCreate(const PeerAddress& from, const Message& request) {
  const std::string who = "TABLE_CREATE from rank " + std::to_string(from.rank);
  ASSIGN_OR_RETURN(TableCreateRequest create,
                   DecodeTableCreate(request.header.control().payload(), who));
  if (create.spec.id != request.header.table_id()) {
    return InvalidArgument(who + ": header table_id " + std::to_string(request.header.table_id()) +
                           " but the payload's id is " + std::to_string(create.spec.id));
  }
  if (!tables_.count(create.spec.id) && tables_.size() >= kMaxTables) {
    return ResourceExhausted(
        view_.layout.Describe(view_.my_rank) + " holds " + std::to_string(tables_.size()) +
        " tables, the most it may (table id " + std::to_string(create.spec.id) + " refused)");
  }
  ASSIGN_OR_RETURN(auto table, EmbeddingTable::Create(create.spec, create.job_seed));
  return InsertTable(std::move(table), create.clock_origin, /*retry_ok=*/true);
}

Status ParameterServer::HandleTableDrop(const Message& request) {
  std::unique_ptr<EmbeddingTable> dropped;
  // Freed here, on the loop thread: the next request waits for it.
  return RemoveTable(request.header.table_id(), &dropped);
}

Status ParameterServer::ExportTablesAs(Env* env, const std::string& path,
                                       const std::vector<ExportAs>& tables) {
  return OnLoop([&]() -> Status {
    std::vector<const EmbeddingTable*> chosen;
    for (const ExportAs& t : tables) {
      auto it = tables_.find(t.id);
      if (it == tables_.end()) {
        return NotFound(view_.layout.Describe(view_.my_rank) + " has no table id " +
                        std::to_string(t.id) + " to export as '" + t.as_name + "'");
      }
      chosen.push_back(it->second.get());
    }
    return ExportEmbeddingsAs(env, path, chosen, tables);
  });
}

std::vector<uint32_t> ParameterServer::TableIds() {
  std::vector<uint32_t> ids;
  (void)OnLoop([this, &ids] {
    for (const auto& [id, t] : tables_) ids.push_back(id);
    return Status::Ok();
  });
  return ids;
}

size_t ParameterServer::HeldPushes() {
  size_t n = 0;
  (void)OnLoop([this, &n] {
    for (const auto& [key, step] : held_) n += step.size();
    return Status::Ok();
  });
  return n;
}

size_t ParameterServer::TableBytes() {
  size_t bytes = 0;
  (void)OnLoop([this, &bytes] {
    for (const auto& [id, t] : tables_) bytes += t->stats().bytes;
    return Status::Ok();
  });
  return bytes;
}

Status ParameterServer::SaveCheckpoint(Env* env, SchedulerClient* scheduler,
                                       const std::string& root, int64_t step,
                                       const std::string& job_name) {
  const int index = view_.layout.ServerIndex(view_.my_rank);
  const int servers = view_.layout.num_servers();
  ShardFileInfo info;
  RETURN_IF_ERROR(SaveShard(env, root, index, servers, tables(), step, &info));
  ShardRecord mine;
  mine.server_index = info.server_index;
  mine.name = info.name;
  mine.size = info.size;
  mine.crc32c = info.crc32c;
  const std::string gather = "collect/checkpoint/" + std::to_string(step);
  ASSIGN_OR_RETURN(Message all,
                   scheduler->GatherPayload(gather, kGroupServers, EncodeShardSaved(mine)));
  if (index != 0) return Status::Ok();
  const std::string from = gather + " from the scheduler";
  ASSIGN_OR_RETURN(
      std::vector<std::string> payloads,
      DecodeCollected(all.header.control().payload(), static_cast<size_t>(servers), from));
  Manifest manifest;
  manifest.job_name = job_name;
  manifest.step = step;
  manifest.num_servers = servers;
  for (const EmbeddingTable* t : tables()) manifest.tables.push_back(DescribeTable(*t));
  std::vector<bool> seen(static_cast<size_t>(servers), false);
  for (const std::string& payload : payloads) {
    ASSIGN_OR_RETURN(ShardRecord shard, DecodeShardSaved(payload, servers, from));
    if (seen[static_cast<size_t>(shard.server_index)]) {
      return ProtocolError(from + ": shard of server " + std::to_string(shard.server_index) +
                           " reported twice");
    }
    seen[static_cast<size_t>(shard.server_index)] = true;
    ShardFileInfo file;
    file.server_index = shard.server_index;
    file.name = shard.name;
    file.size = shard.size;
    file.crc32c = shard.crc32c;
    manifest.files.push_back(file);
  }
  RETURN_IF_ERROR(WriteManifest(env, root, manifest));
  METAPS_LOG(INFO) << "checkpoint of step " << step << " written to "
                   << CheckpointStepDir(root, step);
  return Status::Ok();
}

StatusOr<int64_t> ParameterServer::RestoreCheckpoint(Env* env, const std::string& root,
                                                     int64_t step) {
  Manifest manifest;
  if (step < 0) {
    ASSIGN_OR_RETURN(manifest, ReadManifest(env, root));
  } else {
    ASSIGN_OR_RETURN(manifest, ReadManifestAtStep(env, root, step));
  }
  // Fresh tables: rows created after the checkpoint must not survive it.
  std::map<uint32_t, std::unique_ptr<EmbeddingTable>> fresh;
  std::vector<EmbeddingTable*> targets;
  for (auto& [id, t] : tables_) {
    ASSIGN_OR_RETURN(fresh[id], EmbeddingTable::Create(t->spec(), t->job_seed()));
    targets.push_back(fresh[id].get());
  }
  int files_read = 0;
  RETURN_IF_ERROR(LoadShardsInto(env, root, manifest, view_.layout.ServerIndex(view_.my_rank),
                                 view_.layout.num_servers(), targets, &files_read));
  tables_ = std::move(fresh);
  SetClockOrigin(manifest.step);
  METAPS_LOG(INFO) << "restored step " << manifest.step << " (saved by " << manifest.num_servers
                   << " servers) from " << root << ": read " << files_read << " of "
                   << manifest.files.size() << " shard files";
  return manifest.step;
}

ClockWindow ClockWindow::ForStaleness(int64_t staleness) {
  ClockWindow w;
  if (staleness >= 0) w.lag = staleness + w.lead;
  return w;
}

void ParameterServer::SetClockOrigin(int64_t step) {
  // Never backwards: an early-stopping restore of an older step mid-job keeps
  // the workers' clocks.
  origin_ = std::max(origin_, step);
  RaiseClock(step);
  for (auto& [id, t] : tables_) {
    int64_t& done = bsp_completed_[id];
    done = std::max(done, step);
    int64_t& clock = table_clock_[id];
    clock = std::max(clock, step);
  }
}

int ParameterServer::PushersOf(uint32_t table_id) const {
  auto it = tables_.find(table_id);
  if (it != tables_.end() && it->second->spec().bsp_pushers > 0) {
    return it->second->spec().bsp_pushers;
  }
  return bsp_workers_;
}

Status ParameterServer::CheckClock(uint32_t table_id, int64_t clock) const {
  if (PushersOf(table_id) > 1) {
    auto it = bsp_completed_.find(table_id);
    const int64_t done = it == bsp_completed_.end() ? origin_ : it->second;
    // A clock may repeat: at an epoch's end every worker pushes empty at the
    // next step, which the epoch after pushes again.
    if (clock < done || clock > done + 2) {
      return InvalidArgument("clock window: PUSH at clock " + std::to_string(clock) +
                             " for table " + std::to_string(table_id) + ", but BSP step " +
                             std::to_string(done) + " is the last completed (accepted: " +
                             std::to_string(done) + ".." + std::to_string(done + 2) + ")");
    }
    return Status::Ok();
  }
  auto it = table_clock_.find(table_id);
  const int64_t now = it == table_clock_.end() ? origin_ : it->second;
  // Overflow-safe: now + lead cannot overflow (a table's clock is bounded by
  // accepted clocks), and clock is compared, not offset.
  if (clock > now + window_.lead || (window_.lag >= 0 && clock < now - window_.lag)) {
    return InvalidArgument(
        "clock window: PUSH at clock " + std::to_string(clock) + " for table " +
        std::to_string(table_id) + " outside the accepted window (" +
        (window_.lag >= 0 ? std::to_string(now - window_.lag) : std::string("any")) + ".." +
        std::to_string(now + window_.lead) + ", table clock " + std::to_string(now) + ")");
  }
  return Status::Ok();
}

void ParameterServer::Start() {
  serving_ = true;
  rpc_->Start([this](const PeerAddress& from, Message m) { Handle(from, std::move(m)); }, {},
              [this](int fd) { OnDisconnect(fd); });
}

void ParameterServer::ExpireHeld(const std::string& why) {
  for (auto& [key, step] : held_) {
    for (auto& [rank, push] : step) {
      stats_.held_expired++;
      rpc_->Reply(push.from,
                  MakeReply(push.request.header, view_.my_rank,
                            Aborted("BSP step " + std::to_string(key.second) + " of table " +
                                    std::to_string(key.first) + " expired: " + why)));
    }
  }
  held_.clear();
}

void ParameterServer::OnDisconnect(int fd) {
  for (auto it = worker_fd_.begin(); it != worker_fd_.end(); ++it) {
    if (it->second != fd) continue;
    const int rank = it->first;
    worker_fd_.erase(it);
    if (!held_.empty()) {
      METAPS_LOG(WARNING) << "the connection of worker rank " << rank
                          << " closed; expiring the held BSP pushes";
      ExpireHeld("the connection of worker rank " + std::to_string(rank) + " closed");
    }
    return;
  }
}

std::vector<const EmbeddingTable*> ParameterServer::tables() const {
  std::vector<const EmbeddingTable*> out;
  for (const auto& [id, t] : tables_) out.push_back(t.get());
  return out;
}

StatusOr<EmbeddingTable*> ParameterServer::Lookup(const wire::Header& h) {
  auto it = tables_.find(h.table_id());
  if (it == tables_.end()) {
    return InvalidArgument(view_.layout.Describe(view_.my_rank) + " has no table id " +
                           std::to_string(h.table_id()));
  }
  return it->second.get();
}

Status ParameterServer::CheckKeys(const Message& request, const uint64_t** keys, size_t* n) const {
  if (request.frames.empty() || request.frames[0].size() % sizeof(uint64_t) != 0) {
    return InvalidArgument("keys frame missing or not a whole number of uint64");
  }
  *keys = request.FrameAs<uint64_t>(0);
  *n = request.FrameCount<uint64_t>(0);
  const int me = view_.layout.ServerIndex(view_.my_rank);
  const int servers = view_.layout.num_servers();
  for (size_t i = 0; i < *n; ++i) {
    if (KeyToServer((*keys)[i], servers) != me) {
      return InvalidArgument("key " + std::to_string((*keys)[i]) + " belongs to server " +
                             std::to_string(KeyToServer((*keys)[i], servers)) + ", not " +
                             std::to_string(me) + " (does the client use the same --servers?)");
    }
  }
  return Status::Ok();
}

Status ParameterServer::HandlePull(const Message& request, Message* reply) {
  ASSIGN_OR_RETURN(EmbeddingTable * table, Lookup(request.header));
  const uint64_t* keys;
  size_t n;
  RETURN_IF_ERROR(CheckKeys(request, &keys, &n));
  if (request.frames.size() != 1) return InvalidArgument("PULL carries only a keys frame");
  const size_t dim = static_cast<size_t>(table->dim());
  const size_t per_chunk = RowsPerChunk(table->dim());
  // The reply must fit in kMaxFrames value frames; this also bounds the rows
  // one PULL can create.
  const size_t max_rows = per_chunk * static_cast<size_t>(kMaxFrames);
  if (n > max_rows) {
    return InvalidArgument("PULL of " + std::to_string(n) + " keys from table " +
                           std::to_string(table->spec().id) + ": at most " +
                           std::to_string(max_rows) + " keys per request");
  }
  for (size_t first = 0; first < n; first += per_chunk) {
    const size_t rows = std::min(per_chunk, n - first);
    zmq::message_t chunk(rows * dim * sizeof(float));
    float* out = static_cast<float*>(chunk.data());
    RETURN_IF_ERROR(request.header.read_only() ? table->Peek(keys + first, rows, out)
                                               : table->Pull(keys + first, rows, out));
    reply->AddWritableFrame(std::move(chunk));  // sealed in place on the aead data plane
  }
  stats_.pulled_rows += n;
  return Status::Ok();
}

Status ParameterServer::HandlePush(const Message& request) {
  ASSIGN_OR_RETURN(EmbeddingTable * table, Lookup(request.header));
  const uint64_t* keys;
  size_t n;
  RETURN_IF_ERROR(CheckKeys(request, &keys, &n));
  RETURN_IF_ERROR(CheckValueChunks(request, 1, n, table->dim(), "PUSH"));
  const size_t per_chunk = RowsPerChunk(table->dim());
  for (size_t c = 0, first = 0; first < n; ++c, first += per_chunk) {
    const size_t rows = std::min(per_chunk, n - first);
    RETURN_IF_ERROR(
        table->Push(keys + first, rows, request.FrameAs<float>(1 + c), request.header.clock()));
  }
  stats_.pushed_rows += n;
  int64_t& now = table_clock_[table->spec().id];
  now = std::max(now, request.header.clock());
  RaiseClock(now);
  // The table's clock, not the request's: one push cannot jump eviction
  // further than the clock window allows.
  MaybeEvict(table, now);
  return Status::Ok();
}

void ParameterServer::HoldPush(const PeerAddress& from, Message request) {
  const wire::Header h = request.header;
  auto& step = held_[{h.table_id(), h.clock()}];
  if (step.count(from.rank)) {
    stats_.rejected++;
    rpc_->Reply(from, MakeReply(h, view_.my_rank,
                                InvalidArgument("rank " + std::to_string(from.rank) +
                                                " pushed table " + std::to_string(h.table_id()) +
                                                " twice at clock " + std::to_string(h.clock()))));
    return;
  }
  step[from.rank] = HeldPush{from, std::move(request)};
  if (static_cast<int>(step.size()) < PushersOf(h.table_id())) return;
  // Every worker's push of this step is in: apply in rank order, then answer.
  auto held = std::move(step);
  held_.erase({h.table_id(), h.clock()});
  int64_t& done = bsp_completed_[h.table_id()];
  done = std::max(done, h.clock());
  // Pushes of this table held for an earlier clock can never complete now.
  for (auto it = held_.lower_bound({h.table_id(), INT64_MIN});
       it != held_.end() && it->first.first == h.table_id() && it->first.second < done;) {
    for (auto& [rank, stale] : it->second) {
      stats_.held_expired++;
      rpc_->Reply(stale.from,
                  MakeReply(stale.request.header, view_.my_rank,
                            Aborted("BSP step " + std::to_string(it->first.second) + " of table " +
                                    std::to_string(h.table_id()) + " expired: step " +
                                    std::to_string(done) + " completed without it")));
    }
    it = held_.erase(it);
  }
  for (auto& [rank, push] : held) {
    Status status = HandlePush(push.request);
    if (!status.ok()) stats_.rejected++;
    rpc_->Reply(push.from, MakeReply(push.request.header, view_.my_rank, status));
  }
}

void ParameterServer::MaybeEvict(EmbeddingTable* table, int64_t clock) {
  if (table->spec().evict_after_steps <= 0) return;
  // A scan of every row: run it a few times per eviction window, not per push.
  int64_t& last = last_eviction_clock_[table->spec().id];
  if (clock - last < std::max<int64_t>(1, table->spec().evict_after_steps / 4)) return;
  last = clock;
  const size_t evicted = table->EvictStale(clock);
  if (evicted > 0) {
    METAPS_LOG(DEBUG) << "table " << table->spec().name << ": evicted " << evicted
                      << " rows at clock " << clock;
  }
}

void ParameterServer::Handle(const PeerAddress& from, Message request) {
  const wire::Header& h = request.header;
  Message reply = MakeReply(h, view_.my_rank);
  Status status;
  switch (h.type()) {
    case wire::PING: {
      uint64_t bytes = 0;
      for (const auto& f : request.frames) bytes += f.size();
      reply.header.mutable_control()->set_value(static_cast<int64_t>(bytes));
      // Echo moves the received frames back out: no copy.
      if (h.control().echo()) reply.frames = std::move(request.frames);
      break;
    }
    case wire::PULL:
    case wire::PUSH:
    case wire::TABLE_CREATE:
    case wire::TABLE_DROP:
      // Only workers read, write, create and drop tables (a monitor client
      // never gets here).
      if (from.rank < 0 || view_.layout.RoleOf(from.rank) != wire::WORKER) {
        stats_.role_dropped++;
        rpc_->CountDrop(
            from, std::string("role: ") + MessageTypeName(h.type()) + " from " +
                      (from.rank < 0 ? "a client" : RoleName(view_.layout.RoleOf(from.rank))) +
                      " rank, only workers may");
        const bool data = h.type() == wire::PULL || h.type() == wire::PUSH;
        rpc_->Reply(from, MakeReply(h, view_.my_rank,
                                    PermissionDenied(data ? "only workers may PUSH or PULL"
                                                          : std::string("only workers may ") +
                                                                MessageTypeName(h.type()))));
        return;
      }
      if (h.type() == wire::TABLE_CREATE) {
        status = HandleTableCreate(from, request);
        break;
      }
      if (h.type() == wire::TABLE_DROP) {
        status = HandleTableDrop(request);
        break;
      }
      if (from.fd >= 0) worker_fd_[from.rank] = from.fd;  // at most one entry per worker
      if (h.type() == wire::PULL) {
        stats_.pull_requests++;
        status = HandlePull(request, &reply);
        break;
      }
      stats_.push_requests++;
      if (Status window = CheckClock(h.table_id(), h.clock()); !window.ok()) {
        stats_.clock_dropped++;
        rpc_->CountDrop(from, window.message());
        rpc_->Reply(from, MakeReply(h, view_.my_rank, window));
        return;
      }
      if (PushersOf(h.table_id()) > 1) {
        HoldPush(from, std::move(request));
        return;
      }
      status = HandlePush(request);
      break;
    default:
      status = InvalidArgument(std::string("a server does not serve ") + MessageTypeName(h.type()));
  }
  if (!status.ok()) {
    stats_.rejected++;
    if (stats_.rejected == 1) {
      METAPS_LOG(WARNING) << "rejected a " << MessageTypeName(h.type()) << " from rank "
                          << from.rank << ": " << status.message();
    }
    reply = MakeReply(h, view_.my_rank, status);
  }
  rpc_->Reply(from, std::move(reply));
}

}  // namespace metaps
