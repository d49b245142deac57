// An Env that forwards to another Env and simulates a crash at the k-th mutating
// operation (create, append, sync, close, rename, delete, mkdir, dir sync): that
// operation fails (an append writes only its first half: a torn write), and so
// does every later one, as if the process had died there. With perform_syncs =
// false, fsyncs are counted but skipped (fast tests; crash logic is unchanged).
// Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"

namespace metaps {

class FaultInjectionEnv : public Env {
 public:
  // fail_at = 0: never fail, only count.
  FaultInjectionEnv(Env* base, int fail_at, bool perform_syncs = true)
      : base_(base), fail_at_(fail_at), perform_syncs_(perform_syncs) {}

  bool perform_syncs() const { return perform_syncs_; }

  int ops() const { return ops_.load(); }
  bool crashed() const { return fail_at_ > 0 && ops_.load() >= fail_at_; }

  // Counts one mutating op; false if it must fail.
  bool Step() {
    const int n = ++ops_;
    return fail_at_ == 0 || n < fail_at_;
  }
  bool IsFailingOp() const { return fail_at_ > 0 && ops_.load() == fail_at_; }
  Status Injected(const std::string& what) {
    return Internal("injected fault at op " + std::to_string(ops_.load()) + ": " + what);
  }

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Status ReadFileToString(const std::string& path, std::string* data) override {
    return base_->ReadFileToString(path, data);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (!Step()) return Injected("rename " + from);
    return base_->RenameFile(from, to);
  }
  Status DeleteFile(const std::string& path) override {
    if (!Step()) return Injected("delete " + path);
    return base_->DeleteFile(path);
  }
  Status CreateDir(const std::string& path) override {
    if (!Step()) return Injected("mkdir " + path);
    return base_->CreateDir(path);
  }
  Status DeleteDir(const std::string& path) override {
    if (!Step()) return Injected("rmdir " + path);
    return base_->DeleteDir(path);
  }
  Status SyncDir(const std::string& dir) override {
    if (!Step()) return Injected("sync dir " + dir);
    return perform_syncs_ ? base_->SyncDir(dir) : Status::Ok();
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }

 private:
  Env* base_;
  const int fail_at_;
  const bool perform_syncs_;
  std::atomic<int> ops_{0};
};

class FaultInjectionFile : public WritableFile {
 public:
  FaultInjectionFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}

  Status Append(std::string_view data) override {
    if (!env_->Step()) {
      if (env_->IsFailingOp()) (void)base_->Append(data.substr(0, data.size() / 2));  // torn
      return env_->Injected("append " + path_);
    }
    return base_->Append(data);
  }
  Status Sync() override {
    if (!env_->Step()) return env_->Injected("sync " + path_);
    return env_->perform_syncs() ? base_->Sync() : Status::Ok();
  }
  Status Close() override {
    if (!env_->Step()) return env_->Injected("close " + path_);
    return base_->Close();
  }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

inline StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  if (!Step()) return Injected("create " + path);
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(path));
  return std::unique_ptr<WritableFile>(new FaultInjectionFile(this, std::move(file), path));
}

}  // namespace metaps
