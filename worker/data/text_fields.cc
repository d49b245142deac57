#include "worker/data/text_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace metaps {

void SplitFields(std::string_view line, char delim, std::vector<std::string_view>* fields) {
  // A byte loop: fields are short (Criteo: ~6 bytes), where memchr's call
  // overhead dominates.
  fields->clear();
  const char* data = line.data();
  size_t start = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (data[i] == delim) {
      fields->emplace_back(data + start, i - start);
      start = i + 1;
    }
  }
  fields->emplace_back(data + start, line.size() - start);
}

void SplitFields(std::string_view line, std::string_view delim,
                 std::vector<std::string_view>* fields) {
  fields->clear();
  size_t start = 0;
  for (size_t end; (end = line.find(delim, start)) != std::string_view::npos;) {
    fields->push_back(line.substr(start, end - start));
    start = end + delim.size();
  }
  fields->push_back(line.substr(start));
}

void SplitWhitespace(std::string_view line, std::vector<std::string_view>* tokens) {
  tokens->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) tokens->push_back(line.substr(start, i - start));
  }
}

bool SplitQuotedCsv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  size_t i = 0;
  for (;;) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return false;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') return false;
    } else {
      const size_t end = std::min(line.find(',', i), line.size());
      field.assign(line.substr(i, end - i));
      i = end;
    }
    fields->push_back(std::move(field));
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace {

template <typename T>
bool ParseWhole(std::string_view s, T* value) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  const char* begin = s.data();
  if (*begin == '+' && s.size() > 1 && begin[1] != '-') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, *value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

bool ParseUint64(std::string_view s, uint64_t* value) { return ParseWhole(s, value); }
bool ParseInt64(std::string_view s, int64_t* value) { return ParseWhole(s, value); }
bool ParseDouble(std::string_view s, double* value) {
  return ParseWhole(s, value) && std::isfinite(*value);
}
bool ParseFloat(std::string_view s, float* value) {
  return ParseWhole(s, value) && std::isfinite(*value);
}

}  // namespace metaps
