// LineFile: streams a text file line by line through a fixed buffer, so files
// larger than memory can be read. Lines may end in "\n" or "\r\n" (the "\r" is
// stripped); a last line without a newline is still returned. A line longer
// than the limit (kDefaultMaxLineBytes) is an error naming file:line, not an
// unbounded buffer.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace metaps {

class LineFile {
 public:
  // NotFound / Internal (with strerror) if the file cannot be opened.
  static constexpr size_t kDefaultMaxLineBytes = size_t{16} << 20;
  static StatusOr<std::unique_ptr<LineFile>> Open(const std::string& path,
                                                  size_t buffer_size = 1 << 20,
                                                  size_t max_line_bytes = kDefaultMaxLineBytes);
  ~LineFile();
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;

  // Sets *line to the next line (valid until the next call) and returns true, or
  // returns false at end of file. A read error, or a line longer than the
  // limit (InvalidArgument "path:line: ..."), is returned as a Status.
  StatusOr<bool> Next(std::string_view* line);

  const std::string& path() const { return path_; }
  // 1-based number of the line last returned.
  size_t line_number() const { return line_number_; }
  // Bytes consumed so far (including newlines).
  size_t bytes_read() const { return bytes_read_; }

 private:
  LineFile(std::string path, std::FILE* file, size_t buffer_size, size_t max_line_bytes);
  // Moves the unread tail to the front and reads more; false at end of file.
  StatusOr<bool> Refill();

  std::string path_;
  std::FILE* file_;
  std::vector<char> buffer_;
  size_t max_line_bytes_;
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  size_t line_number_ = 0;
  size_t bytes_read_ = 0;
};

}  // namespace metaps
