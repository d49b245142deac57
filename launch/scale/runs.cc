#include "launch/scale/runs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json.h"

namespace metaps::scale {

const char* const kPhaseNames[kPhases] = {"read", "pull", "compute", "push", "allreduce"};

namespace {

using nlohmann::json;

// A number field, or NaN when absent or not a number (JSON writes NaN as null).
double Number(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

std::string String(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// A count from a JSON number: 0 when absent or outside 0..2^31-1.
int SmallInt(double v) { return v >= 0 && v <= INT32_MAX ? static_cast<int>(v) : 0; }

// The mean of the finite values, NaN if none.
double Mean(const std::vector<double>& values) {
  double sum = 0;
  int n = 0;
  for (double v : values) {
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  }
  return n ? sum / n : kNaN;
}

void FillBenchPs(const json& j, RunRecord* r) {
  const double pull = Number(j, "pull_rows_per_s"), push = Number(j, "push_rows_per_s");
  const double steps_keys = static_cast<double>(r->point.workers) * r->point.batch;
  r->throughput = pull > 0 && push > 0 ? 1.0 / (1.0 / pull + 1.0 / push) : kNaN;
  for (double& p : r->phase_ms) p = 0;
  // pull rows/s is the workers' rows over the slowest worker's pull time.
  r->phase_ms[1] = pull > 0 ? steps_keys / pull * 1e3 : kNaN;
  r->phase_ms[3] = push > 0 ? steps_keys / push * 1e3 : kNaN;
  r->pull_p50_ms = Number(j, "pull_p50_ms");
  r->pull_p99_ms = Number(j, "pull_p99_ms");
  r->push_p50_ms = Number(j, "push_p50_ms");
  r->push_p99_ms = Number(j, "push_p99_ms");
}

void FillTrain(const json& j, RunRecord* r) {
  r->throughput = Number(j, "samples_per_s");
  const double steps = Number(j, "steps");
  auto t = j.find("time_s");
  for (int k = 0; k < kPhases; ++k) {
    const double s = t != j.end() && t->is_object() ? Number(*t, kPhaseNames[k]) : kNaN;
    r->phase_ms[k] = steps > 0 ? s / steps * 1e3 : kNaN;
  }
}

}  // namespace

std::string RunRecord::Unit() const { return point.workload == "train" ? "samples/s" : "rows/s"; }

double RunRecord::StepMs() const {
  double sum = 0;
  for (double p : phase_ms) sum += std::isfinite(p) ? p : 0;
  return sum;
}

Status ParseRunOutput(const std::string& stdout_text, RunRecord* record) {
  const bool train = record->point.workload == "train";
  std::istringstream in(stdout_text);
  std::string line, found;
  json parsed;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (train ? String(j, "event") == "done" : String(j, "bench") == "ps") {
      found = line;
      parsed = std::move(j);
    }
  }
  if (found.empty()) {
    return NotFound(std::string("no ") + (train ? "{\"event\":\"done\"}" : "{\"bench\":\"ps\"}") +
                    " line in the run's output");
  }
  record->result = found;
  if (train) {
    FillTrain(parsed, record);
  } else {
    FillBenchPs(parsed, record);
  }
  return Status::Ok();
}

std::string ToJsonLine(const RunRecord& r) {
  json j;
  j["sweep"] = r.sweep;
  j["run"] = r.run;
  j["round"] = r.round;
  j["workload"] = r.point.workload;
  j["servers"] = r.point.servers;
  j["workers"] = r.point.workers;
  j["dim"] = r.point.dim;
  j["batch"] = r.point.batch;
  j["consistency"] = r.point.consistency;
  j["curve"] = r.point.curve;
  j["ok"] = r.ok;
  if (!r.error.empty()) j["error"] = r.error;
  j["wall_s"] = r.wall_s;
  j["throughput"] = r.throughput;
  j["unit"] = r.Unit();
  json phases = json::object();
  for (int k = 0; k < kPhases; ++k) phases[kPhaseNames[k]] = r.phase_ms[k];
  j["step_ms"] = phases;
  if (r.point.workload == "bench-ps") {
    j["latency_ms"] = {{"pull_p50", r.pull_p50_ms},
                       {"pull_p99", r.pull_p99_ms},
                       {"push_p50", r.push_p50_ms},
                       {"push_p99", r.push_p99_ms}};
  }
  j["host"] = r.host;
  j["cores"] = r.cores;
  j["launcher"] = r.launcher;
  j["log"] = r.log;
  if (!r.result.empty()) {
    json result = json::parse(r.result, nullptr, false);
    if (!result.is_discarded()) j["result"] = result;
  }
  return JsonText(j);
}

StatusOr<RunRecord> ParseJsonLine(const std::string& line, const std::string& where) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument(where + ": not a JSON object");
  }
  for (const char* key : {"workload", "servers", "workers", "dim", "batch", "ok", "throughput"}) {
    if (!j.contains(key)) return InvalidArgument(where + ": no \"" + key + "\" field");
  }
  RunRecord r;
  r.point.workload = String(j, "workload");
  if (r.point.workload != "bench-ps" && r.point.workload != "train") {
    return InvalidArgument(where + ": workload '" + r.point.workload +
                           "' is not one of bench-ps, train");
  }
  const double servers = Number(j, "servers"), workers = Number(j, "workers");
  const double dim = Number(j, "dim"), batch = Number(j, "batch");
  if (!(servers >= 1 && servers <= 65535) || !(workers >= 1 && workers <= 65535)) {
    return InvalidArgument(where + ": servers and workers must be numbers in 1..65535");
  }
  if (!(dim >= 0 && dim <= INT32_MAX) || !(batch >= 0 && batch <= INT32_MAX)) {
    return InvalidArgument(where + ": dim and batch must be numbers in 0..2^31-1");
  }
  r.point.servers = static_cast<int>(servers);
  r.point.workers = static_cast<int>(workers);
  r.point.dim = static_cast<int>(dim);
  r.point.batch = static_cast<int>(batch);
  r.point.consistency = String(j, "consistency");
  auto curve = j.find("curve");
  r.point.curve = curve == j.end() || !curve->is_boolean() || curve->get<bool>();
  r.sweep = String(j, "sweep");
  r.host = String(j, "host");
  r.log = String(j, "log");
  if (j.contains("launcher")) r.launcher = String(j, "launcher");
  r.error = String(j, "error");
  r.cores = SmallInt(Number(j, "cores"));
  r.run = SmallInt(Number(j, "run"));
  r.round = SmallInt(Number(j, "round"));
  r.ok = j["ok"].is_boolean() && j["ok"].get<bool>();
  r.wall_s = Number(j, "wall_s");
  r.throughput = Number(j, "throughput");
  if (auto s = j.find("step_ms"); s != j.end() && s->is_object()) {
    for (int k = 0; k < kPhases; ++k) r.phase_ms[k] = Number(*s, kPhaseNames[k]);
  }
  if (auto l = j.find("latency_ms"); l != j.end() && l->is_object()) {
    r.pull_p50_ms = Number(*l, "pull_p50");
    r.pull_p99_ms = Number(*l, "pull_p99");
    r.push_p50_ms = Number(*l, "push_p50");
    r.push_p99_ms = Number(*l, "push_p99");
  }
  if (auto res = j.find("result"); res != j.end() && res->is_object()) r.result = res->dump();
  return r;
}

StatusOr<std::vector<RunRecord>> ReadRunsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open the runs file");
  std::vector<RunRecord> runs;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ASSIGN_OR_RETURN(RunRecord r, ParseJsonLine(line, path + ":" + std::to_string(n)));
    runs.push_back(std::move(r));
  }
  return runs;
}

std::vector<PointSummary> Summarize(const std::vector<RunRecord>& runs) {
  std::vector<PointSummary> points;
  std::map<std::string, size_t> index;
  for (const RunRecord& r : runs) {
    auto [it, fresh] = index.emplace(r.point.Key(), points.size());
    if (fresh) {
      points.emplace_back();
      points.back().point = r.point;
    }
    PointSummary& p = points[it->second];
    if (r.ok && std::isfinite(r.throughput)) {
      p.runs.push_back(&r);
    } else {
      ++p.failed;
    }
  }
  for (PointSummary& p : points) {
    std::vector<double> x, phase[kPhases], lat[4];
    for (const RunRecord* r : p.runs) {
      x.push_back(r->throughput);
      for (int k = 0; k < kPhases; ++k) phase[k].push_back(r->phase_ms[k]);
      lat[0].push_back(r->pull_p50_ms);
      lat[1].push_back(r->pull_p99_ms);
      lat[2].push_back(r->push_p50_ms);
      lat[3].push_back(r->push_p99_ms);
    }
    if (x.empty()) continue;
    p.mean = Mean(x);
    p.min = *std::min_element(x.begin(), x.end());
    p.max = *std::max_element(x.begin(), x.end());
    for (int k = 0; k < kPhases; ++k) p.phase_ms[k] = Mean(phase[k]);
    p.pull_p50_ms = Mean(lat[0]);
    p.pull_p99_ms = Mean(lat[1]);
    p.push_p50_ms = Mean(lat[2]);
    p.push_p99_ms = Mean(lat[3]);
  }
  return points;
}

}  // namespace metaps::scale
