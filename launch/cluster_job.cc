#include "launch/cluster_job.h"

#include <limits.h>
#include <stdlib.h>

#include <cerrno>

#include "common/logging.h"
#include "common/subprocess.h"

namespace metaps {

using Json = nlohmann::json;

StatusOr<std::string> SelfBinaryPath() {
  char self[PATH_MAX];
  if (realpath("/proc/self/exe", self) == nullptr) {
    return ErrnoStatus("cannot find this binary's path (/proc/self/exe)", errno);
  }
  return std::string(self);
}

StatusOr<Json> RunClusterJob(const ClusterJobLauncher& launcher, const std::string& subcommand,
                             const std::vector<std::string>& args, const std::string& dir,
                             const std::string& name) {
  Env* env = Env::Default();
  RETURN_IF_ERROR(env->CreateDir(dir));
  SubprocessOptions o;
  o.argv = SplitWords(launcher.launcher);
  if (o.argv.empty()) {
    o.argv = {launcher.self_binary, subcommand};
    o.argv.insert(o.argv.end(), launcher.in_process_args.begin(), launcher.in_process_args.end());
  } else {
    o.argv.push_back(subcommand);
  }
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdout_path = JoinPath(dir, name + ".stdout.txt");
  o.stderr_path = JoinPath(dir, name + ".log.txt");
  o.env = {{"METAPS_BIN", launcher.self_binary}};
  std::string command;
  for (const std::string& a : o.argv) command += (command.empty() ? "" : " ") + a;
  METAPS_LOG(INFO) << "running " << command;
  ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(o));
  if (!r.ok()) {
    return Internal(subcommand + " " + r.Describe() + " (log: " + o.stderr_path + ")");
  }
  return ReadEventLine(env, o.stdout_path, subcommand == "export" ? "export" : "done");
}

StatusOr<Json> ReadEventLine(Env* env, const std::string& stdout_path, const std::string& event) {
  const std::string head = "{\"event\":\"" + event + "\"";
  std::string text;
  RETURN_IF_ERROR(env->ReadFileToString(stdout_path, &text));
  size_t end = text.size();
  while (end > 0) {
    size_t begin = text.rfind('\n', end - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    const std::string line = text.substr(begin, end - begin);
    if (line.rfind(head, 0) == 0) {
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded()) return DataLoss(stdout_path + ": the " + event + " line is not JSON");
      return j;
    }
    if (begin == 0) break;
    end = begin - 1;
  }
  return NotFound(stdout_path + ": no " + head + "} line");
}

}  // namespace metaps
