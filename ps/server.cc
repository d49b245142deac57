#include "ps/server.h"

#include <sstream>

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
  return Status::Ok();
}

Status ParameterServer::SaveCheckpoint(Env* env, SchedulerClient* scheduler,
                                       const std::string& root, int64_t step,
                                       const std::string& job_name) {
  const int index = view_.layout.ServerIndex(view_.my_rank);
  const int servers = view_.layout.num_servers();
  ShardFileInfo info;
  RETURN_IF_ERROR(SaveShard(env, root, index, servers, tables(), step, &info));
  std::ostringstream mine;
  mine << info.server_index << ' ' << info.name << ' ' << info.size << ' ' << info.crc32c;
  ASSIGN_OR_RETURN(Message all, scheduler->Gather("collect/checkpoint/" + std::to_string(step),
                                                  kGroupServers, mine.str()));
  if (index != 0) return Status::Ok();
  Manifest manifest;
  manifest.job_name = job_name;
  manifest.step = step;
  manifest.num_servers = servers;
  for (const EmbeddingTable* t : tables()) manifest.tables.push_back(DescribeTable(*t));
  std::istringstream lines(all.header.control().text());
  ShardFileInfo file;
  while (lines >> file.server_index >> file.name >> file.size >> file.crc32c) {
    manifest.files.push_back(file);
  }
  if (static_cast<int>(manifest.files.size()) != servers) {
    return Internal("checkpoint step " + std::to_string(step) + ": got " +
                    std::to_string(manifest.files.size()) + " shard records for " +
                    std::to_string(servers) + " servers");
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
  METAPS_LOG(INFO) << "restored step " << manifest.step << " (saved by " << manifest.num_servers
                   << " servers) from " << root << ": read " << files_read << " of "
                   << manifest.files.size() << " shard files";
  return manifest.step;
}

void ParameterServer::Start() {
  rpc_->Start([this](const PeerAddress& from, Message m) { Handle(from, std::move(m)); });
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
  for (size_t first = 0; first < n; first += per_chunk) {
    const size_t rows = std::min(per_chunk, n - first);
    zmq::message_t chunk(rows * dim * sizeof(float));
    float* out = static_cast<float*>(chunk.data());
    RETURN_IF_ERROR(request.header.read_only() ? table->Peek(keys + first, rows, out)
                                               : table->Pull(keys + first, rows, out));
    reply->AddFrame(std::move(chunk));
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
  MaybeEvict(table, request.header.clock());
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
  if (static_cast<int>(step.size()) < bsp_workers_) return;
  // Every worker's push of this step is in: apply in rank order, then answer.
  auto held = std::move(step);
  held_.erase({h.table_id(), h.clock()});
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
      stats_.pull_requests++;
      status = HandlePull(request, &reply);
      break;
    case wire::PUSH:
      stats_.push_requests++;
      if (bsp_workers_ > 1) {
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
