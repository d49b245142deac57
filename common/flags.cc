#include "common/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace metaps {

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  flags_[name] = {Kind::kString, target, help, *target};
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help, int64_t min,
                  int64_t max) {
  flags_[name] = {Kind::kInt, target, help, std::to_string(*target), min, max};
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help, double min,
                     double max) {
  std::ostringstream text;
  text << *target;
  Flag flag{Kind::kDouble, target, help, text.str()};
  flag.dmin = min;
  flag.dmax = max;
  flags_[name] = flag;
}

void FlagSet::StringList(const std::string& name, std::vector<std::string>* target,
                         const std::string& help) {
  flags_[name] = {Kind::kStringList, target, help, ""};
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  flags_[name] = {Kind::kBool, target, help, *target ? "true" : "false"};
}

Status FlagSet::Assign(const std::string& name, Flag& flag, const std::string& value) {
  const std::string where = "metaps " + command_ + ": --" + name;
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      break;
    case Kind::kStringList:
      static_cast<std::vector<std::string>*>(flag.target)->push_back(value);
      break;
    case Kind::kInt: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) {
        return InvalidArgument(where + " expects an integer, got '" + value + "'");
      }
      if (v < flag.min || v > flag.max) {
        return InvalidArgument(where + " must be in [" + std::to_string(flag.min) + ", " +
                               std::to_string(flag.max) + "], got " + value);
      }
      *static_cast<int64_t*>(flag.target) = v;
      break;
    }
    case Kind::kDouble: {
      errno = 0;
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
        return InvalidArgument(where + " expects a number, got '" + value + "'");
      }
      if (v < flag.dmin || v > flag.dmax) {
        std::ostringstream range;
        range << where << " must be in [" << flag.dmin << ", " << flag.dmax << "], got " << value;
        return InvalidArgument(range.str());
      }
      *static_cast<double*>(flag.target) = v;
      break;
    }
    case Kind::kBool:
      if (value == "true" || value == "1") {
        *static_cast<bool*>(flag.target) = true;
      } else if (value == "false" || value == "0") {
        *static_cast<bool*>(flag.target) = false;
      } else {
        return InvalidArgument(where + " expects true or false, got '" + value + "'");
      }
      break;
  }
  set_[name] = true;
  return Status::Ok();
}

Status FlagSet::Parse(int argc, char** argv, int begin) {
  for (int i = begin; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return NotFound("help");
    if (arg.rfind("--", 0) != 0) {
      return InvalidArgument("metaps " + command_ + ": unexpected argument '" + arg +
                             "' (flags start with --; see --help)");
    }
    arg = arg.substr(2);
    std::string name = arg, value;
    const size_t eq = arg.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto it = flags_.find(name);
    if (it == flags_.end() && !has_value && name.rfind("no-", 0) == 0) {
      auto neg = flags_.find(name.substr(3));
      if (neg != flags_.end() && neg->second.kind == Kind::kBool) {
        RETURN_IF_ERROR(Assign(neg->first, neg->second, "false"));
        continue;
      }
    }
    if (it == flags_.end()) {
      return InvalidArgument("metaps " + command_ + ": unknown flag --" + name + " (see --help)");
    }
    if (!has_value) {
      if (it->second.kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return InvalidArgument("metaps " + command_ + ": --" + name + " needs a value");
      }
    }
    RETURN_IF_ERROR(Assign(name, it->second, value));
  }
  return Status::Ok();
}

std::string FlagSet::Usage() const {
  std::ostringstream os;
  os << "Flags of 'metaps " << command_ << "':\n";
  for (const auto& [name, flag] : flags_) {
    os << "  --" << name;
    if (flag.kind != Kind::kBool) os << "=VALUE";
    os << "\n      " << flag.help
       << " (default: " << (flag.default_text.empty() ? "\"\"" : flag.default_text) << ")\n";
  }
  return os.str();
}

}  // namespace metaps
