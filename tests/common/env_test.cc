#include "common/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace metaps {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (std::filesystem::path(::testing::TempDir()) /
             ("metaps_env_test_" + std::to_string(::getpid())))
                .string();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Env* env_ = Env::Default();
  std::string root_;
};

TEST_F(EnvTest, WriteReadRenameListDelete) {
  const std::string dir = JoinPath(root_, "a/b/c");
  ASSERT_TRUE(env_->CreateDir(dir).ok());
  ASSERT_TRUE(env_->CreateDir(dir).ok());  // idempotent
  const std::string path = JoinPath(dir, "f.tmp");
  auto file = env_->NewWritableFile(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append(std::string("wor\0ld", 6)).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_FALSE((*file)->Append("x").ok());

  const std::string final_path = JoinPath(dir, "f");
  ASSERT_TRUE(env_->RenameFile(path, final_path).ok());
  ASSERT_TRUE(env_->SyncDir(dir).ok());
  EXPECT_FALSE(env_->FileExists(path));
  EXPECT_TRUE(env_->FileExists(final_path));
  std::string data;
  ASSERT_TRUE(env_->ReadFileToString(final_path, &data).ok());
  EXPECT_EQ(data, std::string("hello wor\0ld", 12));

  std::vector<std::string> children;
  ASSERT_TRUE(env_->GetChildren(dir, &children).ok());
  EXPECT_EQ(children, std::vector<std::string>{"f"});
  ASSERT_TRUE(env_->DeleteFile(final_path).ok());
  EXPECT_FALSE(env_->FileExists(final_path));
  ASSERT_TRUE(env_->DeleteDir(dir).ok());
  EXPECT_FALSE(env_->FileExists(dir));
}

TEST_F(EnvTest, ErrorsNameThePathAndTheCause) {
  const std::string missing = JoinPath(root_, "missing/file");
  std::string data;
  Status s = env_->ReadFileToString(missing, &data);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find(missing), std::string::npos) << s;
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s;
  EXPECT_FALSE(env_->NewWritableFile(missing).ok());
  EXPECT_NE(env_->RenameFile(missing, missing + "2").message().find(missing), std::string::npos);
  std::vector<std::string> children;
  EXPECT_FALSE(env_->GetChildren(missing, &children).ok());
}

TEST_F(EnvTest, WriteFileAtomicallyReplacesContent) {
  ASSERT_TRUE(env_->CreateDir(root_).ok());
  const std::string path = JoinPath(root_, "LATEST");
  ASSERT_TRUE(WriteFileAtomically(env_, path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(env_, path, "two").ok());
  std::string data;
  ASSERT_TRUE(env_->ReadFileToString(path, &data).ok());
  EXPECT_EQ(data, "two");
  std::vector<std::string> children;
  ASSERT_TRUE(env_->GetChildren(root_, &children).ok());
  EXPECT_EQ(children, std::vector<std::string>{"LATEST"});  // no temp file left
}

TEST(PathTest, JoinAndDirName) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), ".");
  EXPECT_EQ(DirName("/c"), "/");
}

}  // namespace
}  // namespace metaps
