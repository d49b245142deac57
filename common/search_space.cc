#include "common/search_space.h"

#include <google/protobuf/descriptor.h>

#include <cmath>
#include <cstdio>

#include "common/hash.h"
#include "common/job_config.h"
#include "common/text_config.h"

namespace metaps {
namespace {

namespace pb = google::protobuf;

bool IntegerField(const std::string& path) {
  const pb::Descriptor* desc = config::JobConfig::descriptor();
  const pb::FieldDescriptor* field = nullptr;
  size_t begin = 0;
  while (desc != nullptr) {
    const size_t dot = path.find('.', begin);
    field = desc->FindFieldByName(path.substr(begin, dot - begin));
    if (field == nullptr || dot == std::string::npos) break;
    desc = field->message_type();
    begin = dot + 1;
  }
  if (field == nullptr) return false;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return true;
    default:
      return false;
  }
}

// A double in [0, 1) from (seed, sample, parameter): 53 bits of a mixed counter.
double Draw(uint64_t seed, uint64_t sample, uint64_t param) {
  const uint64_t bits =
      Mix64(Mix64(seed ^ 0x5e4c4ULL) + Mix64(sample * 0x9e3779b97f4a7c15ULL + param));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

std::string Value(const config::SearchParam& p, double u) {
  if (p.choice_size() > 0) {
    const int n = p.choice_size();
    return p.choice(std::min(n - 1, static_cast<int>(u * n)));
  }
  const config::SearchRange& r = p.range();
  double v = r.scale() == "log"
                 ? std::exp(std::log(r.min()) + u * (std::log(r.max()) - std::log(r.min())))
                 : r.min() + u * (r.max() - r.min());
  char text[32];
  if (IntegerField(p.field())) {
    std::snprintf(text, sizeof(text), "%lld", static_cast<long long>(std::llround(v)));
  } else {
    std::snprintf(text, sizeof(text), "%.4g", v);
  }
  return text;
}

}  // namespace

std::string Trial::Describe() const {
  std::string text;
  for (const auto& [field, value] : values) {
    text += (text.empty() ? "" : ", ") + field + "=" + value;
  }
  return text;
}

StatusOr<Trial> MakeTrial(const std::string& text, const std::string& source,
                          const std::vector<std::string>& overrides, int index,
                          const std::vector<std::pair<std::string, std::string>>& values) {
  Trial t;
  t.index = index;
  t.values = values;
  // --set of the search block is the study's, not the trial's.
  std::vector<std::string> sets;
  for (const std::string& o : overrides) {
    if (o.rfind("search.", 0) != 0) sets.push_back(o);
  }
  for (const auto& [field, value] : t.values) sets.push_back(field + "=" + value);
  auto parsed = ParseJobConfig(text, source, sets, /*keep_search=*/false);
  if (!parsed.ok()) {
    return InvalidArgument(source + ": search trial " + std::to_string(t.index) + " (" +
                           t.Describe() + "): " + parsed.status().message());
  }
  t.job = std::move(parsed).value();
  return t;
}

StatusOr<std::vector<Trial>> LoadTrials(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, "job config"));
  return ExpandTrials(text, path, overrides);
}

StatusOr<std::vector<Trial>> ExpandTrials(const std::string& text, const std::string& source,
                                          const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(config::JobConfig job, ParseJobConfig(text, source, overrides));
  if (!job.has_search()) {
    return InvalidArgument(source + ": no search { param { ... } } block");
  }
  const config::SearchConfig& s = job.search();
  std::vector<int> grid;  // params with a grid, in order
  for (int i = 0; i < s.param_size(); ++i) {
    if (s.param(i).grid_size() > 0) grid.push_back(i);
  }
  int64_t grid_points = 1;
  for (int i : grid) grid_points *= s.param(i).grid_size();
  constexpr int64_t kMaxTrials = 100000;
  if (grid_points * s.samples() > kMaxTrials) {
    return InvalidArgument(source + ": search: " + std::to_string(grid_points * s.samples()) +
                           " trials, more than " + std::to_string(kMaxTrials));
  }
  std::vector<Trial> trials;
  for (int64_t g = 0; g < grid_points; ++g) {
    // The grid point's index per parameter, the first parameter outermost.
    std::vector<int> at(grid.size());
    int64_t rest = g;
    for (size_t k = grid.size(); k-- > 0;) {
      const int n = s.param(grid[k]).grid_size();
      at[k] = static_cast<int>(rest % n);
      rest /= n;
    }
    for (int sample = 0; sample < s.samples(); ++sample) {
      Trial t;
      t.index = static_cast<int>(trials.size());
      size_t k = 0;
      for (int i = 0; i < s.param_size(); ++i) {
        const config::SearchParam& p = s.param(i);
        std::string value =
            p.grid_size() > 0
                ? p.grid(at[k++])
                : Value(p, Draw(static_cast<uint64_t>(s.seed()), static_cast<uint64_t>(sample),
                                static_cast<uint64_t>(i)));
        t.values.emplace_back(p.field(), std::move(value));
      }
      ASSIGN_OR_RETURN(Trial made, MakeTrial(text, source, overrides, t.index, t.values));
      trials.push_back(std::move(made));
    }
  }
  return trials;
}

}  // namespace metaps
