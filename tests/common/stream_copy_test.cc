// StreamRow (both the SSE2 and the AVX-512 copy): rows written in any order, from any alignment,
// with whole lines streamed and partial ones copied, equal what memcpy writes and nothing more.
#include "common/stream_copy.h"

#include <gtest/gtest.h>

#include <iostream>
#include <utility>
#include <vector>

namespace metaps {
namespace {

TEST(StreamCopyTest, StreamedRowsEqualCopiedRowsInAnyOrderAndAlignment) {
  std::vector<std::pair<const char*, RowCopyFn>> copies = {{"sse2", &StreamRowSse2}};
  if (CpuHasAvx512()) {
    copies.push_back({"avx512", &StreamRowAvx512});
  } else {
    std::cout << "[ NOTE     ] no AVX-512 here: only the SSE2 copy is tested\n";
  }
  for (const auto& [name, stream_row] : copies) {
    // dim 16 rows are one line (or two partial ones from an odd start), dim 3
    // rows never hold a whole line, dim 37 rows hold two and partial ends.
    for (size_t dim : {16, 3, 37}) {
      const size_t rows = 1000;
      std::vector<float> src(rows * dim);
      for (size_t i = 0; i < src.size(); ++i) src[i] = 0.5f * static_cast<float>(i % 1013) - 9.0f;
      std::vector<float> buffer(rows * dim + 8);
      for (size_t start : {size_t{0}, size_t{1}, size_t{5}}) {  // floats from a 16-byte boundary
        std::fill(buffer.begin(), buffer.end(), -7.0f);
        float* out = buffer.data() + start;
        // Out of order, as a pull's scatter writes them: row r goes to (r * 7) % rows.
        for (size_t r = 0; r < rows; ++r) {
          stream_row(out + (r * 7 % rows) * dim, src.data() + r * dim, dim * sizeof(float));
        }
        StreamFence();
        for (size_t r = 0; r < rows; ++r) {
          ASSERT_TRUE(std::equal(src.begin() + r * dim, src.begin() + (r + 1) * dim,
                                 out + (r * 7 % rows) * dim))
              << name << " dim " << dim << " start " << start << " row " << r;
        }
        EXPECT_EQ(buffer[start + rows * dim], -7.0f) << "wrote past the end";
        if (start > 0) {
          EXPECT_EQ(buffer[start - 1], -7.0f) << "wrote before the start";
        }
      }
    }
  }
  EXPECT_EQ(StreamRowFn(), CpuHasAvx512() ? &StreamRowAvx512 : &StreamRowSse2);
  EXPECT_FALSE(ShouldStream(256, kStreamMinBytes - 1));  // small outputs stay cached
  EXPECT_FALSE(ShouldStream(32, kStreamMinBytes));       // rows shorter than a line
}

}  // namespace
}  // namespace metaps
