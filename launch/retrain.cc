#include "launch/retrain.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <set>

#include "common/early_stop.h"
#include "common/job_config.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/subprocess.h"
#include "common/text_config.h"
#include "launch/cluster_job.h"

namespace metaps {
namespace {

using Json = nlohmann::json;
namespace pb = google::protobuf;

std::string CurrentDir() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof(buf)) ? std::string(buf) : std::string(".");
}

std::string Absolute(const std::string& path, const std::string& base) {
  if (path.empty() || path[0] == '/') return path;
  return JoinPath(base, path);
}

// The metric's direction (common/early_stop.h); names are checked when the
// pipeline file loads, so an unknown one here only comes from a test.
bool HigherIsBetter(const std::string& metric) {
  auto higher = MetricHigherIsBetter(metric);
  return higher.ok() && *higher;
}

std::string Fmt(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

// j[key] when it is an integer (or an integral number), else `otherwise`:
// json::value would throw on a value of another type, and these files and
// lines are input.
int64_t IntOr(const Json& j, const char* key, int64_t otherwise) {
  if (!j.is_object() || !j.contains(key)) return otherwise;
  const Json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::isfinite(v.get<double>()) &&
      v.get<double>() == std::floor(v.get<double>()) && std::fabs(v.get<double>()) < 9e15) {
    return static_cast<int64_t>(v.get<double>());
  }
  return otherwise;
}

std::string StringOr(const Json& j, const char* key, const std::string& otherwise) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : otherwise;
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

StatusOr<config::PipelineConfig> LoadPipeline(const std::string& path,
                                              const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, "pipeline file"));
  config::PipelineConfig p;
  pb::TextFormat::ParseInfoTree tree;
  RETURN_IF_ERROR(ParseTextConfig(text, path, &p, &tree));
  std::map<std::string, std::string> overridden;
  for (const std::string& o : overrides) {
    RETURN_IF_ERROR(ApplyOverride(o, &p));
    overridden[o.substr(0, o.find('='))] = o;
  }
  if (p.partition_prefix().empty()) p.set_partition_prefix("day=");
  if (!p.has_keep_versions()) p.set_keep_versions(3);
  config::Gate* g = p.mutable_gate();
  if (g->split().empty()) g->set_split("test");
  if (!g->has_min_eval_samples()) g->set_min_eval_samples(1000);
  if (!g->has_min_train_samples()) g->set_min_train_samples(1);

  ConfigChecker c(path, config::PipelineConfig::descriptor(), &tree, overridden);
  c.Require(!p.job().empty(), "job", "is required (the training job's config file)");
  c.Require(!p.data_root().empty(), "data_root", "is required (the partitions' directory)");
  c.Require(!p.state_dir().empty(), "state_dir", "is required");
  c.Require(p.partition_prefix().find('/') == std::string::npos, "partition_prefix",
            "must not contain '/'");
  c.Require(p.keep_versions() >= 1, "keep_versions", "must be at least 1");
  c.Require(p.max_partitions_per_run() >= 0, "max_partitions_per_run", "must not be negative");
  c.OneOf(g->split(), {"test", "valid"}, "gate.split");
  c.Require(g->min_eval_samples() >= 0 && g->min_train_samples() >= 0, "gate",
            "min_eval_samples and min_train_samples must not be negative");
  for (int i = 0; i < g->rule_size(); ++i) {
    const config::GateRule& r = g->rule(i);
    auto known = MetricHigherIsBetter(r.metric());
    c.Require(known.ok(), "gate.rule",
              "rule " + std::to_string(i + 1) + ": " + known.status().message());
    c.Require(!r.has_max_regression() || r.max_regression() >= 0, "gate.rule",
              "rule " + std::to_string(i + 1) + " (" + r.metric() +
                  "): max_regression must not be negative");
  }
  for (const std::string& s : p.set()) {
    c.Require(s.find('=') != std::string::npos, "set", "'" + s + "' is not path.to.field=value");
  }
  RETURN_IF_ERROR(c.status());

  // Relative paths: to the pipeline file's directory, or to the current one
  // for a value given with --set.
  const std::string cwd = CurrentDir();
  const std::string file_dir = Absolute(DirName(path), cwd);
  auto base = [&](const std::string& field) { return overridden.count(field) ? cwd : file_dir; };
  p.set_job(Absolute(p.job(), base("job")));
  p.set_data_root(Absolute(p.data_root(), base("data_root")));
  p.set_state_dir(Absolute(p.state_dir(), base("state_dir")));
  std::vector<std::string> launcher = SplitWords(p.launcher());
  if (!launcher.empty() && launcher[0].find('/') != std::string::npos) {
    launcher[0] = Absolute(launcher[0], base("launcher"));
    std::string joined;
    for (const std::string& w : launcher) joined += (joined.empty() ? "" : " ") + w;
    p.set_launcher(joined);
  }
  // The job must load with the pipeline's overrides before anything runs.
  std::vector<std::string> sets(p.set().begin(), p.set().end());
  RETURN_IF_ERROR(LoadJobConfig(p.job(), sets).status());
  return p;
}

// --- State ---------------------------------------------------------------------

bool PipelineState::IsConsumed(const std::string& partition) const {
  for (const Consumed& c : consumed) {
    if (c.partition == partition) return true;
  }
  if (pending) {
    for (const std::string& p : pending->partitions) {
      if (p == partition) return true;
    }
  }
  return false;
}

Json PipelineState::ToJson() const {
  Json j = {{"format", "metaps-pipeline-state-1"},
            {"next_run", next_run},
            {"next_version", next_version},
            {"consumed", Json::array()},
            {"pending", nullptr}};
  for (const Consumed& c : consumed) {
    j["consumed"].push_back({{"partition", c.partition},
                             {"decision", c.decision},
                             {"run", c.run},
                             {"version", c.version}});
  }
  if (pending) {
    j["pending"] = {{"run", pending->run},
                    {"partitions", pending->partitions},
                    {"checkpoint", pending->checkpoint},
                    {"train_samples", pending->train_samples}};
  }
  return j;
}

StatusOr<PipelineState> PipelineState::FromJson(const std::string& text, const std::string& path) {
  const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return DataLoss(path + ": not a pipeline state file (" + what +
                    "); move it away to start the pipeline afresh");
  };
  if (!j.is_object() || StringOr(j, "format", "") != "metaps-pipeline-state-1") {
    return bad("no format metaps-pipeline-state-1");
  }
  PipelineState s;
  if (!j.contains("next_run") || !j["next_run"].is_number_integer() ||
      !j.contains("next_version") || !j["next_version"].is_number_integer() ||
      !j.contains("consumed") || !j["consumed"].is_array()) {
    return bad("next_run, next_version or consumed missing");
  }
  s.next_run = j["next_run"].get<int64_t>();
  s.next_version = j["next_version"].get<int64_t>();
  for (const Json& c : j["consumed"]) {
    if (!c.is_object() || !c.contains("partition") || !c["partition"].is_string() ||
        !c.contains("decision") || !c["decision"].is_string()) {
      return bad("a consumed entry without partition and decision");
    }
    s.consumed.push_back({c["partition"].get<std::string>(), c["decision"].get<std::string>(),
                          IntOr(c, "run", 0), IntOr(c, "version", 0)});
  }
  const Json& p = j.contains("pending") ? j["pending"] : Json();
  if (p.is_object()) {
    if (!p.contains("partitions") || !p["partitions"].is_array() || !p.contains("checkpoint") ||
        !p["checkpoint"].is_string()) {
      return bad("pending without partitions and checkpoint");
    }
    Pending pending;
    pending.run = IntOr(p, "run", 0);
    for (const Json& name : p["partitions"]) {
      if (!name.is_string()) return bad("a pending partition that is not a string");
      pending.partitions.push_back(name.get<std::string>());
    }
    pending.checkpoint = p["checkpoint"].get<std::string>();
    pending.train_samples = IntOr(p, "train_samples", 0);
    s.pending = std::move(pending);
  }
  return s;
}

StatusOr<PipelineState> ReadPipelineState(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return PipelineState{};
  std::string text;
  RETURN_IF_ERROR(env->ReadFileToString(path, &text));
  return PipelineState::FromJson(text, path);
}

Status WritePipelineState(Env* env, const std::string& path, const PipelineState& state) {
  return WriteFileAtomically(
      env, path, state.ToJson().dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
}

StatusOr<std::vector<std::string>> ListPartitions(Env* env, const std::string& root,
                                                  const std::string& prefix) {
  std::vector<std::string> names, partitions;
  RETURN_IF_ERROR(env->GetChildren(root, &names));
  for (const std::string& name : names) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    struct stat st;
    if (stat(JoinPath(root, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      partitions.push_back(name);
    }
  }
  std::sort(partitions.begin(), partitions.end());
  return partitions;
}

// --- Gate ------------------------------------------------------------------------

GateResult EvaluateGate(const config::Gate& gate, const Json& candidate, const Json* published,
                        int64_t train_samples) {
  GateResult result;
  auto fail = [&](const std::string& why) {
    if (result.pass || result.reason.empty()) result.reason = why;
    result.pass = false;
    result.checks.push_back("FAIL " + why);
  };
  result.pass = true;
  if (!candidate.is_object()) {
    fail("the candidate has no " + gate.split() + " metrics");
    return result;
  }
  // Any metric that is not a number (NaN is written as null) refuses.
  for (const auto& [key, value] : candidate.items()) {
    if (!value.is_number()) fail("candidate " + key + " is not a number");
  }
  const int64_t count = IntOr(candidate, "count", 0);
  if (count < gate.min_eval_samples()) {
    fail(std::to_string(count) + " eval examples, fewer than min_eval_samples " +
         std::to_string(gate.min_eval_samples()));
  } else {
    result.checks.push_back("ok eval examples " + std::to_string(count));
  }
  if (train_samples < gate.min_train_samples()) {
    fail(std::to_string(train_samples) + " training examples, fewer than min_train_samples " +
         std::to_string(gate.min_train_samples()));
  }
  std::vector<config::GateRule> rules(gate.rule().begin(), gate.rule().end());
  if (rules.empty()) {
    const bool binary = candidate.contains("auc");
    config::GateRule r;
    r.set_metric(binary ? "auc" : "rmse");
    r.set_max_regression(binary ? 0.002 : 0.01);
    rules.push_back(r);
    if (binary) {
      r.set_metric("logloss");
      r.set_max_regression(0.01);
      rules.push_back(r);
    }
  }
  for (const config::GateRule& r : rules) {
    const std::string& m = r.metric();
    if (!candidate.contains(m) || !candidate[m].is_number()) {
      fail("the candidate's " + gate.split() + " metrics have no " + m);
      continue;
    }
    const double c = candidate[m].get<double>();
    if (r.has_min_value() && !(c >= r.min_value())) {
      fail(m + " " + Fmt(c) + " below min_value " + Fmt(r.min_value()));
    }
    if (r.has_max_value() && !(c <= r.max_value())) {
      fail(m + " " + Fmt(c) + " above max_value " + Fmt(r.max_value()));
    }
    if (!r.has_max_regression() || published == nullptr) continue;
    if (!published->is_object() || !published->contains(m) || !(*published)[m].is_number()) {
      // A published model without the metric cannot be compared: say so, pass.
      result.checks.push_back("ok " + m + ": the published model has none to compare");
      continue;
    }
    const double p = (*published)[m].get<double>();
    const double worse = HigherIsBetter(m) ? p - c : c - p;
    const std::string figures = m + " " + Fmt(c) + " vs published " + Fmt(p);
    if (worse > r.max_regression()) {
      fail(figures + ": worse by " + Fmt(worse) + ", more than max_regression " +
           Fmt(r.max_regression()));
    } else {
      result.checks.push_back("ok " + figures);
    }
  }
  if (result.pass) {
    result.reason = published == nullptr ? "first version: absolute checks passed"
                                         : "every rule passed against the published model";
  }
  return result;
}

// --- Files -----------------------------------------------------------------------

Status LinkTree(const std::string& from, const std::string& to) {
  Env* env = Env::Default();
  RETURN_IF_ERROR(env->CreateDir(to));
  std::vector<std::string> names;
  RETURN_IF_ERROR(env->GetChildren(from, &names));
  for (const std::string& name : names) {
    const std::string src = JoinPath(from, name), dst = JoinPath(to, name);
    struct stat st;
    if (lstat(src.c_str(), &st) != 0) return ErrnoStatus(src, errno);
    if (S_ISDIR(st.st_mode)) {
      RETURN_IF_ERROR(LinkTree(src, dst));
      continue;
    }
    if (link(src.c_str(), dst.c_str()) == 0) continue;
    if (errno != EXDEV && errno != EPERM) return ErrnoStatus("link " + src + " " + dst, errno);
    std::string data;  // another file system: copy
    RETURN_IF_ERROR(env->ReadFileToString(src, &data));
    RETURN_IF_ERROR(WriteFileAtomically(env, dst, data));
  }
  return env->SyncDir(to);
}

Status RemoveTree(const std::string& path) {
  Env* env = Env::Default();
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus(path, errno);
  }
  if (!S_ISDIR(st.st_mode)) return env->DeleteFile(path);
  std::vector<std::string> names;
  RETURN_IF_ERROR(env->GetChildren(path, &names));
  for (const std::string& name : names) RETURN_IF_ERROR(RemoveTree(JoinPath(path, name)));
  return env->DeleteDir(path);
}

std::string VersionName(int64_t version) {
  char text[32];
  std::snprintf(text, sizeof(text), "v%06lld", static_cast<long long>(version));
  return text;
}

// --- One run -----------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A test hook: METAPS_RETRAIN_CRASH_AT=<point> kills this process there, as a
// power cut would, to check what the next run recovers.
void MaybeCrash(const char* point) {
  const char* at = std::getenv("METAPS_RETRAIN_CRASH_AT");
  if (at != nullptr && std::string(at) == point) {
    std::fprintf(stderr, "metaps retrain: METAPS_RETRAIN_CRASH_AT=%s: killing myself\n", point);
    std::fflush(stderr);
    raise(SIGKILL);
  }
}

class RetrainRun {
 public:
  RetrainRun(const config::PipelineConfig& p, std::string self)
      : p_(p), self_(std::move(self)), env_(Env::Default()), state_dir_(p.state_dir()) {}

  int Run();

 private:
  std::string Path(const std::string& name) const { return JoinPath(state_dir_, name); }
  std::string RunDir() const { return Path("runs/run-" + std::to_string(run_)); }
  // Runs `subcommand` through the launcher; its stdout and log go to
  // <dir>/<name>.stdout.txt and <name>.log.txt. Returns the done line.
  StatusOr<Json> Job(const std::string& subcommand, const std::string& dir, const std::string& name,
                     const std::vector<std::string>& args);
  Status TakeLock();
  // The checkpoints of the published model, or empty.
  std::string PublishedCheckpoint() const;
  int64_t PublishedVersion() const;
  Status FinishInterruptedPublish();
  Status Publish(const Json& candidate_metrics);
  Status SwitchCurrent(int64_t version);
  Status PruneVersions();
  int Finish(int code, const std::string& decision, const std::string& reason);

  const config::PipelineConfig& p_;
  const std::string self_;
  Env* env_;
  const std::string state_dir_;
  int lock_fd_ = -1;
  PipelineState state_;
  int64_t run_ = 0;
  OrderedJson history_ = {{"event", "retrain"}};  // "event" first, then in the order set
  Clock::time_point start_ = Clock::now();
  double train_s_ = 0, eval_s_ = 0, publish_s_ = 0;
};

Status RetrainRun::TakeLock() {
  const std::string path = Path("LOCK");
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return ErrnoStatus(path, errno);
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    char pid[32] = {0};
    ssize_t n = pread(lock_fd_, pid, sizeof(pid) - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (e == EWOULDBLOCK) {
      return Aborted("another run" + (holder.empty() ? "" : " (pid " + holder + ")") +
                     " holds the lock " + path + "; exiting without doing anything");
    }
    return ErrnoStatus("flock " + path, e);
  }
  const std::string me = std::to_string(getpid()) + "\n";
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, me.data(), me.size(), 0) < 0) {
    return ErrnoStatus(path, errno);
  }
  return Status::Ok();
}

StatusOr<Json> RetrainRun::Job(const std::string& subcommand, const std::string& dir,
                               const std::string& name, const std::vector<std::string>& args) {
  ClusterJobLauncher launcher{p_.launcher(), self_, {"--workers", "1"}};
  std::vector<std::string> all = {"--config", p_.job()};
  for (const std::string& s : p_.set()) all.insert(all.end(), {"--set", s});
  all.insert(all.end(), args.begin(), args.end());
  return RunClusterJob(launcher, subcommand, all, dir, name);
}

std::string RetrainRun::PublishedCheckpoint() const {
  const int64_t v = PublishedVersion();
  if (v <= 0) return "";
  const std::string dir = Path("versions/" + VersionName(v) + "/checkpoints");
  return env_->FileExists(JoinPath(dir, "LATEST")) ? dir : "";
}

int64_t RetrainRun::PublishedVersion() const {
  char target[PATH_MAX];
  const ssize_t n = readlink(Path("CURRENT").c_str(), target, sizeof(target) - 1);
  if (n <= 0) return 0;
  const std::string t(target, static_cast<size_t>(n));
  const size_t v = t.rfind("/v");
  return v == std::string::npos ? 0 : std::atoll(t.c_str() + v + 2);
}

Status RetrainRun::SwitchCurrent(int64_t version) {
  const std::string tmp = Path("CURRENT.tmp");
  unlink(tmp.c_str());
  const std::string target = "versions/" + VersionName(version);
  if (symlink(target.c_str(), tmp.c_str()) != 0) return ErrnoStatus("symlink " + tmp, errno);
  RETURN_IF_ERROR(env_->RenameFile(tmp, Path("CURRENT")));
  return env_->SyncDir(state_dir_);
}

// A run killed after versions/v<N> was complete but before the state said so:
// the version holds the pending candidate, so finish its publish.
Status RetrainRun::FinishInterruptedPublish() {
  if (!state_.pending) return Status::Ok();
  const int64_t v = state_.next_version;
  const std::string info = Path("versions/" + VersionName(v) + "/version.json");
  if (!env_->FileExists(info)) return Status::Ok();
  std::string text;
  RETURN_IF_ERROR(env_->ReadFileToString(info, &text));
  const Json j = Json::parse(text, nullptr, false);
  if (!j.is_object() || IntOr(j, "run", -1) != state_.pending->run) return Status::Ok();
  METAPS_LOG(WARNING) << "finishing the publish of " << VersionName(v)
                      << " that an interrupted run left";
  RETURN_IF_ERROR(SwitchCurrent(v));
  for (const std::string& part : state_.pending->partitions) {
    state_.consumed.push_back({part, "published", state_.pending->run, v});
  }
  state_.pending.reset();
  state_.next_version = v + 1;
  return WritePipelineState(env_, Path("state.json"), state_);
}

Status RetrainRun::Publish(const Json& candidate_metrics) {
  const int64_t v = state_.next_version;
  RETURN_IF_ERROR(env_->CreateDir(Path("versions")));
  const std::string tmp = Path("versions/." + VersionName(v) + ".tmp");
  const std::string final_dir = Path("versions/" + VersionName(v));
  RETURN_IF_ERROR(RemoveTree(tmp));
  RETURN_IF_ERROR(RemoveTree(final_dir));  // a stale one of another run
  RETURN_IF_ERROR(env_->CreateDir(tmp));
  // The serving files, by the same export a user would run (it reads no
  // examples, but the model's schema comes from the data).
  RETURN_IF_ERROR(Job("export", RunDir(), "export",
                      {"--checkpoint", state_.pending->checkpoint, "--out", JoinPath(tmp, "model"),
                       "--data", JoinPath(p_.data_root(), state_.pending->partitions.back())})
                      .status());
  RETURN_IF_ERROR(LinkTree(state_.pending->checkpoint, JoinPath(tmp, "checkpoints")));
  OrderedJson info = {{"version", v},
                      {"run", state_.pending->run},
                      {"pipeline", p_.name()},
                      {"published_at", UtcNow()},
                      {"partitions", state_.pending->partitions},
                      {"train_samples", state_.pending->train_samples},
                      {p_.gate().split(), candidate_metrics}};
  RETURN_IF_ERROR(WriteFileAtomically(env_, JoinPath(tmp, "version.json"), JsonText(info) + "\n"));
  RETURN_IF_ERROR(env_->SyncDir(tmp));
  RETURN_IF_ERROR(env_->RenameFile(tmp, final_dir));
  RETURN_IF_ERROR(env_->SyncDir(Path("versions")));
  MaybeCrash("before_current");
  RETURN_IF_ERROR(SwitchCurrent(v));
  for (const std::string& part : state_.pending->partitions) {
    state_.consumed.push_back({part, "published", state_.pending->run, v});
  }
  state_.pending.reset();
  state_.next_version = v + 1;
  RETURN_IF_ERROR(WritePipelineState(env_, Path("state.json"), state_));
  history_["version"] = v;
  return PruneVersions();
}

Status RetrainRun::PruneVersions() {
  std::vector<std::string> names, versions;
  RETURN_IF_ERROR(env_->GetChildren(Path("versions"), &names));
  for (const std::string& n : names) {
    if (n.size() == 7 && n[0] == 'v') versions.push_back(n);
  }
  std::sort(versions.begin(), versions.end());
  const std::string current = VersionName(PublishedVersion());
  const size_t keep = static_cast<size_t>(p_.keep_versions());
  for (size_t i = 0; i + keep < versions.size(); ++i) {
    if (versions[i] == current) continue;
    RETURN_IF_ERROR(RemoveTree(Path("versions/" + versions[i])));
  }
  return Status::Ok();
}

int RetrainRun::Finish(int code, const std::string& decision, const std::string& reason) {
  history_["pipeline"] = p_.name();
  history_["decision"] = decision;
  history_["reason"] = reason;
  history_["exit_code"] = code;
  history_["published_version"] = PublishedVersion();
  history_["durations_s"] = {
      {"train", train_s_}, {"eval", eval_s_}, {"publish", publish_s_}, {"total", Since(start_)}};
  const OrderedJson& line = history_;
  const std::string text = JsonText(line);
  std::cout << text << std::endl;
  // The history is the record of every run: append and fsync.
  const std::string path = Path("history.jsonl");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const std::string with_newline = text + "\n";
  if (fd < 0 || write(fd, with_newline.data(), with_newline.size()) < 0 || fsync(fd) != 0) {
    std::cerr << "metaps retrain: cannot append to " << path << ": " << std::strerror(errno)
              << "\n";
    if (fd >= 0) close(fd);
    return kRetrainFailed;
  }
  close(fd);
  std::cerr << "metaps retrain: " << decision << ": " << reason << "\n";
  return code;
}

int RetrainRun::Run() {
  history_["started"] = UtcNow();
  if (Status s = env_->CreateDir(state_dir_); !s.ok()) {
    std::cerr << "metaps retrain: " << s.message() << "\n";
    return kRetrainFailed;
  }
  if (Status s = TakeLock(); !s.ok()) {
    std::cerr << "metaps retrain: " << s.message() << "\n";
    return s.code() == StatusCode::kAborted ? kRetrainLocked : kRetrainFailed;
  }
  auto failed = [&](const Status& s) { return Finish(kRetrainFailed, "failed", s.message()); };
  auto loaded = ReadPipelineState(env_, Path("state.json"));
  if (!loaded.ok()) return failed(loaded.status());
  state_ = std::move(loaded).value();
  if (Status s = FinishInterruptedPublish(); !s.ok()) return failed(s);

  auto listed = ListPartitions(env_, p_.data_root(), p_.partition_prefix());
  if (!listed.ok()) return failed(listed.status());
  std::vector<std::string> fresh;
  for (const std::string& part : *listed) {
    if (!state_.IsConsumed(part)) fresh.push_back(part);
  }
  if (p_.max_partitions_per_run() > 0 &&
      fresh.size() > static_cast<size_t>(p_.max_partitions_per_run())) {
    fresh.resize(static_cast<size_t>(p_.max_partitions_per_run()));
  }
  const bool have_candidate = state_.pending && !state_.pending->partitions.empty();
  if (fresh.empty() && !have_candidate) {
    if (state_.pending) {  // a run that failed before its first partition was trained
      state_.pending.reset();
      if (Status s = WritePipelineState(env_, Path("state.json"), state_); !s.ok()) {
        return failed(s);
      }
    }
    history_["partitions"] = OrderedJson::array();
    return Finish(kRetrainPublished, "up_to_date",
                  "no partition under " + p_.data_root() + " is new");
  }

  // Train: go on with an interrupted candidate, else warm-start from the
  // published model (or start from scratch when there is none).
  std::string init;
  if (have_candidate) {
    run_ = state_.pending->run;
    init = state_.pending->checkpoint;
    history_["resumed_candidate"] = state_.pending->partitions;
  } else if (state_.pending) {
    run_ = state_.pending->run;
    init = PublishedCheckpoint();
  } else {
    run_ = state_.next_run++;
    init = PublishedCheckpoint();
    state_.pending = PipelineState::Pending{run_, {}, "", 0};
    if (Status s = WritePipelineState(env_, Path("state.json"), state_); !s.ok()) return failed(s);
  }
  history_["run"] = run_;
  history_["warm_start"] = init.empty() ? OrderedJson(nullptr) : OrderedJson(init);
  history_["published_before"] = PublishedVersion();
  history_["partitions"] = fresh;
  const auto train_start = Clock::now();
  for (const std::string& part : fresh) {
    const std::string dir = JoinPath(RunDir(), part);
    // What a killed attempt left is not trusted: train the partition again
    // from the last durable state.
    if (Status s = RemoveTree(dir); !s.ok()) return failed(s);
    std::vector<std::string> args = {"--data", JoinPath(p_.data_root(), part), "--set",
                                     "output_dir=" + dir};
    if (!init.empty()) args.insert(args.end(), {"--init-from", init});
    auto done = Job("train", dir, "train", args);
    if (!done.ok()) return failed(done.status().Annotate("training on " + part));
    const std::string checkpoint = JoinPath(dir, "checkpoints");
    if (!env_->FileExists(JoinPath(checkpoint, "LATEST"))) {
      return failed(Internal("training on " + part + " left no checkpoint in " + checkpoint));
    }
    // The checkpoint is durable (written and synced before the job ended):
    // only now does the candidate consume the partition.
    state_.pending->partitions.push_back(part);
    state_.pending->checkpoint = checkpoint;
    state_.pending->train_samples += IntOr(*done, "samples", 0);
    if (Status s = WritePipelineState(env_, Path("state.json"), state_); !s.ok()) return failed(s);
    MaybeCrash("after_train");
    init = checkpoint;
  }
  train_s_ = Since(train_start);
  if (state_.pending->partitions.empty()) {
    return failed(Internal("a pending candidate with no partition (state.json)"));
  }
  history_["candidate_partitions"] = state_.pending->partitions;
  history_["train_samples"] = state_.pending->train_samples;

  // Evaluate both models on the newest partition's held-out split.
  const auto eval_start = Clock::now();
  const std::string newest = JoinPath(p_.data_root(), state_.pending->partitions.back());
  const std::string& split = p_.gate().split();
  history_["eval_partition"] = state_.pending->partitions.back();
  auto candidate = Job("eval", RunDir(), "eval-candidate",
                       {"--data", newest, "--checkpoint", state_.pending->checkpoint});
  if (!candidate.ok()) return failed(candidate.status().Annotate("evaluating the candidate"));
  const Json candidate_split = candidate->contains(split) ? (*candidate)[split] : Json();
  history_["candidate"] = candidate_split;
  Json published_split;
  const std::string published = PublishedCheckpoint();
  if (!published.empty()) {
    auto pub =
        Job("eval", RunDir(), "eval-published", {"--data", newest, "--checkpoint", published});
    if (!pub.ok()) return failed(pub.status().Annotate("evaluating the published model"));
    published_split = pub->contains(split) ? (*pub)[split] : Json();
    history_["published"] = published_split;
  } else {
    history_["published"] = nullptr;
  }
  eval_s_ = Since(eval_start);

  const GateResult gate =
      EvaluateGate(p_.gate(), candidate_split, published.empty() ? nullptr : &published_split,
                   state_.pending->train_samples);
  history_["gate"] = gate.checks;
  const auto publish_start = Clock::now();
  int code = kRetrainPublished;
  std::string decision = "published";
  if (gate.pass) {
    if (Status s = Publish(candidate_split); !s.ok()) return failed(s.Annotate("publishing"));
  } else {
    // The partitions are judged: they are not trained on again (the next run
    // starts from the published model), and the history says why.
    for (const std::string& part : state_.pending->partitions) {
      state_.consumed.push_back({part, "refused", run_, 0});
    }
    state_.pending.reset();
    if (Status s = WritePipelineState(env_, Path("state.json"), state_); !s.ok()) return failed(s);
    code = kRetrainRefused;
    decision = "refused";
  }
  publish_s_ = Since(publish_start);
  // The run's checkpoints are published (hard links) or refused: drop them,
  // keep the logs and metrics.
  std::vector<std::string> names;
  if (env_->GetChildren(RunDir(), &names).ok()) {
    for (const std::string& n : names) {
      struct stat st;
      const std::string dir = JoinPath(RunDir(), n);
      if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (Status s = RemoveTree(JoinPath(dir, "checkpoints")); !s.ok()) {
        METAPS_LOG(WARNING) << s.message();
      }
    }
  }
  return Finish(code, decision, gate.reason);
}

}  // namespace

int RunRetrain(const config::PipelineConfig& pipeline, const std::string& self_binary) {
  RetrainRun run(pipeline, self_binary);
  return run.Run();
}

}  // namespace metaps
