#include "ps/checkpoint_manifest.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>
#include <unordered_map>

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
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0') return false;
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

// The first problem of `m`, or "" when there is none. `file_lines` (the
// manifest line of each files[i]) is null for a manifest built in memory.
std::string Problem(const Manifest& m, const std::vector<int>* file_lines,
                    const std::string& source) {
  auto at = [&](size_t i) {
    return file_lines == nullptr ? source : source + ":" + std::to_string((*file_lines)[i]);
  };
  if (!IsToken(m.job_name)) {
    return source + ": job name must be non-empty without whitespace, got '" + m.job_name + "'";
  }
  if (m.step < 0) return source + ": negative step " + std::to_string(m.step);
  if (m.num_servers < 1) {
    return source + ": num_servers must be >= 1, got " + std::to_string(m.num_servers);
  }
  if (m.files.size() != static_cast<size_t>(m.num_servers)) {
    return source + ": " + std::to_string(m.files.size()) + " shard files for " +
           std::to_string(m.num_servers) + " servers";
  }
  std::unordered_map<uint32_t, size_t> table_ids;
  for (size_t i = 0; i < m.tables.size(); ++i) {
    const ManifestTable& t = m.tables[i];
    const std::string what = "table " + std::to_string(t.id) + " '" + t.name + "'";
    if (!IsToken(t.name)) return source + ": bad table name '" + t.name + "'";
    if (!table_ids.emplace(t.id, i).second) return source + ": " + what + " is listed twice";
    if (t.dim < 1 || t.dim > kMaxManifestDim) {
      return source + ": " + what + ": dim " + std::to_string(t.dim) + " not in [1, " +
             std::to_string(kMaxManifestDim) + "]";
    }
    const int want = t.dim + OptimizerStateFloats(t.optimizer, t.dim);
    if (t.row_floats != want) {
      return source + ": " + what + ": row_floats " + std::to_string(t.row_floats) + ", but dim " +
             std::to_string(t.dim) + " with " + OptimizerKindName(t.optimizer) + " stores " +
             std::to_string(want);
    }
  }
  // Each shard index in [0, num_servers) exactly once, each under its own name.
  std::vector<int> first_of(m.files.size(), -1);
  std::unordered_map<std::string, size_t> names;
  for (size_t i = 0; i < m.files.size(); ++i) {
    const ShardFileInfo& f = m.files[i];
    if (!IsSafeShardFileName(f.name)) {
      return at(i) + ": bad shard file name '" + f.name +
             "' (a plain file name: no whitespace, '/', '\\' or '..')";
    }
    if (f.server_index < 0 || f.server_index >= m.num_servers) {
      return at(i) + ": shard index " + std::to_string(f.server_index) + " not in [0, " +
             std::to_string(m.num_servers) + ")";
    }
    if (first_of[f.server_index] >= 0) {
      return at(i) + ": shard index " + std::to_string(f.server_index) + " is listed twice (also " +
             at(first_of[f.server_index]) + ")";
    }
    first_of[f.server_index] = static_cast<int>(i);
    auto [it, fresh] = names.emplace(f.name, i);
    if (!fresh) {
      return at(i) + ": shard file '" + f.name + "' is listed twice (also " + at(it->second) + ")";
    }
  }
  // With as many entries as servers and none repeated, no index is missing.
  return "";
}

}  // namespace

bool IsSafeShardFileName(const std::string& name) {
  if (!IsToken(name) || name.size() > 255 || name == "." || name.find("..") != std::string::npos) {
    return false;
  }
  return name.find_first_of("/\\") == std::string::npos;
}

Status ValidateManifest(const Manifest& manifest) {
  const std::string problem = Problem(manifest, nullptr, "manifest");
  return problem.empty() ? Status::Ok() : InvalidArgument(problem);
}

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
  if (text.size() != end_pos + 13 || text.back() != '\n') {
    return DataLoss(source + ": bytes after the 'end' line");
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
  std::vector<int> file_lines;
  std::unordered_map<std::string, int> once;  // job, step, num_servers: line seen
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
    if (kind == "job" || kind == "step" || kind == "num_servers") {
      auto [it, first] = once.emplace(kind, line_no);
      if (!first) {
        return DataLoss(where + ": second '" + kind + "' line (first at line " +
                        std::to_string(it->second) + ")");
      }
    }
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
      file_lines.push_back(line_no);
    } else {
      ok = false;
    }
    std::string extra;
    if (!ok || fields >> extra) return DataLoss(where + ": malformed line '" + line + "'");
  }
  const std::string problem = Problem(m, &file_lines, source);
  if (!problem.empty()) return DataLoss(problem);
  return m;
}

Status WriteManifest(Env* env, const std::string& root, const Manifest& manifest) {
  RETURN_IF_ERROR(ValidateManifest(manifest));
  const std::string dir = CheckpointStepDir(root, manifest.step);
  RETURN_IF_ERROR(env->CreateDir(dir));
  RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(dir, kManifest), SerializeManifest(manifest)));
  // Syncing the root (inside WriteFileAtomically) makes LATEST and the step
  // directory's entry durable; syncing its parent, the root's own entry when
  // this save created the root.
  RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(root, kLatest),
                                      "step-" + std::to_string(manifest.step) + "\n"));
  std::string trimmed = root;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  return env->SyncDir(DirName(trimmed));
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
