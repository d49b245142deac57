// The file-system interface used by checkpoints (after leveldb's Env): all disk
// access goes through it so that tests can inject faults or crash mid-save.
// Every error names the path and carries strerror.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace metaps {

// A file being written sequentially. Not thread-safe; one writer at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes the appended data durable (fsync).
  virtual Status Sync() = 0;
  // Releases the descriptor; further calls fail. Destruction without Close closes
  // silently.
  virtual Status Close() = 0;
};

// Implementations must be thread-safe.
class Env {
 public:
  virtual ~Env() = default;

  // The POSIX implementation: the one process-wide object of metaps, stateless.
  static Env* Default();

  // Creates or truncates `path`.
  virtual StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual Status ReadFileToString(const std::string& path, std::string* data) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // Creates `path` and missing parents; ok if it exists.
  virtual Status CreateDir(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status DeleteDir(const std::string& path) = 0;
  // Makes the entries of `dir` (renames, creations) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
};

// Writes `data` to `path` through a temporary file, fsync and rename, then syncs
// the directory: after a crash `path` holds either its old or its new content.
Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data);

// "a/b" from ("a", "b"); tolerates a trailing '/' on `dir`.
std::string JoinPath(const std::string& dir, const std::string& name);
// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);

}  // namespace metaps
