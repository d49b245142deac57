// A test suite over one synthetic CTR data set (`metaps datagen --kind ctr`,
// 30,000 rows), made once per suite in a temporary directory: data_dir() is
// DIR/ctr, and runs may write their output under dir(). Everything goes when
// the suite ends, unless a test failed.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/integration/subprocess.h"

namespace metaps::testing {

class CtrDataTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Env("METAPS_BIN").empty()) return;
    dir_ = new std::string(::testing::TempDir() + "/metaps_ctr_" + std::to_string(getpid()));
    Subprocess gen({Env("METAPS_BIN"), "datagen", "--kind", "ctr", "--rows", "30000", "--seed", "5",
                    "--out", *dir_ + "/ctr"});
    ASSERT_EQ(gen.Wait(), 0) << gen.stderr_text();
  }
  static void TearDownTestSuite() {
    if (dir_ == nullptr) return;
    if (!::testing::UnitTest::GetInstance()->Failed()) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (Env("METAPS_BIN").empty() || Env("METAPS_SOURCE_DIR").empty()) {
      GTEST_SKIP() << "run through ctest";
    }
  }
  static inline std::string* dir_ = nullptr;
};

}  // namespace metaps::testing
