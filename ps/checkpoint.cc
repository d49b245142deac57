#include "ps/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "common/hash.h"
#include "common/partition.h"

namespace metaps {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "file formats assume little-endian");

constexpr char kShardMagic[] = "MPSSHRD1";
constexpr char kShardEnd[] = "MPSSEND1";
constexpr char kExportMagic[] = "MPSEMBD1";
constexpr uint32_t kVersion = 1;
constexpr size_t kWriteBuffer = size_t{1} << 20;

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Buffers appends into 1 MiB writes and tracks the size and CRC32C written.
class FileWriter {
 public:
  explicit FileWriter(WritableFile* file) : file_(file) { buffer_.reserve(kWriteBuffer); }

  void Put(const void* data, size_t n) {
    if (!status_.ok()) return;
    buffer_.append(static_cast<const char*>(data), n);
    if (buffer_.size() >= kWriteBuffer) Flush();
  }
  template <typename T>
  void PutValue(T v) {
    Put(&v, sizeof(v));
  }
  void PutString(const std::string& s) {
    PutValue<uint32_t>(static_cast<uint32_t>(s.size()));
    Put(s.data(), s.size());
  }
  void Flush() {
    if (!status_.ok() || buffer_.empty()) return;
    crc_ = Crc32cExtend(crc_, buffer_.data(), buffer_.size());
    size_ += buffer_.size();
    status_ = file_->Append(buffer_);
    buffer_.clear();
  }
  // The first error of any Put or Flush.
  const Status& status() const { return status_; }
  uint64_t size() const { return size_; }
  uint32_t crc() const { return crc_; }

 private:
  WritableFile* file_;
  std::string buffer_;
  Status status_;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
};

// Writes `path` through "<path>.tmp": contents, flush, fsync, close, rename,
// directory sync. The temp file is removed (best effort) on failure.
Status WriteViaTemp(Env* env, const std::string& path,
                    const std::function<Status(FileWriter*)>& write_contents, uint64_t* size,
                    uint32_t* crc) {
  const std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(tmp));
  FileWriter writer(file.get());
  Status status = write_contents(&writer);
  if (status.ok()) {
    writer.Flush();
    status = writer.status();
  }
  if (status.ok()) status = file->Sync();
  if (status.ok()) status = file->Close();
  if (status.ok()) status = env->RenameFile(tmp, path);
  if (!status.ok()) {
    file.reset();
    if (env->FileExists(tmp)) (void)env->DeleteFile(tmp);
    return status;
  }
  *size = writer.size();
  *crc = writer.crc();
  return env->SyncDir(DirName(path));
}

// Writes one table's rows with their optimizer state, in the table's own
// order; fails if the table changed while being written.
Status WriteTableRows(const EmbeddingTable& table, FileWriter* w) {
  const uint64_t expected = table.stats().rows;
  w->PutValue<uint64_t>(expected);
  const size_t floats = table.row_floats();
  uint64_t written = 0;
  table.ForEachRow([&](uint64_t key, const float* row) {
    w->PutValue<uint64_t>(key);
    w->Put(row, floats * sizeof(float));
    ++written;
  });
  RETURN_IF_ERROR(w->status());
  if (written != expected) {
    return Internal("table '" + table.spec().name +
                    "' changed during the save: " + std::to_string(expected) + " rows counted, " +
                    std::to_string(written) + " written");
  }
  return Status::Ok();
}

// Writes one table's values in increasing key order, so that an export is a
// function of the table's contents alone (not of the order rows were made):
// equal tables export to equal bytes. Holds the keys (8 bytes a row) and reads
// the values back in chunks with Peek, which has no side effects; fails if the
// table changed while being written.
Status WriteSortedValues(const EmbeddingTable& table, FileWriter* w) {
  const TableStats before = table.stats();
  std::vector<uint64_t> keys;
  keys.reserve(before.rows);
  table.ForEachRow([&](uint64_t key, const float*) { keys.push_back(key); });
  std::sort(keys.begin(), keys.end());
  w->PutValue<uint64_t>(keys.size());
  constexpr size_t kChunk = 4096;
  const size_t dim = table.dim();
  std::vector<float> values(kChunk * dim);
  // Peek is logically const (no row, sighting or counter changes); the tables
  // a server exports are its own, non-const objects.
  EmbeddingTable& reader = const_cast<EmbeddingTable&>(table);
  for (size_t begin = 0; begin < keys.size() && w->status().ok(); begin += kChunk) {
    const size_t n = std::min(kChunk, keys.size() - begin);
    RETURN_IF_ERROR(reader.Peek(keys.data() + begin, n, values.data()));
    for (size_t i = 0; i < n; ++i) {
      w->PutValue<uint64_t>(keys[begin + i]);
      w->Put(values.data() + i * dim, dim * sizeof(float));
    }
  }
  RETURN_IF_ERROR(w->status());
  const TableStats after = table.stats();
  if (keys.size() != before.rows || after.rows != before.rows ||
      after.admitted != before.admitted || after.evicted != before.evicted) {
    return Internal("table '" + table.spec().name + "' changed during the export: " +
                    std::to_string(before.rows) + " rows before, " + std::to_string(keys.size()) +
                    " listed, " + std::to_string(after.rows) + " after");
  }
  return Status::Ok();
}

// Bounds-checked little-endian reads from a file held in memory.
class FileReader {
 public:
  FileReader(std::string_view data, std::string path) : data_(data), path_(std::move(path)) {}

  bool Get(void* out, size_t n) {
    if (data_.size() - pos_ < n) return false;
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  template <typename T>
  bool GetValue(T* v) {
    return Get(v, sizeof(T));
  }
  bool GetString(std::string* s) {
    uint32_t n = 0;
    if (!GetValue(&n) || data_.size() - pos_ < n) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Expect(const char* magic) {
    char buf[8];
    return Get(buf, 8) && std::memcmp(buf, magic, 8) == 0;
  }
  bool at_end() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  Status Corrupt(const std::string& what) const {
    return DataLoss("checkpoint file '" + path_ + "': " + what + " at byte " +
                    std::to_string(pos_));
  }

 private:
  std::string_view data_;
  std::string path_;
  size_t pos_ = 0;
};

Status CheckTableMatches(const ManifestTable& m, const EmbeddingTable& t) {
  const ManifestTable want = DescribeTable(t);
  if (m.dim != want.dim || m.row_floats != want.row_floats || m.optimizer != want.optimizer) {
    return InvalidArgument(
        "table '" + want.name + "' (id " + std::to_string(want.id) + "): checkpoint has dim " +
        std::to_string(m.dim) + ", row_floats " + std::to_string(m.row_floats) + ", optimizer " +
        OptimizerKindName(m.optimizer) + "; the table has dim " + std::to_string(want.dim) +
        ", row_floats " + std::to_string(want.row_floats) + ", optimizer " +
        OptimizerKindName(want.optimizer));
  }
  return Status::Ok();
}

}  // namespace

ManifestTable DescribeTable(const EmbeddingTable& table) {
  return ManifestTable{table.spec().id, table.spec().name, table.dim(), table.row_floats(),
                       table.spec().optimizer.kind};
}

Status SaveShard(Env* env, const std::string& root, int server_index, int num_servers,
                 const std::vector<const EmbeddingTable*>& tables, int64_t step,
                 ShardFileInfo* out) {
  if (num_servers < 1 || server_index < 0 || server_index >= num_servers) {
    return InvalidArgument("SaveShard: server " + std::to_string(server_index) + " of " +
                           std::to_string(num_servers));
  }
  const std::string dir = CheckpointStepDir(root, step);
  RETURN_IF_ERROR(env->CreateDir(dir));
  char name[64];
  std::snprintf(name, sizeof(name), "shard-%05d-of-%05d.bin", server_index, num_servers);
  auto write = [&](FileWriter* w) -> Status {
    w->Put(kShardMagic, 8);
    w->PutValue<uint32_t>(kVersion);
    w->PutValue<uint32_t>(static_cast<uint32_t>(server_index));
    w->PutValue<uint32_t>(static_cast<uint32_t>(num_servers));
    w->PutValue<uint32_t>(static_cast<uint32_t>(tables.size()));
    w->PutValue<int64_t>(step);
    for (const EmbeddingTable* table : tables) {
      w->PutValue<uint32_t>(table->spec().id);
      w->PutString(table->spec().name);
      w->PutValue<int32_t>(table->dim());
      w->PutValue<int32_t>(table->row_floats());
      w->PutValue<int32_t>(static_cast<int32_t>(table->spec().optimizer.kind));
      RETURN_IF_ERROR(WriteTableRows(*table, w));
    }
    w->Put(kShardEnd, 8);
    return w->status();
  };
  ShardFileInfo info;
  info.server_index = server_index;
  info.name = name;
  RETURN_IF_ERROR(WriteViaTemp(env, JoinPath(dir, name), write, &info.size, &info.crc32c));
  *out = info;
  return Status::Ok();
}

namespace {

// Reads, verifies and inserts one shard file of `manifest`: the size and CRC32C
// the manifest gives, then a header that agrees with the manifest, tables that
// are each the manifest's and appear once, row counts the bytes left can hold
// (checked before any row is read), and keys that all belong to this shard.
// Rows whose key `keep` accepts go to the table `targets` maps their id to.
Status LoadShardFile(Env* env, const std::string& dir, const Manifest& manifest,
                     const ShardFileInfo& file,
                     const std::unordered_map<uint32_t, const ManifestTable*>& in_manifest,
                     const std::unordered_map<uint32_t, EmbeddingTable*>& targets,
                     const std::function<bool(uint64_t key)>& keep) {
  const std::string path = JoinPath(dir, file.name);
  std::string data;
  RETURN_IF_ERROR(env->ReadFileToString(path, &data));
  if (data.size() != file.size) {
    return DataLoss("checkpoint file '" + path + "': size mismatch: expected " +
                    std::to_string(file.size) + " bytes, actual " + std::to_string(data.size()));
  }
  const uint32_t crc = Crc32c(data.data(), data.size());
  if (crc != file.crc32c) {
    return DataLoss("checkpoint file '" + path + "': crc32c mismatch: expected " +
                    Hex(file.crc32c) + ", actual " + Hex(crc) + " (the file is corrupt)");
  }
  FileReader r(data, path);
  uint32_t version = 0, server = 0, servers = 0, num_tables = 0;
  int64_t step = 0;
  if (!r.Expect(kShardMagic) || !r.GetValue(&version) || version != kVersion ||
      !r.GetValue(&server) || !r.GetValue(&servers) || !r.GetValue(&num_tables) ||
      !r.GetValue(&step)) {
    return r.Corrupt("bad header");
  }
  if (server != static_cast<uint32_t>(file.server_index) ||
      servers != static_cast<uint32_t>(manifest.num_servers) || step != manifest.step ||
      num_tables != manifest.tables.size()) {
    return r.Corrupt(
        "header (server " + std::to_string(server) + " of " + std::to_string(servers) + ", step " +
        std::to_string(step) + ", " + std::to_string(num_tables) +
        " tables) disagrees with the manifest (server " + std::to_string(file.server_index) +
        " of " + std::to_string(manifest.num_servers) + ", step " + std::to_string(manifest.step) +
        ", " + std::to_string(manifest.tables.size()) + " tables)");
  }
  std::unordered_map<uint32_t, bool> seen;
  std::vector<float> row;
  for (uint32_t t = 0; t < num_tables; ++t) {
    ManifestTable header;
    int32_t optimizer = 0;
    uint64_t rows = 0;
    if (!r.GetValue(&header.id) || !r.GetString(&header.name) || !r.GetValue(&header.dim) ||
        !r.GetValue(&header.row_floats) || !r.GetValue(&optimizer) || !r.GetValue(&rows)) {
      return r.Corrupt("bad table header");
    }
    auto known = in_manifest.find(header.id);
    if (known == in_manifest.end() || known->second->name != header.name ||
        known->second->dim != header.dim || known->second->row_floats != header.row_floats ||
        static_cast<int32_t>(known->second->optimizer) != optimizer) {
      return r.Corrupt("table id " + std::to_string(header.id) + " '" + header.name +
                       "' disagrees with the manifest");
    }
    if (seen[header.id]) {
      return r.Corrupt("table id " + std::to_string(header.id) + " appears twice");
    }
    seen[header.id] = true;
    // row_floats is the manifest's, bounded by its dim limit.
    const uint64_t row_bytes = sizeof(uint64_t) + sizeof(float) * uint64_t(header.row_floats);
    if (rows > r.remaining() / row_bytes) {
      return r.Corrupt("table '" + header.name + "' claims " + std::to_string(rows) + " rows of " +
                       std::to_string(row_bytes) + " bytes, but only " +
                       std::to_string(r.remaining()) + " bytes are left");
    }
    auto target_it = targets.find(header.id);
    EmbeddingTable* target = target_it == targets.end() ? nullptr : target_it->second;
    row.resize(header.row_floats);
    for (uint64_t i = 0; i < rows; ++i) {
      uint64_t key = 0;
      if (!r.GetValue(&key) || !r.Get(row.data(), row.size() * sizeof(float))) {
        return r.Corrupt("truncated row");
      }
      // A server holds only the keys it owns: anything else is not this shard.
      const int owner = KeyToServer(key, manifest.num_servers);
      if (owner != file.server_index) {
        return r.Corrupt("key " + std::to_string(key) + " of table '" + header.name +
                         "' belongs to shard " + std::to_string(owner) + ", not " +
                         std::to_string(file.server_index));
      }
      if (target != nullptr && keep(key)) RETURN_IF_ERROR(target->InsertRow(key, row.data()));
    }
  }
  if (!r.Expect(kShardEnd) || !r.at_end()) return r.Corrupt("bad end marker");
  return Status::Ok();
}

}  // namespace

Status LoadShardsInto(Env* env, const std::string& root, const Manifest& manifest,
                      int my_server_index, int my_num_servers,
                      const std::vector<EmbeddingTable*>& tables, int* files_read) {
  if (my_num_servers < 1 || my_server_index < 0 || my_server_index >= my_num_servers) {
    return InvalidArgument("LoadShardsInto: server " + std::to_string(my_server_index) + " of " +
                           std::to_string(my_num_servers));
  }
  RETURN_IF_ERROR(ValidateManifest(manifest));
  std::unordered_map<uint32_t, const ManifestTable*> in_manifest;
  for (const ManifestTable& t : manifest.tables) in_manifest[t.id] = &t;
  std::unordered_map<uint32_t, EmbeddingTable*> targets;
  for (EmbeddingTable* table : tables) {
    auto it = in_manifest.find(table->spec().id);
    if (it == in_manifest.end()) {
      return NotFound("table '" + table->spec().name + "' (id " + std::to_string(table->spec().id) +
                      ") is not in the checkpoint of step " + std::to_string(manifest.step));
    }
    RETURN_IF_ERROR(CheckTableMatches(*it->second, *table));
    targets[table->spec().id] = table;
  }
  // With the server count of the save, shard i holds exactly the keys server i
  // owns now: read that file alone. Otherwise read every shard and keep the
  // keys KeyToServer gives this server under the new count.
  const bool same_layout = manifest.num_servers == my_num_servers;
  auto keep = [&](uint64_t key) {
    return same_layout || KeyToServer(key, my_num_servers) == my_server_index;
  };
  const std::string dir = CheckpointStepDir(root, manifest.step);
  int read = 0;
  for (const ShardFileInfo& file : manifest.files) {
    if (same_layout && file.server_index != my_server_index) continue;
    RETURN_IF_ERROR(LoadShardFile(env, dir, manifest, file, in_manifest, targets, keep));
    ++read;
  }
  if (files_read != nullptr) *files_read = read;
  return Status::Ok();
}

namespace {

struct TableInfo {
  uint32_t id;
  std::string name;
  int dim;
};

// The export file via a temp file: magic, version, table count, each table's
// id, name and dim followed by what `put_rows` writes for it (count, then
// key and values per row, keys increasing), and the CRC32C of all of that.
Status WriteExportFile(Env* env, const std::string& path, size_t num_tables,
                       const std::function<TableInfo(size_t)>& info,
                       const std::function<Status(size_t, FileWriter*)>& put_rows) {
  auto write = [&](FileWriter* w) -> Status {
    w->Put(kExportMagic, 8);
    w->PutValue<uint32_t>(kVersion);
    w->PutValue<uint32_t>(static_cast<uint32_t>(num_tables));
    for (size_t t = 0; t < num_tables; ++t) {
      const TableInfo table = info(t);
      w->PutValue<uint32_t>(table.id);
      w->PutString(table.name);
      w->PutValue<int32_t>(table.dim);
      RETURN_IF_ERROR(put_rows(t, w));
    }
    // The trailing checksum covers everything before it.
    w->Flush();
    w->PutValue<uint32_t>(w->crc());
    return w->status();
  };
  uint64_t size = 0;
  uint32_t crc = 0;
  return WriteViaTemp(env, path, write, &size, &crc);
}

}  // namespace

Status ExportEmbeddings(Env* env, const std::string& path,
                        const std::vector<const EmbeddingTable*>& tables) {
  return WriteExportFile(
      env, path, tables.size(),
      [&](size_t t) {
        return TableInfo{tables[t]->spec().id, tables[t]->spec().name, tables[t]->dim()};
      },
      [&](size_t t, FileWriter* w) { return WriteSortedValues(*tables[t], w); });
}

Status ExportEmbeddingsAs(Env* env, const std::string& path,
                          const std::vector<const EmbeddingTable*>& tables,
                          const std::vector<ExportAs>& as) {
  if (as.size() != tables.size()) {
    return InvalidArgument("export to '" + path + "': " + std::to_string(as.size()) +
                           " names for " + std::to_string(tables.size()) + " tables");
  }
  for (size_t t = 0; t < as.size(); ++t) {
    if (as[t].as_name.empty()) {
      return InvalidArgument("export to '" + path + "': table id " + std::to_string(as[t].id) +
                             " has an empty as_name");
    }
    for (size_t u = 0; u < t; ++u) {
      if (as[u].as_id == as[t].as_id) {
        return InvalidArgument("export to '" + path + "': as_id " + std::to_string(as[t].as_id) +
                               " given twice");
      }
    }
  }
  return WriteExportFile(
      env, path, tables.size(),
      [&](size_t t) {
        return TableInfo{as[t].as_id, as[t].as_name, tables[t]->dim()};
      },
      [&](size_t t, FileWriter* w) { return WriteSortedValues(*tables[t], w); });
}

Status WriteExportedEmbeddings(Env* env, const std::string& path,
                               const std::vector<ExportedTable>& tables) {
  for (const ExportedTable& t : tables) {
    if (t.dim < 1 || t.values.size() != t.keys.size() * static_cast<size_t>(t.dim) ||
        !std::is_sorted(t.keys.begin(), t.keys.end()) ||
        std::adjacent_find(t.keys.begin(), t.keys.end()) != t.keys.end()) {
      return InvalidArgument("export table " + t.name +
                             ": keys must be strictly increasing, with dim values each");
    }
  }
  return WriteExportFile(
      env, path, tables.size(),
      [&](size_t t) {
        return TableInfo{tables[t].id, tables[t].name, tables[t].dim};
      },
      [&](size_t t, FileWriter* w) {
        const ExportedTable& table = tables[t];
        w->PutValue<uint64_t>(static_cast<uint64_t>(table.keys.size()));
        for (size_t i = 0; i < table.keys.size(); ++i) {
          w->PutValue<uint64_t>(table.keys[i]);
          w->Put(table.values.data() + i * static_cast<size_t>(table.dim),
                 sizeof(float) * static_cast<size_t>(table.dim));
        }
        return w->status();
      });
}

StatusOr<std::vector<ExportedTable>> ReadExportedEmbeddings(Env* env, const std::string& path) {
  std::string data;
  RETURN_IF_ERROR(env->ReadFileToString(path, &data));
  if (data.size() < 4) return DataLoss("export file '" + path + "': truncated");
  uint32_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 4, 4);
  const uint32_t actual = Crc32c(data.data(), data.size() - 4);
  if (stored != actual) {
    return DataLoss("export file '" + path + "': crc32c mismatch: expected " + Hex(stored) +
                    ", actual " + Hex(actual));
  }
  FileReader r(std::string_view(data.data(), data.size() - 4), path);
  uint32_t version = 0, num_tables = 0;
  if (!r.Expect(kExportMagic) || !r.GetValue(&version) || version != kVersion ||
      !r.GetValue(&num_tables)) {
    return r.Corrupt("bad header");
  }
  // Each table takes at least its fixed header: a count the bytes left cannot
  // hold is refused before anything is allocated for it.
  constexpr size_t kMinTableBytes = 4 + 4 + 4 + 8;  // id, name length, dim, count
  if (num_tables > r.remaining() / kMinTableBytes) {
    return r.Corrupt("header claims " + std::to_string(num_tables) + " tables, but only " +
                     std::to_string(r.remaining()) + " bytes are left");
  }
  std::vector<ExportedTable> out(num_tables);
  for (ExportedTable& t : out) {
    uint64_t count = 0;
    if (!r.GetValue(&t.id) || !r.GetString(&t.name) || !r.GetValue(&t.dim) || t.dim < 1 ||
        t.dim > kMaxManifestDim || !r.GetValue(&count)) {
      return r.Corrupt("bad table header");
    }
    const uint64_t row_bytes = sizeof(uint64_t) + sizeof(float) * uint64_t(t.dim);
    if (count > r.remaining() / row_bytes) {
      return r.Corrupt("table '" + t.name + "' claims " + std::to_string(count) + " rows of " +
                       std::to_string(row_bytes) + " bytes, but only " +
                       std::to_string(r.remaining()) + " bytes are left");
    }
    t.keys.resize(count);
    t.values.resize(count * t.dim);
    for (uint64_t i = 0; i < count; ++i) {
      if (!r.GetValue(&t.keys[i]) || !r.Get(t.values.data() + i * t.dim, sizeof(float) * t.dim)) {
        return r.Corrupt("truncated row");
      }
    }
  }
  if (!r.at_end()) return r.Corrupt("trailing bytes");
  return out;
}

}  // namespace metaps
