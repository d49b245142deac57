// Runs another program and waits for it: how the single-process drivers
// (`metaps retrain`, `metaps scale`) start cluster jobs through a launcher
// such as launch/local.sh. fork + execvp, never a shell: arguments travel as
// they are, with no quoting or expansion.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace metaps {

struct SubprocessOptions {
  // argv[0] is looked up in PATH when it holds no '/'.
  std::vector<std::string> argv;
  // Files the child's stdout and stderr go to (created or truncated); empty:
  // the parent's. The same path for both interleaves them into one file.
  std::string stdout_path, stderr_path;
  // Variables set (or replaced) in the child's environment.
  std::vector<std::pair<std::string, std::string>> env;
  // The child's working directory; empty: the parent's.
  std::string cwd;
};

struct SubprocessResult {
  int exit_code = -1;  // the child's exit status, or -1 when a signal ended it
  int signal = 0;      // the signal that ended it, or 0
  bool ok() const { return exit_code == 0; }
  // "exit code 3" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

// Starts the child and waits for it. The child gets SIGTERM if this process
// dies first (PR_SET_PDEATHSIG), so a killed driver leaves no job running
// behind it. Errors (not the child's failure, which is in the result): the
// program cannot be started or an output file cannot be opened, naming it.
StatusOr<SubprocessResult> RunSubprocess(const SubprocessOptions& options);

// Splits a launcher command line such as "launch/local.sh 1 2 --" into words
// at runs of blanks. No quoting: a word cannot contain a blank.
std::vector<std::string> SplitWords(const std::string& line);

}  // namespace metaps
