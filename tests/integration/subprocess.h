// A child process with its stdout and stderr read line by line on threads, so
// a test can wait for an event (a line) instead of sleeping. The child runs in
// its own process group, which is killed if the test ends first.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace metaps::testing {

class Subprocess {
 public:
  explicit Subprocess(const std::vector<std::string>& argv) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      close(out[0]);
      close(err[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(out[1]);
    close(err[1]);
    readers_.emplace_back([this, fd = out[0]] { Read(fd, &stdout_lines_); });
    readers_.emplace_back([this, fd = err[0]] { Read(fd, &stderr_lines_); });
  }

  ~Subprocess() {
    if (!exited_) {
      kill(-pid_, SIGKILL);
      Wait();
    }
  }

  // Waits until a line of stdout (or stderr) matches; false at the deadline,
  // which is a safety net for a broken build, not a synchronisation point.
  bool WaitForStdout(const std::string& pattern, std::string* line = nullptr, size_t from = 0) {
    return WaitFor(&stdout_lines_, pattern, line, from);
  }
  bool WaitForStderr(const std::string& pattern, std::string* line = nullptr) {
    return WaitFor(&stderr_lines_, pattern, line, 0);
  }

  // Waits for exit (output fully read); returns the exit code, 128+signal if killed.
  int Wait() {
    if (!exited_) {
      int status = 0;
      waitpid(pid_, &status, 0);
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      exited_ = true;
      // Ranks may outlive mpirun briefly; the group is ours to clean up.
      kill(-pid_, SIGKILL);
    }
    for (auto& t : readers_) {
      if (t.joinable()) t.join();
    }
    return exit_code_;
  }

  std::vector<std::string> stdout_lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return stdout_lines_;
  }
  std::string stderr_text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string all;
    for (const auto& l : stderr_lines_) all += l + "\n";
    return all;
  }
  pid_t pid() const { return pid_; }

 private:
  void Read(int fd, std::vector<std::string>* lines) {
    std::string pending;
    char buf[4096];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::lock_guard<std::mutex> lock(mu_);
        lines->push_back(pending.substr(0, nl));
        pending.erase(0, nl + 1);
        cv_.notify_all();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending.empty()) lines->push_back(pending);
    closed_++;
    cv_.notify_all();
    close(fd);
  }

  bool WaitFor(std::vector<std::string>* lines, const std::string& pattern, std::string* out,
               size_t from) {
    const std::regex re(pattern);
    std::unique_lock<std::mutex> lock(mu_);
    size_t next = from;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (true) {
      for (; next < lines->size(); ++next) {
        if (std::regex_search((*lines)[next], re)) {
          if (out) *out = (*lines)[next];
          return true;
        }
      }
      if (closed_ == 2) return false;
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return false;
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> stdout_lines_, stderr_lines_;
  int closed_ = 0;
  std::vector<std::thread> readers_;
};

// An environment variable, or "" (ctest sets METAPS_BIN and METAPS_SOURCE_DIR).
inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The integer value of "key":N in a JSON line, or -1.
inline long JsonInt(const std::string& line, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"" + key + "\":(-?[0-9]+)"))) return -1;
  return std::stol(m[1]);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "key":number inside the JSON object "split":{...}; -1 if absent.
inline double SplitMetric(const std::string& line, const std::string& split,
                          const std::string& key) {
  std::smatch m;
  if (!std::regex_search(line, m,
                         std::regex("\"" + split + "\":\\{[^}]*\"" + key + "\":([-0-9.e]+)"))) {
    return -1;
  }
  return std::stod(m[1]);
}

// The JSON object lines of `lines` whose "event" is `event`, in order.
inline std::vector<nlohmann::json> Events(const std::vector<std::string>& lines,
                                          const std::string& event) {
  std::vector<nlohmann::json> out;
  for (const std::string& l : lines) {
    nlohmann::json j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_object() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

}  // namespace metaps::testing
