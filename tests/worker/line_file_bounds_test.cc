// A line longer than LineFile's limit is an error naming file:line, not an
// unbounded buffer (issue 13).
#include <gtest/gtest.h>

#include "tests/worker/reader_test_util.h"
#include "worker/data/line_file.h"

namespace metaps {
namespace {

using testing_util::WriteTempFile;

Status Drain(const std::string& path, size_t buffer, size_t limit, size_t* lines) {
  auto file = LineFile::Open(path, buffer, limit);
  if (!file.ok()) return file.status();
  std::string_view line;
  *lines = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, (*file)->Next(&line));
    if (!more) return Status::Ok();
    ++*lines;
  }
}

TEST(LineFileBoundsTest, LineOverTheLimitNamesFileAndLine) {
  // Line 3 has no newline and 5000 bytes; the limit is 1000.
  const std::string path = WriteTempFile(
      "long_line.txt", "ok\n" + std::string(999, 'a') + "\r\n" + std::string(5000, 'b'));
  for (size_t buffer : {16u, 1u << 20}) {  // found while growing, and found whole
    size_t lines = 0;
    Status s = Drain(path, buffer, 1000, &lines);
    ASSERT_FALSE(s.ok()) << "buffer " << buffer;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(path + ":3: line longer than 1000 bytes"), std::string::npos) << s;
    EXPECT_EQ(lines, 2u);
  }
  // The default limit reads the same file.
  size_t lines = 0;
  ASSERT_TRUE(Drain(path, 16, LineFile::kDefaultMaxLineBytes, &lines).ok());
  EXPECT_EQ(lines, 3u);
}

}  // namespace
}  // namespace metaps
