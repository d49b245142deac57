#include "ps/table_spec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <utility>

#include "common/proto/control.pb.h"

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
  c.Require(spec.seed_id >= -1 && spec.seed_id <= std::numeric_limits<uint32_t>::max(), "seed_id",
            "must be -1 (the id) or a table id in [0, 2^32)", spec.seed_id);
  c.Require(spec.bsp_pushers >= 0 && spec.bsp_pushers <= kMaxBspPushers, "bsp_pushers",
            "must be in [0, 65535]", spec.bsp_pushers);
  return c.status();
}

namespace {

// Floats compared by their bits: a spec that travelled equals itself (NaN
// included), and -0 differs from 0 as on the wire.
bool Same(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

}  // namespace

bool SameTableSpec(const TableSpec& a, const TableSpec& b) {
  const OptimizerSpec& x = a.optimizer;
  const OptimizerSpec& y = b.optimizer;
  return a.id == b.id && a.name == b.name && a.dim == b.dim && a.init.kind == b.init.kind &&
         Same(a.init.uniform_limit, b.init.uniform_limit) &&
         Same(a.init.normal_stddev, b.init.normal_stddev) && x.kind == y.kind && Same(x.lr, y.lr) &&
         Same(x.beta1, y.beta1) && Same(x.beta2, y.beta2) && Same(x.eps, y.eps) &&
         Same(x.initial_accumulator, y.initial_accumulator) && Same(x.l1, y.l1) &&
         Same(x.l2, y.l2) && Same(x.lr_power, y.lr_power) && Same(x.ftrl_beta, y.ftrl_beta) &&
         Same(x.weight_decay, y.weight_decay) &&
         Same(x.decoupled_weight_decay, y.decoupled_weight_decay) &&
         x.adam_global_step == y.adam_global_step && a.admit_after == b.admit_after &&
         a.evict_after_steps == b.evict_after_steps && a.seed_id == b.seed_id &&
         a.bsp_pushers == b.bsp_pushers;
}

namespace {

constexpr uint32_t kTableCreateVersion = 1;

const char* InitializerName(InitializerSpec::Kind kind) {
  switch (kind) {
    case InitializerSpec::Kind::kZeros:
      return "zeros";
    case InitializerSpec::Kind::kUniform:
      return "uniform";
    case InitializerSpec::Kind::kNormal:
      return "normal";
  }
  return "unknown";
}

}  // namespace

std::string EncodeTableCreate(const TableCreateRequest& request) {
  const TableSpec& spec = request.spec;
  control::TableCreate m;
  m.set_version(kTableCreateVersion);
  m.set_id(spec.id);
  m.set_name(spec.name);
  m.set_dim(spec.dim);
  m.set_initializer(InitializerName(spec.init.kind));
  m.set_init_scale(spec.init.kind == InitializerSpec::Kind::kUniform  ? spec.init.uniform_limit
                   : spec.init.kind == InitializerSpec::Kind::kNormal ? spec.init.normal_stddev
                                                                      : 0.0f);
  const OptimizerSpec& o = spec.optimizer;
  control::TableCreate::Optimizer* p = m.mutable_optimizer();
  p->set_kind(OptimizerKindName(o.kind));
  p->set_lr(o.lr);
  p->set_beta1(o.beta1);
  p->set_beta2(o.beta2);
  p->set_eps(o.eps);
  p->set_initial_accumulator(o.initial_accumulator);
  p->set_l1(o.l1);
  p->set_l2(o.l2);
  p->set_lr_power(o.lr_power);
  p->set_ftrl_beta(o.ftrl_beta);
  p->set_weight_decay(o.weight_decay);
  p->set_decoupled_weight_decay(o.decoupled_weight_decay);
  p->set_adam_global_step(o.adam_global_step);
  m.set_admit_after(spec.admit_after);
  m.set_evict_after_steps(spec.evict_after_steps);
  m.set_seed_id(spec.seed_id);
  m.set_bsp_pushers(spec.bsp_pushers);
  m.set_job_seed(request.job_seed);
  m.set_clock_origin(request.clock_origin);
  return m.SerializeAsString();
}

StatusOr<TableCreateRequest> DecodeTableCreate(const std::string& payload,
                                               const std::string& from) {
  control::TableCreate m;
  if (payload.empty() || !m.ParseFromString(payload)) {
    return InvalidArgument(from + ": not a TableCreate payload (" + std::to_string(payload.size()) +
                           " bytes)");
  }
  if (m.version() != kTableCreateVersion) {
    return InvalidArgument(from + ": TableCreate.version " + std::to_string(m.version()) +
                           ", this build speaks " + std::to_string(kTableCreateVersion));
  }
  TableCreateRequest r;
  TableSpec& spec = r.spec;
  spec.id = m.id();
  spec.name = m.name();
  spec.dim = m.dim();
  if (m.initializer() == "zeros") {
    spec.init = InitializerSpec::Zeros();
  } else if (m.initializer() == "uniform") {
    spec.init = InitializerSpec::Uniform(m.init_scale());
  } else if (m.initializer() == "normal") {
    spec.init = InitializerSpec::Normal(m.init_scale());
  } else {
    return InvalidArgument(from + ": table '" + spec.name + "' (id " + std::to_string(spec.id) +
                           "): initializer must be zeros, uniform or normal, got '" +
                           m.initializer() + "'");
  }
  const control::TableCreate::Optimizer& p = m.optimizer();
  // Every float finite, used by the rule or not: a table's spec is compared
  // field by field when a request is retried.
  const std::pair<const char*, float> floats[] = {
      {"init_scale", m.init_scale()},
      {"optimizer.lr", p.lr()},
      {"optimizer.beta1", p.beta1()},
      {"optimizer.beta2", p.beta2()},
      {"optimizer.eps", p.eps()},
      {"optimizer.initial_accumulator", p.initial_accumulator()},
      {"optimizer.l1", p.l1()},
      {"optimizer.l2", p.l2()},
      {"optimizer.lr_power", p.lr_power()},
      {"optimizer.ftrl_beta", p.ftrl_beta()},
      {"optimizer.weight_decay", p.weight_decay()},
      {"optimizer.decoupled_weight_decay", p.decoupled_weight_decay()}};
  for (const auto& [field, value] : floats) {
    if (!std::isfinite(value)) {
      return InvalidArgument(from + ": table '" + spec.name + "' (id " + std::to_string(spec.id) +
                             "): " + field + " must be finite, got " + std::to_string(value));
    }
  }
  OptimizerSpec& o = spec.optimizer;
  if (!ParseOptimizerKind(p.kind(), &o.kind)) {
    return InvalidArgument(from + ": table '" + spec.name + "' (id " + std::to_string(spec.id) +
                           "): optimizer.kind must be sgd, adagrad, adam or ftrl, got '" +
                           p.kind() + "'");
  }
  o.lr = p.lr();
  o.beta1 = p.beta1();
  o.beta2 = p.beta2();
  o.eps = p.eps();
  o.initial_accumulator = p.initial_accumulator();
  o.l1 = p.l1();
  o.l2 = p.l2();
  o.lr_power = p.lr_power();
  o.ftrl_beta = p.ftrl_beta();
  o.weight_decay = p.weight_decay();
  o.decoupled_weight_decay = p.decoupled_weight_decay();
  o.adam_global_step = p.adam_global_step();
  spec.admit_after = m.admit_after();
  spec.evict_after_steps = m.evict_after_steps();
  spec.seed_id = m.seed_id();
  spec.bsp_pushers = m.bsp_pushers();
  r.job_seed = m.job_seed();
  r.clock_origin = m.clock_origin();
  if (Status valid = ValidateTableSpec(spec); !valid.ok()) {
    return InvalidArgument(from + ": " + valid.message());
  }
  return r;
}

}  // namespace metaps
