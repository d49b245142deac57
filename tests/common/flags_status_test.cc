// FlagSet (CLI11 underneath): ranges, booleans, lists, errors, help; and StatusOr's checks that
// hold in release builds.
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

TEST(FlagSetTest, FormsOfValuesBooleansAndLists) {
  std::string out = "o";
  int64_t n = 1;
  double lr = 0.5, shift = 0;
  bool curve = true, verbose = false;
  std::vector<std::string> files;
  FlagSet flags("train");
  flags.String("out", &out, "output directory");
  flags.Int("n", &n, "count", 0, 10);
  flags.Double("lr", &lr, "learning rate", 0, 1);
  flags.Double("shift", &shift, "shift");
  flags.Bool("curve", &curve, "encrypt");
  flags.Bool("verbose", &verbose, "talk");
  flags.StringList("file", &files, "a file");
  ASSERT_TRUE(ParseArgs(&flags, {"--out", "x", "--n=3", "--lr", "0.25", "--shift", "-1.5",
                                 "--no-curve", "--verbose", "--file", "a", "--file=b", "--n", "4"})
                  .ok());
  EXPECT_EQ(out, "x");
  EXPECT_EQ(n, 4);  // the last occurrence counts
  EXPECT_EQ(lr, 0.25);
  EXPECT_EQ(shift, -1.5);
  EXPECT_FALSE(curve);
  EXPECT_TRUE(verbose);
  EXPECT_EQ(files, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(flags.WasSet("n"));
  EXPECT_TRUE(flags.WasSet("curve"));
  ASSERT_TRUE(ParseArgs(&flags, {"--curve=false", "--verbose=0"}).ok());
  EXPECT_FALSE(curve);
  EXPECT_FALSE(verbose);
  EXPECT_FALSE(flags.WasSet("n"));  // each Parse starts afresh
}

TEST(FlagSetTest, ErrorsNameTheSubcommandAndTheFlag) {
  int64_t n = 1;
  double lr = 0.5;
  std::vector<std::string> files;
  FlagSet flags("ping");
  flags.Int("n", &n, "count", 0, 10);
  flags.Double("lr", &lr, "learning rate", 0, 1);
  flags.StringList("file", &files, "a file");
  bool curve = false;
  flags.Bool("curve", &curve, "encrypt");
  EXPECT_EQ(ParseArgs(&flags, {"--curve=maybe"}).message(),
            "metaps ping: --curve expects true or false, got 'maybe'");
  EXPECT_EQ(ParseArgs(&flags, {"--bogus", "1"}).message(),
            "metaps ping: unknown flag --bogus (see --help)");
  EXPECT_EQ(ParseArgs(&flags, {"--bogus=1"}).message(),
            "metaps ping: unknown flag --bogus (see --help)");
  EXPECT_EQ(ParseArgs(&flags, {"stray"}).message(),
            "metaps ping: unexpected argument 'stray' (flags start with --; see --help)");
  EXPECT_EQ(ParseArgs(&flags, {"--file", "a", "b"}).message(),
            "metaps ping: unexpected argument 'b' (flags start with --; see --help)");
  EXPECT_EQ(ParseArgs(&flags, {"--n", "two"}).message(),
            "metaps ping: --n expects an integer, got 'two'");
  EXPECT_EQ(ParseArgs(&flags, {"--lr", "nan"}).message(),
            "metaps ping: --lr expects a number, got 'nan'");
  EXPECT_EQ(ParseArgs(&flags, {"--lr=2"}).message(), "metaps ping: --lr must be in [0, 1], got 2");
  EXPECT_EQ(ParseArgs(&flags, {"--n"}).message(), "metaps ping: --n needs a value");
  EXPECT_EQ(ParseArgs(&flags, {"--", "x"}).message(),
            "metaps ping: unexpected argument 'x' (flags start with --; see --help)");
  EXPECT_EQ(ParseArgs(&flags, {"--lr", "0.1", "--help"}).code(), StatusCode::kNotFound);
}

TEST(FlagSetTest, UsageListsEveryFlagWithItsDefault) {
  int64_t n = 7;
  bool curve = true;
  FlagSet flags("bench-ps");
  flags.Int("requests", &n, "requests per worker", 1, 100);
  flags.Bool("curve", &curve, "encrypt the data plane");
  const std::string usage = flags.Usage();
  EXPECT_NE(usage.find("metaps bench-ps"), std::string::npos) << usage;
  EXPECT_NE(usage.find("--requests"), std::string::npos) << usage;
  EXPECT_NE(usage.find("requests per worker"), std::string::npos) << usage;
  EXPECT_NE(usage.find("(default: 7; range [1, 100])"), std::string::npos) << usage;
  EXPECT_NE(usage.find("--curve, --no-curve"), std::string::npos) << usage;
  EXPECT_NE(usage.find("7"), std::string::npos) << usage;
  EXPECT_NE(usage.find("--no-curve"), std::string::npos) << usage;
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
