#include "common/subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "common/env.h"

namespace metaps {
namespace {

std::string TmpDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(d ? d : "/tmp") + "/subprocess_test";
  EXPECT_TRUE(Env::Default()->CreateDir(dir).ok());
  return dir;
}

TEST(SubprocessTest, CapturesOutputExitCodeAndEnvironment) {
  const std::string dir = TmpDir();
  SubprocessOptions o;
  o.argv = {"sh", "-c", "echo \"out $GREETING\"; echo err >&2; pwd; exit 3"};
  o.stdout_path = dir + "/out.txt";
  o.stderr_path = dir + "/err.txt";
  o.env = {{"GREETING", "a b"}};
  o.cwd = dir;
  auto r = RunSubprocess(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->Describe(), "exit code 3");
  std::string out, err;
  ASSERT_TRUE(Env::Default()->ReadFileToString(dir + "/out.txt", &out).ok());
  ASSERT_TRUE(Env::Default()->ReadFileToString(dir + "/err.txt", &err).ok());
  EXPECT_EQ(out, "out a b\n" + dir + "\n");
  EXPECT_EQ(err, "err\n");
}

TEST(SubprocessTest, OneFileForBothStreamsAndArgumentsAsGiven) {
  const std::string dir = TmpDir();
  SubprocessOptions o;
  o.argv = {"printf", "%s|%s\\n", "$HOME", "two words"};
  o.stdout_path = o.stderr_path = dir + "/both.txt";
  auto r = RunSubprocess(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok());
  std::string both;
  ASSERT_TRUE(Env::Default()->ReadFileToString(dir + "/both.txt", &both).ok());
  EXPECT_EQ(both, "$HOME|two words\n");  // no shell: nothing expanded or split
}

TEST(SubprocessTest, SignalAndMissingProgram) {
  SubprocessOptions o;
  o.argv = {"sh", "-c", "kill -9 $$"};
  auto r = RunSubprocess(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signal, 9);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_NE(r->Describe().find("signal 9"), std::string::npos);

  o.argv = {"/nonexistent/metaps-launcher"};
  auto missing = RunSubprocess(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot start /nonexistent/metaps-launcher"),
            std::string::npos);

  o.argv = {"true"};
  o.stdout_path = "/nonexistent-dir/out.txt";
  auto bad_out = RunSubprocess(o);
  ASSERT_FALSE(bad_out.ok());
  EXPECT_NE(bad_out.status().message().find("/nonexistent-dir/out.txt"), std::string::npos);
}

TEST(SubprocessTest, SplitWords) {
  EXPECT_EQ(SplitWords("  launch/local.sh 1\t2 --\n"),
            (std::vector<std::string>{"launch/local.sh", "1", "2", "--"}));
  EXPECT_TRUE(SplitWords(" \t").empty());
}

}  // namespace
}  // namespace metaps
