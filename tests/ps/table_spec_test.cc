#include "ps/table_spec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/proto/control.pb.h"

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
  s = ValidSpec();
  s.seed_id = -2;
  ExpectInvalid(s, "seed_id");
  s.seed_id = int64_t{1} << 32;
  ExpectInvalid(s, "seed_id");
  s = ValidSpec();
  s.bsp_pushers = -1;
  ExpectInvalid(s, "bsp_pushers");
  s.bsp_pushers = kMaxBspPushers + 1;
  ExpectInvalid(s, "bsp_pushers");
  s.bsp_pushers = kMaxBspPushers;
  s.seed_id = 0;
  EXPECT_TRUE(ValidateTableSpec(s).ok());
}

// Every field travels in TABLE_CREATE's payload.
TEST(TableSpecTest, TableCreateRoundTripsEveryField) {
  TableCreateRequest r;
  r.spec = ValidSpec();
  r.spec.init = InitializerSpec::Normal(0.25f);
  OptimizerSpec& o = r.spec.optimizer;
  o.kind = OptimizerKind::kAdam;
  o.lr = 0.003f;
  o.beta1 = 0.8f;
  o.beta2 = 0.99f;
  o.eps = 1e-6f;
  o.initial_accumulator = 0.2f;
  o.l1 = 0.01f;
  o.l2 = 0.02f;
  o.lr_power = -0.4f;
  o.ftrl_beta = 0.5f;
  o.weight_decay = 1e-4f;
  o.decoupled_weight_decay = 0.01f;
  o.adam_global_step = true;
  r.spec.admit_after = 3;
  r.spec.evict_after_steps = 100;
  r.spec.seed_id = 2;
  r.spec.bsp_pushers = 4;
  r.job_seed = 0xfeedfacecafebeefULL;
  r.clock_origin = -1;
  auto back = DecodeTableCreate(EncodeTableCreate(r), "test");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(SameTableSpec(back->spec, r.spec));
  EXPECT_EQ(back->job_seed, r.job_seed);
  EXPECT_EQ(back->clock_origin, r.clock_origin);
  for (auto init : {InitializerSpec::Zeros(), InitializerSpec::Uniform(0.5f)}) {
    r.spec.init = init;
    back = DecodeTableCreate(EncodeTableCreate(r), "test");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(SameTableSpec(back->spec, r.spec));
  }
  TableSpec other = r.spec;
  other.optimizer.lr = 0.004f;
  EXPECT_FALSE(SameTableSpec(other, r.spec));
}

TEST(TableSpecTest, BadTableCreatePayloadsAreErrors) {
  EXPECT_EQ(DecodeTableCreate("", "rank 3").status().code(), StatusCode::kInvalidArgument);
  auto garbage = DecodeTableCreate("\x0a\xff", "rank 3");
  EXPECT_NE(garbage.status().message().find("rank 3: not a TableCreate payload"), std::string::npos)
      << garbage.status();
  TableCreateRequest r;
  r.spec = ValidSpec();
  r.spec.dim = 70000;
  auto dim = DecodeTableCreate(EncodeTableCreate(r), "rank 3");
  EXPECT_NE(dim.status().message().find("dim must be in"), std::string::npos) << dim.status();
  r.spec = ValidSpec();
  control::TableCreate m;
  ASSERT_TRUE(m.ParseFromString(EncodeTableCreate(r)));
  m.set_initializer("glorot");
  auto init = DecodeTableCreate(m.SerializeAsString(), "rank 3");
  EXPECT_NE(init.status().message().find("initializer must be"), std::string::npos)
      << init.status();
  m.set_initializer("zeros");
  m.mutable_optimizer()->set_kind("rmsprop");
  auto kind = DecodeTableCreate(m.SerializeAsString(), "rank 3");
  EXPECT_NE(kind.status().message().find("optimizer.kind"), std::string::npos) << kind.status();
  m.mutable_optimizer()->set_kind("sgd");
  m.mutable_optimizer()->set_beta1(std::nanf(""));  // unused by sgd, still refused
  auto nan = DecodeTableCreate(m.SerializeAsString(), "rank 3");
  EXPECT_NE(nan.status().message().find("optimizer.beta1 must be finite"), std::string::npos)
      << nan.status();
  m.mutable_optimizer()->set_beta1(0.9f);
  m.set_version(9);
  auto version = DecodeTableCreate(m.SerializeAsString(), "rank 3");
  EXPECT_NE(version.status().message().find("TableCreate.version 9"), std::string::npos)
      << version.status();
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
