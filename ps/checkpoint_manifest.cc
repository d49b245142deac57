#include "ps/checkpoint_manifest.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "common/hash.h"
#include "ps/table_spec.h"

namespace metaps {
namespace {

constexpr char kHeader[] = "metaps-checkpoint 1";
constexpr char kLatest[] = "LATEST";
constexpr char kManifest[] = "MANIFEST";

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return false;
  }
  return true;
}

std::string Hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

bool ParseHex8(const std::string& s, uint32_t* v) {
  if (s.size() != 8) return false;
  char* end = nullptr;
  const unsigned long x = std::strtoul(s.c_str(), &end, 16);
  if (end != s.c_str() + 8) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

Status Validate(const Manifest& m) {
  if (!IsToken(m.job_name)) {
    return InvalidArgument("manifest: job name must be non-empty without whitespace, got '" +
                           m.job_name + "'");
  }
  if (m.num_servers < 1) return InvalidArgument("manifest: num_servers must be >= 1");
  if (static_cast<int>(m.files.size()) != m.num_servers) {
    return InvalidArgument("manifest: " + std::to_string(m.files.size()) + " shard files for " +
                           std::to_string(m.num_servers) + " servers");
  }
  for (const ManifestTable& t : m.tables) {
    if (!IsToken(t.name)) return InvalidArgument("manifest: bad table name '" + t.name + "'");
  }
  for (const ShardFileInfo& f : m.files) {
    if (!IsToken(f.name)) return InvalidArgument("manifest: bad file name '" + f.name + "'");
  }
  return Status::Ok();
}

}  // namespace

std::string CheckpointStepDir(const std::string& root, int64_t step) {
  return JoinPath(root, "step-" + std::to_string(step));
}

std::string SerializeManifest(const Manifest& m) {
  std::ostringstream os;
  os << kHeader << "\n";
  os << "job " << m.job_name << "\n";
  os << "step " << m.step << "\n";
  os << "num_servers " << m.num_servers << "\n";
  for (const ManifestTable& t : m.tables) {
    os << "table " << t.id << " " << t.name << " " << t.dim << " " << t.row_floats << " "
       << OptimizerKindName(t.optimizer) << "\n";
  }
  for (const ShardFileInfo& f : m.files) {
    os << "file " << f.server_index << " " << f.name << " " << f.size << " " << Hex8(f.crc32c)
       << "\n";
  }
  std::string body = os.str();
  body += "end " + Hex8(Crc32c(body.data(), body.size())) + "\n";
  return body;
}

StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& source) {
  const size_t end_pos = text.rfind("end ");
  uint32_t stored_crc = 0;
  if (end_pos == std::string::npos || (end_pos > 0 && text[end_pos - 1] != '\n') ||
      !ParseHex8(text.substr(end_pos + 4, 8), &stored_crc)) {
    return DataLoss(source + ": truncated manifest (no 'end' line)");
  }
  const uint32_t actual_crc = Crc32c(text.data(), end_pos);
  if (actual_crc != stored_crc) {
    return DataLoss(source + ": manifest crc32c mismatch: expected " + Hex8(stored_crc) +
                    ", actual " + Hex8(actual_crc));
  }
  Manifest m;
  std::istringstream lines(text.substr(0, end_pos));
  std::string line;
  int line_no = 0;
  bool have_header = false;
  while (std::getline(lines, line)) {
    ++line_no;
    const std::string where = source + ":" + std::to_string(line_no);
    if (!have_header) {
      if (line != kHeader) return DataLoss(where + ": expected '" + kHeader + "'");
      have_header = true;
      continue;
    }
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    bool ok = true;
    if (kind == "job") {
      ok = static_cast<bool>(fields >> m.job_name);
    } else if (kind == "step") {
      ok = static_cast<bool>(fields >> m.step);
    } else if (kind == "num_servers") {
      ok = static_cast<bool>(fields >> m.num_servers);
    } else if (kind == "table") {
      ManifestTable t;
      std::string optimizer;
      ok = static_cast<bool>(fields >> t.id >> t.name >> t.dim >> t.row_floats >> optimizer) &&
           ParseOptimizerKind(optimizer, &t.optimizer);
      m.tables.push_back(t);
    } else if (kind == "file") {
      ShardFileInfo f;
      std::string crc;
      ok = static_cast<bool>(fields >> f.server_index >> f.name >> f.size >> crc) &&
           ParseHex8(crc, &f.crc32c);
      m.files.push_back(f);
    } else {
      ok = false;
    }
    std::string extra;
    if (!ok || fields >> extra) return DataLoss(where + ": malformed line '" + line + "'");
  }
  Status valid = Validate(m);
  if (!valid.ok()) return DataLoss(source + ": " + valid.message());
  return m;
}

Status WriteManifest(Env* env, const std::string& root, const Manifest& manifest) {
  RETURN_IF_ERROR(Validate(manifest));
  const std::string dir = CheckpointStepDir(root, manifest.step);
  RETURN_IF_ERROR(env->CreateDir(dir));
  RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(dir, kManifest), SerializeManifest(manifest)));
  return WriteFileAtomically(env, JoinPath(root, kLatest),
                             "step-" + std::to_string(manifest.step) + "\n");
}

StatusOr<Manifest> ReadManifestAtStep(Env* env, const std::string& root, int64_t step) {
  const std::string path = JoinPath(CheckpointStepDir(root, step), kManifest);
  std::string text;
  RETURN_IF_ERROR(env->ReadFileToString(path, &text));
  ASSIGN_OR_RETURN(Manifest m, ParseManifest(text, path));
  if (m.step != step) {
    return DataLoss(path + ": manifest says step " + std::to_string(m.step) + ", expected " +
                    std::to_string(step));
  }
  return m;
}

StatusOr<Manifest> ReadManifest(Env* env, const std::string& root) {
  const std::string latest = JoinPath(root, kLatest);
  if (!env->FileExists(latest)) return NotFound("no checkpoint in '" + root + "' (no LATEST)");
  std::string text;
  RETURN_IF_ERROR(env->ReadFileToString(latest, &text));
  int64_t step = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "step-%" SCNd64 "%c", &step, &tail) != 2 || tail != '\n') {
    return DataLoss(latest + ": malformed pointer '" + text + "'");
  }
  return ReadManifestAtStep(env, root, step);
}

}  // namespace metaps
