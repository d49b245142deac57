#include "ps/table_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace metaps {
namespace {

TableSpec ValidSpec() {
  TableSpec spec;
  spec.id = 7;
  spec.name = "user_ids";
  spec.dim = 16;
  spec.init = InitializerSpec::Uniform(0.05f);
  spec.optimizer.kind = OptimizerKind::kAdagrad;
  return spec;
}

void ExpectInvalid(const TableSpec& spec, const std::string& field) {
  const Status s = ValidateTableSpec(spec);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("table '" + spec.name + "' (id 7)"), std::string::npos) << s;
  EXPECT_NE(s.message().find(field), std::string::npos) << s;
}

TEST(TableSpecTest, ValidSpecPasses) {
  EXPECT_TRUE(ValidateTableSpec(ValidSpec()).ok());
  EXPECT_EQ(RowFloats(ValidSpec()), 32);
}

TEST(TableSpecTest, EachBadFieldIsNamed) {
  TableSpec s = ValidSpec();
  s.dim = 0;
  ExpectInvalid(s, "dim must be in [1, 65536], got 0");
  s = ValidSpec();
  s.name = "has space";
  ExpectInvalid(s, "name");
  s = ValidSpec();
  s.optimizer.lr = -1;
  ExpectInvalid(s, "optimizer.lr");
  s = ValidSpec();
  s.init = InitializerSpec::Normal(0);
  ExpectInvalid(s, "init.normal_stddev");
  s = ValidSpec();
  s.optimizer.kind = OptimizerKind::kAdam;
  s.optimizer.beta1 = 1.0f;
  ExpectInvalid(s, "optimizer.beta1");
  s = ValidSpec();
  s.optimizer.kind = OptimizerKind::kFtrl;
  s.optimizer.lr_power = 0.5f;
  ExpectInvalid(s, "optimizer.lr_power");
  s = ValidSpec();
  s.admit_after = -1;
  ExpectInvalid(s, "admit_after");
  s = ValidSpec();
  s.evict_after_steps = -5;
  ExpectInvalid(s, "evict_after_steps");
}

TEST(TableSpecTest, OptimizerNamesRoundTrip) {
  for (OptimizerKind k :
       {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kFtrl}) {
    OptimizerKind parsed;
    ASSERT_TRUE(ParseOptimizerKind(OptimizerKindName(k), &parsed));
    EXPECT_EQ(parsed, k);
  }
  OptimizerKind parsed;
  EXPECT_FALSE(ParseOptimizerKind("rmsprop", &parsed));
}

}  // namespace
}  // namespace metaps
