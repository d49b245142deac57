// FlagSet integer ranges, and StatusOr's checks that hold in release builds.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"

namespace metaps {
namespace {

Status ParseArgs(FlagSet* flags, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return flags->Parse(static_cast<int>(argv.size()), argv.data(), 0);
}

// An int64 flag narrowed to int by its caller is checked against its range
// first: --dim 4294967297 used to become 1 when cast to int.
TEST(FlagSetTest, IntegersOutsideTheirRangeNameTheRange) {
  int64_t dim = 8;
  FlagSet flags("bench-ps");
  flags.Int("dim", &dim, "embedding dimension", 1, 65536);
  Status s = ParseArgs(&flags, {"--dim", "4294967297"});
  EXPECT_EQ(s.message(), "metaps bench-ps: --dim must be in [1, 65536], got 4294967297");
  EXPECT_EQ(dim, 8);
  s = ParseArgs(&flags, {"--dim=0"});
  EXPECT_EQ(s.message(), "metaps bench-ps: --dim must be in [1, 65536], got 0");
  s = ParseArgs(&flags, {"--dim", "99999999999999999999"});
  EXPECT_EQ(s.message(), "metaps bench-ps: --dim expects an integer, got '99999999999999999999'");
  ASSERT_TRUE(ParseArgs(&flags, {"--dim", "65536"}).ok());
  EXPECT_EQ(dim, 65536);
}

TEST(StatusOrTest, AnOkStatusWithoutAValueIsAnInternalError) {
  StatusOr<int> v{Status::Ok()};
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInternal);
}

TEST(StatusOrDeathTest, ValueOfAnErrorAbortsWithTheErrorInEveryBuild) {
  StatusOr<int> v{InvalidArgument("no such thing")};
  EXPECT_DEATH((void)v.value(), "StatusOr::value\\(\\) of an error: .*no such thing");
}

}  // namespace
}  // namespace metaps
