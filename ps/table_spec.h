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
};

// "sgd", "adagrad", "adam", "ftrl"; ParseOptimizerKind returns false otherwise.
const char* OptimizerKindName(OptimizerKind kind);
bool ParseOptimizerKind(const std::string& name, OptimizerKind* kind);

// Floats per stored row: dim values plus the optimizer state.
inline int RowFloats(const TableSpec& spec) {
  return spec.dim + OptimizerStateFloats(spec.optimizer.kind, spec.dim);
}

// InvalidArgument naming the table and field for anything out of range.
Status ValidateTableSpec(const TableSpec& spec);

}  // namespace metaps
