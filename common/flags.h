// Command-line flags of a subcommand: `--name=value`, `--name value`, and
// `--flag` / `--no-flag` for booleans. Unknown flags and bad values are errors
// that name the flag and the subcommand.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace metaps {

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  // Registers a flag bound to `target`, whose current value is the default.
  void String(const std::string& name, std::string* target, const std::string& help);
  // An integer flag; a value outside [min, max] is an error naming the range,
  // so callers may narrow it to int without checking again.
  void Int(const std::string& name, int64_t* target, const std::string& help,
           int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  // A number flag; a value outside [min, max] (or not finite) is an error naming the range.
  void Double(const std::string& name, double* target, const std::string& help, double min = -1e300,
              double max = 1e300);
  void Bool(const std::string& name, bool* target, const std::string& help);
  // A flag that may repeat; each occurrence appends its value.
  void StringList(const std::string& name, std::vector<std::string>* target,
                  const std::string& help);

  // Parses argv[begin..]; positional arguments are an error. Returns
  // NotFound("help") when --help was given (the caller prints Usage()).
  Status Parse(int argc, char** argv, int begin);
  std::string Usage() const;
  bool WasSet(const std::string& name) const { return set_.count(name) > 0; }

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kStringList };
  struct Flag {
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
    int64_t min = INT64_MIN, max = INT64_MAX;
    double dmin = 0, dmax = 0;
  };
  Status Assign(const std::string& name, Flag& flag, const std::string& value);

  std::string command_;
  std::map<std::string, Flag> flags_;
  std::map<std::string, bool> set_;
};

}  // namespace metaps
