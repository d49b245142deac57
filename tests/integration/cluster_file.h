// The --cluster-file the scheduler writes once every rank registered: each
// rank's role, pid, endpoint and public key, for tests that signal or
// impersonate a rank.
#pragma once

#include <sys/types.h>

#include <map>
#include <regex>
#include <string>

#include "tests/integration/subprocess.h"

namespace metaps::testing {

struct RankInfo {
  std::string role, endpoint, public_key;
  pid_t pid = 0;
};

inline std::map<int, RankInfo> ReadClusterFile(const std::string& path) {
  const std::string text = ReadFile(path);
  const std::regex re(
      "\"rank\":([0-9]+),\"role\":\"([a-z]+)\",\"host\":\"[^\"]*\",\"pid\":([0-9]+),"
      "\"endpoint\":\"([^\"]*)\",\"public_key\":\"([^\"]*)\"");
  std::map<int, RankInfo> ranks;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    RankInfo info{(*it)[2], (*it)[4], (*it)[5], static_cast<pid_t>(std::stol((*it)[3]))};
    ranks[std::stoi((*it)[1])] = info;
  }
  return ranks;
}

}  // namespace metaps::testing
