// The description of one embedding table: shape, initializer, optimizer and the
// admission / eviction policy. Plain value types, validated once at creation.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "kernels/optimizer_rules.h"

namespace metaps {

struct InitializerSpec {
  enum class Kind { kZeros, kUniform, kNormal };
  Kind kind = Kind::kZeros;
  float uniform_limit = 0.0f;  // kUniform: values in [-limit, limit)
  float normal_stddev = 0.0f;  // kNormal: N(0, stddev^2)

  static InitializerSpec Zeros() { return {}; }
  static InitializerSpec Uniform(float limit) { return {Kind::kUniform, limit, 0.0f}; }
  static InitializerSpec Normal(float stddev) { return {Kind::kNormal, 0.0f, stddev}; }
};

// The update rule and its hyper-parameters (see kernels/optimizer_rules.h).
using OptimizerSpec = OptimizerParams;

struct TableSpec {
  uint32_t id = 0;
  std::string name;  // [A-Za-z0-9_.-]+, unique per job
  int dim = 0;
  InitializerSpec init;
  OptimizerSpec optimizer;
  // A key gets a row only once this many training pulls asked for it (a
  // training step pulls its keys once, then pushes them: pushes and read-only
  // pulls do not count); 0 or 1 = at once.
  int admit_after = 0;
  // Rows not pushed for this many steps are removed by EvictStale; 0 = never.
  int64_t evict_after_steps = 0;
  // The id the row initializer is seeded with; -1 = `id`. A trial's table at
  // another id (its namespace's) with seed_id = the job's table id starts
  // from exactly the rows that job table starts from. Checkpoints and exports
  // record `id`.
  int64_t seed_id = -1;
  // Under BSP aggregation, the workers that push this table each clock; 0 =
  // the server-wide count (ParameterServer::EnableBspAggregation). Over 1:
  // each clock's pushes are held until that many distinct workers pushed it,
  // then applied in rank order, whatever the server-wide count; 1: applied
  // as they arrive.
  int bsp_pushers = 0;
};

constexpr int kMaxBspPushers = 65535;

// The id the initializer of `spec`'s rows is seeded with.
inline uint32_t SeedId(const TableSpec& spec) {
  return spec.seed_id < 0 ? spec.id : static_cast<uint32_t>(spec.seed_id);
}

// Every field equal (a retried TABLE_CREATE asks for the same table).
bool SameTableSpec(const TableSpec& a, const TableSpec& b);

// "sgd", "adagrad", "adam", "ftrl"; ParseOptimizerKind returns false otherwise.
const char* OptimizerKindName(OptimizerKind kind);
bool ParseOptimizerKind(const std::string& name, OptimizerKind* kind);

// Floats per stored row: dim values plus the optimizer state.
inline int RowFloats(const TableSpec& spec) {
  return spec.dim + OptimizerStateFloats(spec.optimizer.kind, spec.dim);
}

// InvalidArgument naming the table and field for anything out of range.
Status ValidateTableSpec(const TableSpec& spec);

// TABLE_CREATE's payload (common/proto/control.proto TableCreate): a table
// created at run time over the wire, with the job seed its rows are
// initialized from and the clock its pushes start after.
struct TableCreateRequest {
  TableSpec spec;
  uint64_t job_seed = 0;
  int64_t clock_origin = 0;
};
std::string EncodeTableCreate(const TableCreateRequest& request);
// InvalidArgument naming `from` and the field for a payload that does not
// parse, has another version, names an unknown initializer or optimizer, or
// a spec ValidateTableSpec refuses.
StatusOr<TableCreateRequest> DecodeTableCreate(const std::string& payload, const std::string& from);

}  // namespace metaps
