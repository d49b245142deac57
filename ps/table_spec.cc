#include "ps/table_spec.h"

#include <cmath>
#include <sstream>

namespace metaps {
namespace {

constexpr int kMaxDim = 1 << 16;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class FieldCheck {
 public:
  explicit FieldCheck(const TableSpec& spec) : spec_(spec) {}
  // Records the first failure: "table 'name' (id N): field: must ..., got V".
  template <typename T>
  void Require(bool ok, const char* field, const char* rule, T value) {
    if (ok || !status_.ok()) return;
    std::ostringstream os;
    os << "table '" << spec_.name << "' (id " << spec_.id << "): " << field << " " << rule
       << ", got " << value;
    status_ = InvalidArgument(os.str());
  }
  Status status() const { return status_; }

 private:
  const TableSpec& spec_;
  Status status_;
};

bool Finite(float x) { return std::isfinite(x); }

}  // namespace

const char* OptimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdagrad:
      return "adagrad";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kFtrl:
      return "ftrl";
  }
  return "unknown";
}

bool ParseOptimizerKind(const std::string& name, OptimizerKind* kind) {
  for (OptimizerKind k :
       {OptimizerKind::kSgd, OptimizerKind::kAdagrad, OptimizerKind::kAdam, OptimizerKind::kFtrl}) {
    if (name == OptimizerKindName(k)) {
      *kind = k;
      return true;
    }
  }
  return false;
}

Status ValidateTableSpec(const TableSpec& spec) {
  FieldCheck c(spec);
  c.Require(ValidName(spec.name), "name", "must be 1-128 characters of [A-Za-z0-9_.-]",
            "'" + spec.name + "'");
  c.Require(spec.dim >= 1 && spec.dim <= kMaxDim, "dim", "must be in [1, 65536]", spec.dim);
  const InitializerSpec& init = spec.init;
  switch (init.kind) {
    case InitializerSpec::Kind::kZeros:
      break;
    case InitializerSpec::Kind::kUniform:
      c.Require(Finite(init.uniform_limit) && init.uniform_limit > 0, "init.uniform_limit",
                "must be finite and > 0", init.uniform_limit);
      break;
    case InitializerSpec::Kind::kNormal:
      c.Require(Finite(init.normal_stddev) && init.normal_stddev > 0, "init.normal_stddev",
                "must be finite and > 0", init.normal_stddev);
      break;
    default:
      c.Require(false, "init.kind", "must be zeros, uniform or normal",
                static_cast<int>(init.kind));
  }
  const OptimizerSpec& o = spec.optimizer;
  const int kind = static_cast<int>(o.kind);
  c.Require(kind >= 0 && kind <= 3, "optimizer.kind", "must be sgd, adagrad, adam or ftrl", kind);
  // lr 0 freezes a table (sgd, adagrad, adam); FTRL divides by its alpha.
  if (o.kind == OptimizerKind::kFtrl) {
    c.Require(Finite(o.lr) && o.lr > 0, "optimizer.lr", "must be finite and > 0 for ftrl", o.lr);
  } else {
    c.Require(Finite(o.lr) && o.lr >= 0, "optimizer.lr", "must be finite and >= 0", o.lr);
  }
  c.Require(Finite(o.decoupled_weight_decay) && o.decoupled_weight_decay >= 0 &&
                o.lr * o.decoupled_weight_decay < 1,
            "optimizer.decoupled_weight_decay", "must be >= 0 with lr * decoupled_weight_decay < 1",
            o.decoupled_weight_decay);
  c.Require(o.kind != OptimizerKind::kFtrl || o.decoupled_weight_decay == 0,
            "optimizer.decoupled_weight_decay", "does not apply to ftrl (use l2)",
            o.decoupled_weight_decay);
  c.Require(Finite(o.weight_decay) && o.weight_decay >= 0, "optimizer.weight_decay",
            "must be finite and >= 0", o.weight_decay);
  if (o.kind == OptimizerKind::kAdagrad) {
    c.Require(Finite(o.initial_accumulator) && o.initial_accumulator >= 0,
              "optimizer.initial_accumulator", "must be finite and >= 0", o.initial_accumulator);
    c.Require(Finite(o.eps) && o.eps > 0, "optimizer.eps", "must be finite and > 0", o.eps);
  }
  if (o.kind == OptimizerKind::kAdam) {
    c.Require(o.beta1 >= 0 && o.beta1 < 1, "optimizer.beta1", "must be in [0, 1)", o.beta1);
    c.Require(o.beta2 >= 0 && o.beta2 < 1, "optimizer.beta2", "must be in [0, 1)", o.beta2);
    c.Require(Finite(o.eps) && o.eps > 0, "optimizer.eps", "must be finite and > 0", o.eps);
  }
  if (o.kind == OptimizerKind::kFtrl) {
    c.Require(Finite(o.l1) && o.l1 >= 0, "optimizer.l1", "must be finite and >= 0", o.l1);
    c.Require(Finite(o.l2) && o.l2 >= 0, "optimizer.l2", "must be finite and >= 0", o.l2);
    c.Require(Finite(o.ftrl_beta) && o.ftrl_beta >= 0, "optimizer.ftrl_beta",
              "must be finite and >= 0", o.ftrl_beta);
    c.Require(o.lr_power <= 0 && o.lr_power >= -1, "optimizer.lr_power", "must be in [-1, 0]",
              o.lr_power);
  }
  c.Require(spec.admit_after >= 0, "admit_after", "must be >= 0", spec.admit_after);
  c.Require(spec.evict_after_steps >= 0, "evict_after_steps", "must be >= 0",
            spec.evict_after_steps);
  return c.status();
}

}  // namespace metaps
