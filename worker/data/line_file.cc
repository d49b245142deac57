#include "worker/data/line_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace metaps {

StatusOr<std::unique_ptr<LineFile>> LineFile::Open(const std::string& path, size_t buffer_size,
                                                   size_t max_line_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    if (err == ENOENT) return NotFound("open " + path + ": " + std::strerror(err));
    return ErrnoStatus("open " + path, err);
  }
  buffer_size = std::max<size_t>(16, buffer_size);
  max_line_bytes = std::max<size_t>(1, max_line_bytes);
  return std::unique_ptr<LineFile>(new LineFile(path, file, buffer_size, max_line_bytes));
}

LineFile::LineFile(std::string path, std::FILE* file, size_t buffer_size, size_t max_line_bytes)
    : path_(std::move(path)), file_(file), buffer_(buffer_size), max_line_bytes_(max_line_bytes) {}

LineFile::~LineFile() { std::fclose(file_); }

StatusOr<bool> LineFile::Refill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);  // a line longer than the buffer
  const size_t got = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_);
  end_ += got;
  if (got == 0) {
    if (std::ferror(file_)) return ErrnoStatus("read " + path_, errno);
    eof_ = true;
    return false;
  }
  return true;
}

StatusOr<bool> LineFile::Next(std::string_view* line) {
  size_t scanned = begin_;  // bytes before this offset hold no newline
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* nl = std::memchr(buffer_.data() + scanned, '\n', end_ - scanned);
    size_t length;
    size_t consumed;
    if (nl != nullptr) {
      length = static_cast<const char*>(nl) - start;
      consumed = length + 1;
    } else {
      const size_t unread = end_ - begin_;
      // The bytes read so far of this line hold no newline ("\r\n" may add one).
      if (unread > max_line_bytes_ + 1) {
        return InvalidArgument(path_ + ":" + std::to_string(line_number_ + 1) +
                               ": line longer than " + std::to_string(max_line_bytes_) +
                               " bytes (no newline); is this a text file of the expected format?");
      }
      ASSIGN_OR_RETURN(bool more, Refill());
      if (more) {
        scanned = begin_ + unread;
        continue;
      }
      if (end_ == begin_) return false;
      start = buffer_.data() + begin_;
      length = consumed = end_ - begin_;  // last line without a newline
    }
    if (length > 0 && start[length - 1] == '\r') --length;
    if (length > max_line_bytes_) {
      return InvalidArgument(path_ + ":" + std::to_string(line_number_ + 1) +
                             ": line longer than " + std::to_string(max_line_bytes_) + " bytes");
    }
    *line = std::string_view(start, length);
    begin_ += consumed;
    bytes_read_ += consumed;
    ++line_number_;
    return true;
  }
}

}  // namespace metaps
