#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace metaps {

std::string SubprocessResult::Describe() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exit code " + std::to_string(exit_code);
}

std::vector<std::string> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\n') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

namespace {

int OpenOutput(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

}  // namespace

StatusOr<SubprocessResult> RunSubprocess(const SubprocessOptions& o) {
  if (o.argv.empty()) return InvalidArgument("RunSubprocess: empty argv");
  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed.
  int out_fd = -1, err_fd = -1;
  if (!o.stdout_path.empty()) {
    out_fd = OpenOutput(o.stdout_path);
    if (out_fd < 0) return ErrnoStatus(o.stdout_path, errno);
  }
  if (!o.stderr_path.empty()) {
    err_fd = o.stderr_path == o.stdout_path ? dup(out_fd) : OpenOutput(o.stderr_path);
    if (err_fd < 0) {
      const int e = errno;
      if (out_fd >= 0) close(out_fd);
      return ErrnoStatus(o.stderr_path, e);
    }
  }
  std::vector<char*> argv;
  for (const std::string& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // An exec failure travels back through a close-on-exec pipe: EOF means exec ran.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(report[0]);
    close(report[1]);
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    return ErrnoStatus("fork", e);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    int e = 0;
    if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) e = errno;
    if (e == 0 && err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0) e = errno;
    if (e == 0 && !o.cwd.empty() && chdir(o.cwd.c_str()) != 0) e = errno;
    for (size_t i = 0; e == 0 && i < o.env.size(); ++i) {
      if (setenv(o.env[i].first.c_str(), o.env[i].second.c_str(), 1) != 0) e = errno;
    }
    if (e == 0) {
      execvp(argv[0], argv.data());
      e = errno;
    }
    ssize_t ignored = write(report[1], &e, sizeof(e));
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus("waitpid", errno);
  }
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    return ErrnoStatus("cannot start " + o.argv[0], exec_errno);
  }
  SubprocessResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace metaps
