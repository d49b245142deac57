// An Env for crash tests, after leveldb's FaultInjectionTestEnv. It forwards
// every operation to a base Env on the local file system and keeps its own
// model of what a power loss would leave behind:
//  - a file's data is durable up to its last WritableFile::Sync; opening an
//    existing file for writing truncates it durably (the pessimistic case);
//  - a directory's entries (files created, renamed or deleted, directories
//    made or removed) are durable as they were at its last SyncDir; renames
//    and creations since then are not.
// SimulateCrash() turns the disk into that durable state: every directory this
// env touched gets back the entries of its last sync, each file holding only
// its synced bytes, and a directory whose own entry was never synced into its
// parent disappears with everything in it. Directories and files the env never
// touched count as durable. No fsync reaches the disk (the model decides what
// survives), so crash tests stay fast.
//
// It also fails on purpose: with fail_at = k, the k-th mutating operation
// (create, append, sync, close, rename, delete, mkdir, rmdir, dir sync) fails
// (an append writes only its first half: a torn write), and so does every
// later one, as if the process had died there; FailAfter arms it later.
//
// Thread-safe. Renaming a directory is not modelled (Internal).
#pragma once

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/env.h"

namespace metaps {

class FaultInjectionEnv : public Env {
 public:
  // fail_at = 0: never fail, only count.
  FaultInjectionEnv(Env* base, int fail_at) : base_(base), fail_at_(fail_at) {}

  int ops() const { return ops_.load(); }
  bool crashed() const {
    const int at = fail_at_.load();
    return at > 0 && ops_.load() >= at;
  }
  // The `n`-th mutating operation from now fails, and every later one.
  void FailAfter(int n) { fail_at_ = ops_.load() + n; }

  // Counts one mutating op; false if it must fail.
  bool Step() {
    const int n = ++ops_;
    const int at = fail_at_.load();
    return at == 0 || n < at;
  }
  bool IsFailingOp() const { return fail_at_.load() > 0 && ops_.load() == fail_at_.load(); }
  Status Injected(const std::string& what) {
    return Internal("injected fault at op " + std::to_string(ops_.load()) + ": " + what);
  }

  // Rewrites the disk to what survives a power loss now (see above), then
  // makes that the model's state too. REQUIRES: no file of this env is open
  // for writing.
  Status SimulateCrash();

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Status ReadFileToString(const std::string& path, std::string* data) override {
    return base_->ReadFileToString(path, data);
  }
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  Status CreateDir(const std::string& path) override;
  Status DeleteDir(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }

  // For FaultInjectionFile.
  void Appended(int inode, std::string_view data) {
    std::lock_guard<std::mutex> lock(mu_);
    inodes_[inode].data.append(data);
  }
  void Synced(int inode) {
    std::lock_guard<std::mutex> lock(mu_);
    inodes_[inode].synced = inodes_[inode].data.size();
  }

 private:
  struct Inode {
    std::string data;   // everything appended
    size_t synced = 0;  // data[0, synced) survives a crash
  };
  struct Entry {
    bool is_dir = false;
    int inode = -1;  // files only
    bool operator==(const Entry& o) const { return is_dir == o.is_dir && inode == o.inode; }
  };
  struct Dir {
    std::map<std::string, Entry> current, durable;
  };

  static std::string Normal(const std::string& path) {
    std::string p = std::filesystem::path(path).lexically_normal().string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  }
  static std::string Parent(const std::string& path) { return DirName(path); }
  static std::string Base(const std::string& path) {
    return std::filesystem::path(path).filename().string();
  }

  int NewInode(std::string data, size_t synced) {
    inodes_.push_back(Inode{std::move(data), synced});
    return static_cast<int>(inodes_.size()) - 1;
  }
  // The model of `dir`, taken from the disk the first time: what is there
  // already counts as durable. REQUIRES: mu_ held.
  Dir& Touch(const std::string& dir) {
    auto it = dirs_.find(dir);
    if (it != dirs_.end()) return it->second;
    Dir& d = dirs_[dir];
    std::error_code ec;
    for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = child.path().filename().string();
      Entry e;
      if (child.is_directory(ec)) {
        e.is_dir = true;
      } else {
        std::string data;
        (void)base_->ReadFileToString(child.path().string(), &data);
        const size_t size = data.size();
        e.inode = NewInode(std::move(data), size);
      }
      d.current[name] = e;
    }
    d.durable = d.current;
    return d;
  }

  Env* base_;
  std::atomic<int> fail_at_;
  std::atomic<int> ops_{0};
  std::mutex mu_;
  std::vector<Inode> inodes_;
  std::map<std::string, Dir> dirs_;  // by normalized path
};

class FaultInjectionFile : public WritableFile {
 public:
  FaultInjectionFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base, std::string path,
                     int inode)
      : env_(env), base_(std::move(base)), path_(std::move(path)), inode_(inode) {}

  Status Append(std::string_view data) override {
    if (!env_->Step()) {
      if (env_->IsFailingOp()) {  // torn
        const std::string_view half = data.substr(0, data.size() / 2);
        (void)base_->Append(half);
        env_->Appended(inode_, half);
      }
      return env_->Injected("append " + path_);
    }
    RETURN_IF_ERROR(base_->Append(data));
    env_->Appended(inode_, data);
    return Status::Ok();
  }
  Status Sync() override {
    if (!env_->Step()) return env_->Injected("sync " + path_);
    env_->Synced(inode_);  // the model's fsync; the disk's is not needed
    return Status::Ok();
  }
  Status Close() override {
    if (!env_->Step()) return env_->Injected("close " + path_);
    return base_->Close();
  }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
  int inode_;
};

inline StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  if (!Step()) return Injected("create " + path);
  const std::string p = Normal(path);
  std::lock_guard<std::mutex> lock(mu_);
  Dir& dir = Touch(Parent(p));  // before the disk changes
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(path));
  auto it = dir.current.find(Base(p));
  int inode;
  if (it != dir.current.end() && !it->second.is_dir) {
    inode = it->second.inode;  // truncated, durably
    inodes_[inode] = Inode{};
  } else {
    inode = NewInode("", 0);
    dir.current[Base(p)] = Entry{false, inode};
  }
  return std::unique_ptr<WritableFile>(new FaultInjectionFile(this, std::move(file), path, inode));
}

inline Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  if (!Step()) return Injected("rename " + from);
  const std::string f = Normal(from), t = Normal(to);
  std::lock_guard<std::mutex> lock(mu_);
  Dir& src = Touch(Parent(f));
  Dir& dst = Touch(Parent(t));
  auto it = src.current.find(Base(f));
  if (it != src.current.end() && it->second.is_dir) {
    return Internal("FaultInjectionEnv: renaming a directory is not modelled: " + from);
  }
  RETURN_IF_ERROR(base_->RenameFile(from, to));
  Entry e;
  if (it != src.current.end()) {
    e = it->second;
    src.current.erase(it);
  } else {  // made behind the env's back: what the disk holds is durable
    std::string data;
    RETURN_IF_ERROR(base_->ReadFileToString(to, &data));
    const size_t size = data.size();
    e.inode = NewInode(std::move(data), size);
  }
  dst.current[Base(t)] = e;
  return Status::Ok();
}

inline Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  if (!Step()) return Injected("delete " + path);
  const std::string p = Normal(path);
  std::lock_guard<std::mutex> lock(mu_);
  Dir& dir = Touch(Parent(p));
  RETURN_IF_ERROR(base_->DeleteFile(path));
  dir.current.erase(Base(p));
  return Status::Ok();
}

inline Status FaultInjectionEnv::CreateDir(const std::string& path) {
  if (!Step()) return Injected("mkdir " + path);
  const std::string p = Normal(path);
  // The directories this call makes, outermost first.
  std::vector<std::string> missing;
  for (std::string d = p; !d.empty() && d != "/" && d != "." && !base_->FileExists(d);
       d = Parent(d)) {
    missing.push_back(d);
  }
  std::reverse(missing.begin(), missing.end());
  std::lock_guard<std::mutex> lock(mu_);
  if (!missing.empty()) Touch(Parent(missing.front()));
  RETURN_IF_ERROR(base_->CreateDir(path));
  for (const std::string& d : missing) {
    dirs_[Parent(d)].current[Base(d)] = Entry{true, -1};
    dirs_[d] = Dir{};  // new and empty: nothing in it is durable yet
  }
  return Status::Ok();
}

inline Status FaultInjectionEnv::DeleteDir(const std::string& path) {
  if (!Step()) return Injected("rmdir " + path);
  const std::string p = Normal(path);
  std::lock_guard<std::mutex> lock(mu_);
  Dir& parent = Touch(Parent(p));
  Touch(p);  // its durable entries come back if the removal is lost
  RETURN_IF_ERROR(base_->DeleteDir(path));
  parent.current.erase(Base(p));
  dirs_[p].current.clear();
  return Status::Ok();
}

inline Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  if (!Step()) return Injected("sync dir " + dir);
  std::lock_guard<std::mutex> lock(mu_);
  Dir& d = Touch(Normal(dir));
  d.durable = d.current;
  return Status::Ok();
}

inline Status FaultInjectionEnv::SimulateCrash() {
  namespace fs = std::filesystem;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> order;
  for (const auto& [path, dir] : dirs_) order.push_back(path);
  // Parents before children: a parent's path is strictly shorter.
  std::stable_sort(order.begin(), order.end(),
                   [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::error_code ec;
  for (const std::string& path : order) {
    // A directory survives if its entry is durable in its (tracked) parent;
    // one whose parent the env never touched was there before: durable.
    bool survives = true;
    for (std::string d = path; d != "/" && d != "."; d = Parent(d)) {
      auto parent = dirs_.find(Parent(d));
      if (parent == dirs_.end()) continue;
      auto e = parent->second.durable.find(Base(d));
      if (e == parent->second.durable.end() || !e->second.is_dir) {
        survives = false;
        break;
      }
    }
    if (!survives) {
      fs::remove_all(path, ec);
      continue;
    }
    fs::create_directories(path, ec);
    const Dir& dir = dirs_[path];
    for (const auto& child : fs::directory_iterator(path, ec)) {
      const std::string name = child.path().filename().string();
      auto e = dir.durable.find(name);
      if (e == dir.durable.end() || e->second.is_dir != child.is_directory()) {
        fs::remove_all(child.path(), ec);
      }
    }
    for (const auto& [name, e] : dir.durable) {
      const std::string child = JoinPath(path, name);
      if (e.is_dir) {
        fs::create_directories(child, ec);
        continue;
      }
      const Inode& inode = inodes_[e.inode];
      ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(child));
      RETURN_IF_ERROR(file->Append(std::string_view(inode.data).substr(0, inode.synced)));
      RETURN_IF_ERROR(file->Close());
    }
  }
  // The model now matches the disk.
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (std::filesystem::exists(it->first)) {
      it->second.current = it->second.durable;
      ++it;
    } else {
      it = dirs_.erase(it);
    }
  }
  for (Inode& inode : inodes_) inode.data.resize(inode.synced);
  return Status::Ok();
}

}  // namespace metaps
