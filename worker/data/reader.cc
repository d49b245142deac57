#include "worker/data/reader.h"

#include <cstdio>

#include "common/logging.h"

namespace metaps {

LineReader::LineReader(std::vector<std::string> files, const ReaderOptions& options)
    : files_(std::move(files)), options_(options) {}

Status LineReader::ValidateOptions(const std::vector<std::string>& files,
                                   const ReaderOptions& options) {
  if (files.empty()) return InvalidArgument("reader: no input files");
  if (options.num_workers < 1 || options.worker_index < 0 ||
      options.worker_index >= options.num_workers) {
    return InvalidArgument("reader: worker_index " + std::to_string(options.worker_index) +
                           " is not in [0, num_workers=" + std::to_string(options.num_workers) +
                           ")");
  }
  if (options.batch_size == 0) return InvalidArgument("reader: batch_size must be positive");
  return Status::Ok();
}

StatusOr<bool> LineReader::OpenNextFile() {
  if (file_ != nullptr) {
    bytes_of_closed_files_ += file_->bytes_read();
    file_.reset();
  }
  if (next_file_ == files_.size()) return false;
  ASSIGN_OR_RETURN(file_, LineFile::Open(files_[next_file_++], options_.read_buffer_bytes));
  first_line_of_file_ = true;
  OnFileOpened(file_->path());
  return true;
}

void LineReader::RecordBadLine(const std::string& reason) {
  ++stats_.bad_lines;
  if (stats_.bad_lines > kMaxLoggedBadLines && !first_bad_line_.empty()) return;
  std::string where = file_->path() + ":" + std::to_string(file_->line_number()) + ": " + reason;
  METAPS_LOG(WARNING) << where
                      << (stats_.bad_lines == kMaxLoggedBadLines
                              ? " (further bad lines are counted, not logged)"
                              : "");
  if (first_bad_line_.empty()) first_bad_line_ = std::move(where);
}

Status LineReader::CheckBadFraction(bool at_end_of_file) const {
  if (stats_.bad_lines == 0) return Status::Ok();
  if (!at_end_of_file && stats_.lines < options_.min_lines_for_bad_check) return Status::Ok();
  const double fraction = static_cast<double>(stats_.bad_lines) / static_cast<double>(stats_.lines);
  if (fraction <= options_.max_bad_fraction) return Status::Ok();
  char text[160];
  std::snprintf(text, sizeof(text),
                ": %zu of %zu lines read so far are malformed (%.3g%%, limit %.3g%%); first: ",
                stats_.bad_lines, stats_.lines, 100 * fraction, 100 * options_.max_bad_fraction);
  return InvalidArgument(file_->path() + text + first_bad_line_ +
                         " (fix the data or raise max_bad_fraction)");
}

Status LineReader::Next(Batch* batch) {
  batch->Reset(schema_);  // keeps capacity; allocates nothing once warm
  RETURN_IF_ERROR(error_);
  Status status = Fill(batch);
  if (!status.ok()) {
    error_ = status;
    batch->Clear();
  }
  return status;
}

Status LineReader::Fill(Batch* batch) {
  const size_t num_workers = static_cast<size_t>(options_.num_workers);
  const size_t worker_index = static_cast<size_t>(options_.worker_index);
  std::string_view line;
  while (batch->size() < options_.batch_size) {
    if (file_ == nullptr) {
      StatusOr<bool> opened = OpenNextFile();
      if (!opened.ok()) return opened.status();
      if (!*opened) break;
    }
    StatusOr<bool> got = file_->Next(&line);
    if (!got.ok()) return got.status();
    if (!*got) {
      stats_.bytes = bytes_of_closed_files_ + file_->bytes_read();
      RETURN_IF_ERROR(CheckBadFraction(/*at_end_of_file=*/true));
      bytes_of_closed_files_ += file_->bytes_read();
      file_.reset();
      continue;
    }
    if (first_line_of_file_) {
      first_line_of_file_ = false;
      StatusOr<bool> header = IsHeader(line, file_->path());
      if (!header.ok()) return header.status();
      if (*header) continue;
    }
    if (line_index_++ % num_workers != worker_index) continue;
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      ++stats_.empty_lines;
      continue;
    }
    ++stats_.lines;
    reason_.clear();
    if (ParseLine(line, batch, &reason_)) {
      ++stats_.examples;
    } else {
      batch->AbortExample();
      RecordBadLine(reason_.empty() ? "malformed line" : reason_);
    }
    if (stats_.bad_lines > 0) RETURN_IF_ERROR(CheckBadFraction(/*at_end_of_file=*/false));
  }
  stats_.bytes = bytes_of_closed_files_ + (file_ != nullptr ? file_->bytes_read() : 0);
  return Status::Ok();
}

}  // namespace metaps
