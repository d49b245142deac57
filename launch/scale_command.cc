// `metaps scale`: runs a sweep of cluster shapes and workloads through a
// launcher (launch/local.sh, or launch/cluster.sh with a hostfile), one run at
// a time, and writes runs.jsonl (a line per run) and report.html. A driver in
// one process: it is not started under mpirun itself.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/job_config.h"
#include "common/json.h"
#include "common/subprocess.h"
#include "launch/cluster_job.h"
#include "launch/scale/report.h"
#include "launch/scale/runs.h"
#include "launch/scale/svg.h"
#include "launch/scale/sweep.h"
#include "launch/subcommands.h"

namespace metaps {
namespace {

namespace fs = std::filesystem;
using scale::RunRecord;
using scale::ScalePoint;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Join(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& w : words) line += (line.empty() ? "" : " ") + w;
  return line;
}

// A path from the sweep file: relative ones are relative to its directory.
std::string FromSweep(const std::string& sweep_path, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::absolute(sweep_path).parent_path() / path).lexically_normal().string();
}

std::string HostName() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? name : "?";
}

// The checkout beside the binary (build/bin/metaps -> .), or the working directory.
std::string SourceDir(const std::string& bin) {
  const fs::path root = fs::path(bin).parent_path().parent_path().parent_path();
  if (fs::exists(root / "launch" / "local.sh")) return root.string();
  return fs::current_path().string();
}

// Train points leave dim and batch to the job: fill them from its config so
// that every record says what ran.
Status FillTrainDefaults(const scale::Sweep& sweep, const std::string& config,
                         std::vector<ScalePoint>* points) {
  bool needed = false;
  for (const ScalePoint& p : *points) needed |= p.workload == "train";
  if (!needed) return Status::Ok();
  std::vector<std::string> sets(sweep.train().set().begin(), sweep.train().set().end());
  ASSIGN_OR_RETURN(config::JobConfig job, LoadJobConfig(config, sets));
  for (ScalePoint& p : *points) {
    if (p.workload != "train") continue;
    if (p.dim == 0) p.dim = job.model().embedding_dim();
    if (p.batch == 0) p.batch = job.data().batch_size();
  }
  return Status::Ok();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Internal(path + ": cannot write");
  return Status::Ok();
}

struct SweepRun {
  std::string sweep_path, out_dir, bin, launcher_override;
  bool dry_run = false;
};

// Runs every point `repeats` times in rotated rounds; appends each record to
// runs.jsonl as soon as its run ends.
StatusOr<std::vector<RunRecord>> RunSweep(scale::Sweep& sweep, const SweepRun& o) {
  if (!o.launcher_override.empty()) sweep.set_launcher(o.launcher_override);
  scale::LaunchPaths paths;
  paths.bin = o.bin;
  paths.source_dir = SourceDir(o.bin);
  paths.hostfile = FromSweep(o.sweep_path, sweep.hostfile());
  paths.train_config = FromSweep(o.sweep_path, sweep.train().config());
  paths.train_data = FromSweep(o.sweep_path, sweep.train().data());
  std::vector<ScalePoint> points = scale::ExpandPoints(sweep);
  RETURN_IF_ERROR(FillTrainDefaults(sweep, paths.train_config, &points));
  std::error_code ec;
  if (!o.dry_run) fs::create_directories(fs::path(o.out_dir) / "logs", ec);
  if (ec) return Internal(o.out_dir + "/logs: cannot create: " + ec.message());

  bool train = false;
  for (const ScalePoint& p : points) train |= p.workload == "train";
  if (train && paths.train_data.empty()) {
    paths.train_data = (fs::absolute(o.out_dir) / "data").string();
    std::vector<std::string> argv = {o.bin,    "datagen",
                                     "--kind", "ctr",
                                     "--rows", std::to_string(sweep.train().datagen_rows()),
                                     "--seed", "1",
                                     "--out",  paths.train_data};
    std::cerr << "metaps scale: " << Join(argv) << "\n";
    if (!o.dry_run) {
      SubprocessOptions run;
      run.argv = argv;
      run.stdout_path = run.stderr_path = o.out_dir + "/logs/datagen.out";
      ASSIGN_OR_RETURN(SubprocessResult r, RunSubprocess(run));
      if (!r.ok()) {
        return Internal("datagen " + r.Describe() + "; see " + run.stdout_path);
      }
    }
  }

  const std::string jsonl = o.out_dir + "/runs.jsonl";
  std::ofstream out;
  if (!o.dry_run) {
    out.open(jsonl, std::ios::trunc);
    if (!out) return Internal(jsonl + ": cannot write");
  }
  std::vector<RunRecord> records;
  const int total = static_cast<int>(points.size()) * sweep.repeats();
  const std::string host = HostName();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int round = 0; round < sweep.repeats(); ++round) {
    for (int index : scale::RoundOrder(static_cast<int>(points.size()), round)) {
      RunRecord r;
      r.point = points[static_cast<size_t>(index)];
      r.sweep = sweep.name();
      r.host = host;
      r.cores = cores;
      r.launcher = sweep.launcher() == "inprocess" ? "inprocess"
                   : !sweep.launcher().empty()     ? "custom"
                   : !paths.hostfile.empty()       ? "cluster"
                                                   : "local";
      r.run = static_cast<int>(records.size());
      r.round = round;
      char base[32];
      std::snprintf(base, sizeof(base), "logs/run-%03d", r.run);
      r.log = std::string(base) + ".out";
      SubprocessOptions run;
      run.argv = scale::RunArgv(sweep, r.point, paths);
      std::cerr << "[" << r.run + 1 << "/" << total << "] " << Join(run.argv) << "\n";
      if (o.dry_run) {
        records.push_back(r);
        continue;
      }
      run.stdout_path = o.out_dir + "/" + r.log;
      run.stderr_path = o.out_dir + "/" + base + ".err";
      const auto start = std::chrono::steady_clock::now();
      StatusOr<SubprocessResult> result = RunSubprocess(run);
      r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!result.ok()) return result.status();
      if (!result->ok()) {
        r.error = result->Describe() + "; see " + r.log + " and its .err";
      } else if (Status s = scale::ParseRunOutput(ReadAll(run.stdout_path), &r); !s.ok()) {
        r.error = s.message() + " (" + r.log + ")";
      } else {
        r.ok = true;
      }
      std::cerr << "    " << r.point.SeriesLabel() << " " << r.point.ShapeLabel() << ": "
                << (r.ok ? scale::FormatNumber(r.throughput) + " " + r.Unit() : r.error) << " ("
                << scale::FormatNumber(r.wall_s) << " s)\n";
      out << scale::ToJsonLine(r) << "\n";
      out.flush();
      records.push_back(std::move(r));
    }
  }
  if (!o.dry_run && !out) return Internal(jsonl + ": cannot write");
  return records;
}

}  // namespace

int ScaleCommand(int argc, char** argv) {
  std::string sweep_path, out_dir, report_only, compare, launcher;
  bool dry_run = false;
  FlagSet flags("scale");
  flags.String("sweep", &sweep_path,
               "the sweep file (protobuf text, common/proto/scale.proto); with --report-only: "
               "only its projection block is used");
  flags.String("out", &out_dir,
               "directory for runs.jsonl, report.html and logs/ (default: beside --report-only's "
               "file)");
  flags.String("report-only", &report_only,
               "make report.html from this runs.jsonl without running anything");
  flags.String("compare", &compare, "overlay this older runs.jsonl in the report");
  flags.String("launcher", &launcher,
               "launcher words instead of the sweep's ({servers} {workers} {hostfile} {bin} "
               "replaced), or 'inprocess'");
  flags.Bool("dry-run", &dry_run, "print each run's command line and run nothing");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  if (sweep_path.empty() && report_only.empty()) {
    std::cerr << "metaps scale: give --sweep FILE (and --out DIR), or --report-only RUNS.jsonl\n";
    return 2;
  }
  if (out_dir.empty()) {
    if (report_only.empty()) {
      std::cerr << "metaps scale: --out DIR is required to run a sweep\n";
      return 2;
    }
    out_dir = fs::path(report_only).parent_path().string();
    if (out_dir.empty()) out_dir = ".";
  }
  scale::Sweep sweep;
  if (!sweep_path.empty()) {
    StatusOr<scale::Sweep> loaded = scale::LoadSweep(sweep_path);
    if (!loaded.ok()) {
      std::cerr << "metaps scale: " << loaded.status().message() << "\n";
      return 2;
    }
    sweep = std::move(*loaded);
  } else {
    scale::FillProjectionDefaults(sweep.mutable_projection());
  }

  scale::ReportOptions report;
  report.projection = sweep.projection();
  report.local_cores = sweep.projection().local_cores();
  report.command = "metaps scale";
  for (int i = 2; i < argc; ++i) report.command += std::string(" ") + argv[i];
  if (!compare.empty()) {
    StatusOr<std::vector<RunRecord>> old = scale::ReadRunsFile(compare);
    if (!old.ok()) {
      std::cerr << "metaps scale: --compare: " << old.status().message() << "\n";
      return 2;
    }
    report.compare_path = compare;
    report.old_runs = std::move(*old);
  }

  std::vector<RunRecord> runs;
  if (!report_only.empty()) {
    StatusOr<std::vector<RunRecord>> read = scale::ReadRunsFile(report_only);
    if (!read.ok()) {
      std::cerr << "metaps scale: " << read.status().message() << "\n";
      return 2;
    }
    runs = std::move(*read);
  } else {
    SweepRun o;
    o.sweep_path = sweep_path;
    o.out_dir = out_dir;
    o.launcher_override = launcher;
    o.dry_run = dry_run;
    auto self = SelfBinaryPath();
    o.bin = self.ok() ? *self : std::string(argv[0]);
    StatusOr<std::vector<RunRecord>> ran = RunSweep(sweep, o);
    if (!ran.ok()) {
      std::cerr << "metaps scale: " << ran.status().message() << "\n";
      return 1;
    }
    if (dry_run) return 0;
    runs = std::move(*ran);
  }
  report.title = !sweep.name().empty() ? sweep.name() : !runs.empty() ? runs[0].sweep : "sweep";
  const std::string html = out_dir + "/report.html";
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (Status s = WriteText(html, scale::RenderReport(runs, report)); !s.ok()) {
    std::cerr << "metaps scale: " << s.message() << "\n";
    return 1;
  }
  int failed = 0;
  for (const RunRecord& r : runs) failed += r.ok ? 0 : 1;
  nlohmann::json summary = {{"scale", report.title},
                            {"runs", runs.size()},
                            {"failed", failed},
                            {"jsonl", report_only.empty() ? out_dir + "/runs.jsonl" : report_only},
                            {"report", html}};
  std::cout << JsonText(summary) << "\n";
  return failed > 0 ? 1 : 0;
}

}  // namespace metaps
