// Field splitting and number parsing for the text readers. Allocation-free
// except SplitQuotedCsv, which is for small side files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metaps {

// Splits on every `delim` (empty fields kept): "a,,b" -> {"a", "", "b"}.
void SplitFields(std::string_view line, char delim, std::vector<std::string_view>* fields);
// Splits on every occurrence of the separator string (e.g. "::").
void SplitFields(std::string_view line, std::string_view delim,
                 std::vector<std::string_view>* fields);
// Splits on runs of spaces and tabs, dropping empty tokens.
void SplitWhitespace(std::string_view line, std::vector<std::string_view>* tokens);
// RFC 4180 CSV: fields may be "quoted", with "" inside for a quote. Returns
// false on an unterminated quote or text after a closing quote.
bool SplitQuotedCsv(std::string_view line, std::vector<std::string>* fields);

std::string_view TrimSpaces(std::string_view s);

// Whole-field parses: false unless all of `s` is one finite number.
bool ParseUint64(std::string_view s, uint64_t* value);
bool ParseInt64(std::string_view s, int64_t* value);
bool ParseDouble(std::string_view s, double* value);
bool ParseFloat(std::string_view s, float* value);

}  // namespace metaps
