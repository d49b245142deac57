#include "launch/study_cluster.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/control.h"
#include "common/env.h"
#include "common/job_config.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/ps_messages.h"
#include "kernels/cpu/cpu_backend.h"
#include "launch/study.h"
#include "launch/subcommands.h"
#include "ps/server.h"
#include "scheduler/train_job.h"
#include "worker/dataset.h"
#include "worker/trainer.h"

namespace metaps {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// A trial's tables: ids base + 0 ("embedding") and base + 1 ("linear").
constexpr uint32_t kTableStride = 16;
uint32_t TableBase(int trial) { return kTableStride * static_cast<uint32_t>(trial + 1); }

// How long a group told WAIT waits before it asks again.
constexpr std::chrono::milliseconds kWaitPoll{20};

std::string StateFile(const std::string& run_dir) { return JoinPath(run_dir, "state.bin"); }
std::string DenseFile(const std::string& run_dir) { return JoinPath(run_dir, "dense.bin"); }

// Bytes resident now (statm) and at most so far (VmHWM), for this process.
uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// A "Name:  N kB" line of /proc/self/status, in bytes.
uint64_t StatusBytes(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string word;
  while (status >> word) {
    if (word == name) {
      uint64_t kib = 0;
      status >> kib;
      return kib << 10;
    }
  }
  return 0;
}
uint64_t PeakResidentBytes() { return StatusBytes("VmHWM:"); }
// Resident and not backed by a file: the heap and the tables' slabs, not the
// code and libraries a trial's first requests page in.
uint64_t AnonymousBytes() { return StatusBytes("RssAnon:"); }

// "<a>/<b>" -> a, b (non-negative decimals); false for anything else.
bool ParseGroupAndRound(const std::string& text, int64_t* group, int64_t* round) {
  const size_t slash = text.find('/');
  return slash != std::string::npos && ParseStep(text.substr(0, slash), group) &&
         ParseStep(text.substr(slash + 1), round);
}

class StudyDriver final : public JobDriver {
 public:
  StudyDriver(const ClusterView& view, Study* study, int group_workers)
      : view_(view),
        study_(study),
        group_workers_(group_workers),
        tables_(static_cast<size_t>(study->num_trials()), false),
        state_step_(static_cast<size_t>(study->num_trials()), -1) {
    for (const auto& w : study_->Interrupted()) interrupted_.push_back(w);
  }

  Status OnGather(const std::string& name, std::vector<GatherEntry>& entries,
                  wire::Control* reply) override {
    int64_t group = 0, round = 0;
    for (const char* prefix : {"study/next/", "study/ready/", "study/report/"}) {
      const std::string p = prefix;
      if (name.rfind(p, 0) != 0) continue;
      if (!ParseGroupAndRound(name.substr(p.size()), &group, &round) ||
          group >= view_.layout.num_workers() / group_workers_) {
        return ProtocolError("study gather '" + name + "': not <group>/<round> of a worker group");
      }
      RETURN_IF_ERROR(CheckGroup(name, static_cast<int>(group), entries));
      if (p == "study/next/") return OnNext(static_cast<int>(group), reply);
      if (p == "study/report/") return OnReport(name, static_cast<int>(group), entries);
      return Status::Ok();  // study/ready: a barrier
    }
    if (name.rfind("trial/", 0) == 0) {
      const size_t slash = name.find('/', 6);
      int64_t trial = 0;
      if (slash == std::string::npos || !ParseStep(name.substr(6, slash - 6), &trial)) {
        return ProtocolError("study gather '" + name + "': not trial/<t>/...");
      }
      for (auto& [group, run] : running_) {
        if (run.work.trial != trial) continue;
        RETURN_IF_ERROR(CheckGroup(name, group, entries));
        return run.job->OnGather(name.substr(slash + 1), entries, reply);
      }
      return ProtocolError("study gather '" + name + "': trial " + std::to_string(trial) +
                           " is not running");
    }
    if (name == "study/end") return OnEnd(reply);
    if (name == "study/memory") return OnMemory(entries);
    return InvalidArgument("a study got unknown gather " + name);
  }

  void OnStopRequested() override {
    if (ended_) return;  // the study is over: its results stand
    if (!stopping_) {
      std::cerr << "metaps select: stop requested: the running rungs end, their results are not "
                   "recorded; --resume goes on with the study\n";
    }
    stopping_ = true;
  }

  bool finished() const { return finished_; }

 private:
  struct Running {
    SuccessiveHalving::Work work;
    int64_t steps = 0;
    bool rebuild = false;  // only rebuilding the best trial's tables for the export
    std::unique_ptr<TrainJob> job;
    Clock::time_point start;
  };

  // A group's gather must come from exactly that group's workers.
  Status CheckGroup(const std::string& name, int group, const std::vector<GatherEntry>& entries) {
    if (group < 0 || group >= view_.layout.num_workers() / group_workers_) {
      return ProtocolError("study gather '" + name + "': no worker group " + std::to_string(group));
    }
    if (static_cast<int>(entries.size()) != group_workers_) {
      return ProtocolError("study gather '" + name + "' joined by " +
                           std::to_string(entries.size()) + " workers, not the group's " +
                           std::to_string(group_workers_));
    }
    for (const GatherEntry& e : entries) {
      if (view_.layout.RoleOf(e.rank) != wire::WORKER ||
          view_.layout.WorkerIndex(e.rank) / group_workers_ != group) {
        return ProtocolError("study gather '" + name + "' from " + view_.layout.Describe(e.rank) +
                             ", not a worker of group " + std::to_string(group));
      }
    }
    return Status::Ok();
  }

  // The next work, in order: rungs a kill interrupted, then the study's own.
  // Once the study is over, the best trial's tables are rebuilt if a resumed
  // run lost them.
  StatusOr<std::pair<SuccessiveHalving::Work, bool>> NextWork() {
    SuccessiveHalving::Work w;
    if (stopping_) return std::make_pair(w, false);  // kDone
    if (!interrupted_.empty()) {
      w = interrupted_.front();
      interrupted_.pop_front();
      return std::make_pair(w, false);
    }
    w = study_->Next();
    // The decision, before acting on it (a WAIT decides nothing).
    if (w.kind != SuccessiveHalving::Work::Kind::kWait) RETURN_IF_ERROR(study_->Save());
    if (w.kind != SuccessiveHalving::Work::Kind::kDone) return std::make_pair(w, false);
    const SuccessiveHalving& h = study_->halving();
    const int best = h.best();
    // A rebuild in flight has set tables_[best]: the others get DONE.
    if (best < 0 || tables_[static_cast<size_t>(best)]) return std::make_pair(w, false);
    w.kind = SuccessiveHalving::Work::Kind::kRun;
    w.trial = best;
    w.rung = h.rung(best);
    w.from = 0;
    w.to = h.budget(w.rung);
    return std::make_pair(w, true);
  }

  Status OnNext(int group, wire::Control* reply) {
    if (running_.count(group)) {
      return ProtocolError("worker group " + std::to_string(group) +
                           " asked for work while trial " +
                           std::to_string(running_[group].work.trial) + " runs there");
    }
    ASSIGN_OR_RETURN(auto next, NextWork());
    const auto& [w, rebuild] = next;
    control::TrialAssignment a;
    for (uint32_t base : to_drop_) a.add_drop_bases(base);
    to_drop_.clear();
    switch (w.kind) {
      case SuccessiveHalving::Work::Kind::kDone:
        a.set_kind(control::TrialAssignment::DONE);
        break;
      case SuccessiveHalving::Work::Kind::kWait:
        a.set_kind(control::TrialAssignment::WAIT);
        break;
      case SuccessiveHalving::Work::Kind::kRun: {
        const size_t t = static_cast<size_t>(w.trial);
        const Trial& trial = study_->trial(w.trial);
        Running run;
        run.work = w;
        run.rebuild = rebuild;
        run.steps = StepsForSamples(w.to, trial.job.data().batch_size(), group_workers_);
        run.start = Clock::now();
        TrainReport report;
        report.model = trial.job.model().family();
        report.output_dir = study_->TrialDir(w.trial);
        report.max_steps = run.steps;
        report.quiet = true;
        report.workers = group_workers_;
        report.label = "trial " + std::to_string(w.trial) + ": ";
        run.job = std::make_unique<TrainJob>(view_, report);
        a.set_kind(control::TrialAssignment::RUN);
        a.set_trial(w.trial);
        a.set_rung(w.rung);
        a.set_job(JobConfigToText(trial.job));
        a.set_table_base(TableBase(w.trial));
        a.set_max_steps(run.steps);
        a.set_run_dir(study_->TrialDir(w.trial));
        if (tables_[t] && state_step_[t] >= 0 && w.from > 0) {
          a.set_state_file(StateFile(study_->TrialDir(w.trial)));
          a.set_state_step(state_step_[t]);
        } else {
          // A new trial, or one whose tables a kill lost: from scratch.
          if (tables_[t]) a.add_drop_bases(TableBase(w.trial));
          a.set_create_tables(true);
          if (w.from > 0 || rebuild) {
            std::cerr << "metaps select: trial " << w.trial << " has no tables on the servers "
                      << "(a resumed study): training it from scratch to " << w.to << " examples\n";
          }
        }
        tables_[t] = true;
        state_step_[t] = -1;
        running_[group] = std::move(run);
        break;
      }
    }
    reply->set_payload(EncodeTrialAssignment(a));
    return Status::Ok();
  }

  Status OnReport(const std::string& name, int group, std::vector<GatherEntry>& entries) {
    auto it = running_.find(group);
    if (it == running_.end()) {
      return ProtocolError(name + ": worker group " + std::to_string(group) + " runs no trial");
    }
    Running& run = it->second;
    ASSIGN_OR_RETURN(control::TrialReport r,
                     DecodeTrialReport(entries[0].request.header.control().payload(), name));
    if (r.trial() != run.work.trial || r.rung() != run.work.rung || !run.job->done()) {
      return ProtocolError(name + ": a report of trial " + std::to_string(r.trial()) + " rung " +
                           std::to_string(r.rung()) + ", but the group runs trial " +
                           std::to_string(run.work.trial) + " rung " +
                           std::to_string(run.work.rung) +
                           (run.job->done() ? "" : " and it sent no done line"));
    }
    const int t = run.work.trial;
    state_step_[static_cast<size_t>(t)] = r.step();
    const double seconds = std::chrono::duration<double>(Clock::now() - run.start).count();
    if (!run.rebuild && !stopping_) {
      const Json done = Json::parse(JsonText(run.job->done_line()), nullptr, false);
      RETURN_IF_ERROR(study_->Record(run.work, run.steps, done, seconds));
      RETURN_IF_ERROR(study_->Save());
    }
    running_.erase(it);
    // Trials that can neither run again nor win free their tables.
    for (int k = 0; k < study_->num_trials(); ++k) {
      if (tables_[static_cast<size_t>(k)] && study_->halving().Settled(k)) {
        tables_[static_cast<size_t>(k)] = false;
        to_drop_.push_back(TableBase(k));
      }
    }
    return Status::Ok();
  }

  Status OnEnd(wire::Control* reply) {
    ended_ = true;
    control::StudyEnd end;
    if (stopping_) {
      reply->set_payload(EncodeStudyEnd(end));
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(best_, study_->Finish());
    Env* env = Env::Default();
    const std::string out = study_->Path("best-model");
    RETURN_IF_ERROR(env->CreateDir(out));
    std::string dense;
    RETURN_IF_ERROR(env->ReadFileToString(DenseFile(study_->TrialDir(best_)), &dense));
    RETURN_IF_ERROR(WriteFileAtomically(env, JoinPath(out, "dense.bin"), dense));
    end.set_export_best(true);
    end.set_table_base(TableBase(best_));
    end.set_export_dir(out);
    reply->set_payload(EncodeStudyEnd(end));
    return Status::Ok();
  }

  Status OnMemory(std::vector<GatherEntry>& entries) {
    OrderedJson servers = OrderedJson::array();
    for (const GatherEntry& e : entries) {
      if (view_.layout.RoleOf(e.rank) != wire::SERVER) continue;
      const std::string from = "study/memory from " + view_.layout.Describe(e.rank);
      ASSIGN_OR_RETURN(control::ServerMemory m,
                       DecodeServerMemory(e.request.header.control().payload(), from));
      const double mib = 1 << 20;
      servers.push_back(
          {{"server", view_.layout.ServerIndex(e.rank)},
           {"rss_start_mib", m.rss_start() / mib},
           {"rss_peak_mib", m.rss_peak() / mib},
           {"rss_end_mib", m.rss_end() / mib},
           {"end_over_start",
            m.rss_start() > 0 ? static_cast<double>(m.rss_end()) / m.rss_start() : 0.0},
           {"anon_start_mib", m.anon_start() / mib},
           {"anon_end_mib", m.anon_end() / mib},
           {"tables_left", m.tables_left()}});
    }
    finished_ = !stopping_;
    if (stopping_) {
      std::cerr << "metaps select: stopped; `metaps select --resume --out " << study_->options().out
                << "` goes on with it\n";
      return Status::Ok();
    }
    OrderedJson extra = {
        {"mode", "shared-cluster"},
        {"worker_groups", view_.layout.num_workers() / group_workers_},
        {"group_workers", group_workers_},
        {"seconds", std::chrono::duration<double>(Clock::now() - started_).count()},
        {"server_memory", servers}};
    study_->PrintDone(best_, extra);
    return Status::Ok();
  }

  const ClusterView& view_;
  Study* study_;
  const int group_workers_;
  std::deque<SuccessiveHalving::Work> interrupted_;
  std::map<int, Running> running_;  // by worker group
  std::vector<bool> tables_;        // the trial's tables exist on the servers
  // The step of the trial's state file, which goes with its tables; -1: none.
  std::vector<int64_t> state_step_;
  std::vector<uint32_t> to_drop_;  // namespaces to drop, not yet given to a group
  bool stopping_ = false, finished_ = false;
  bool ended_ = false;  // "study/end" answered
  int best_ = -1;
  const Clock::time_point started_ = Clock::now();
};

Status CreateTrialTables(PsClient* ps, const config::JobConfig& job, int group_workers) {
  ASSIGN_OR_RETURN(TableSpec embedding,
                   TableSpecFor(job.embedding(), 0, "embedding", job.model().embedding_dim()));
  ASSIGN_OR_RETURN(TableSpec linear, TableSpecFor(job.linear(), 1, "linear", 1));
  for (TableSpec* spec : {&embedding, &linear}) {
    // Rows start as a plain job's tables 0 and 1 do; the group's workers
    // all push every step (BSP aggregation among them).
    spec->seed_id = spec->id;
    spec->bsp_pushers = group_workers;
    RETURN_IF_ERROR(ps->CreateTable(*spec, job.training().seed(), /*clock_origin=*/0));
  }
  return Status::Ok();
}

// One worker of group g: asks for work until the study is over.
Status RunStudyWorker(RankContext& ctx, SchedulerClient& scheduler, const std::string& data_dir,
                      int group_workers) {
  const int index = ctx.view.layout.WorkerIndex(ctx.view.my_rank);
  const int g = index / group_workers, local = index % group_workers;
  const uint32_t group = WorkerRangeGroup(g * group_workers, group_workers);
  Env* env = Env::Default();
  auto backend = MakeCpuBackend();
  for (int64_t n = 0;; ++n) {
    const std::string at = std::to_string(g) + "/" + std::to_string(n);
    ASSIGN_OR_RETURN(Message m, scheduler.Gather("study/next/" + at, group));
    ASSIGN_OR_RETURN(control::TrialAssignment a,
                     DecodeTrialAssignment(m.header.control().payload(), "study/next/" + at));
    if (local == 0) {
      for (uint32_t base : a.drop_bases()) {
        PsClient ps(ctx.rpc_client, ctx.view);
        ps.set_table_base(base);
        for (uint32_t id : {0u, 1u}) RETURN_IF_ERROR(ps.DropTable(id));
      }
    }
    if (a.kind() == control::TrialAssignment::DONE) break;
    if (a.kind() == control::TrialAssignment::WAIT) {
      std::this_thread::sleep_for(kWaitPoll);
      continue;
    }
    const std::string source = "trial " + std::to_string(a.trial());
    ASSIGN_OR_RETURN(config::JobConfig job, ParseJobConfig(a.job(), source));
    // The budget, not the epochs, ends a rung; the study keeps the state.
    job.mutable_training()->set_max_steps(a.max_steps());
    job.mutable_training()->set_epochs(1000000);
    job.mutable_training()->set_log_every(0);
    job.mutable_training()->set_checkpoint_every(0);
    job.clear_output_dir();
    PsClient ps(ctx.rpc_client, ctx.view);
    ps.set_table_base(a.table_base());
    if (a.create_tables() && local == 0) {
      RETURN_IF_ERROR(CreateTrialTables(&ps, job, group_workers).Annotate(source));
    }
    RETURN_IF_ERROR(scheduler.Barrier("study/ready/" + at, group));
    ASSIGN_OR_RETURN(TrainerData data, OpenDataSources(job, data_dir));
    ASSIGN_OR_RETURN(auto probe, data.train(ReaderOptions{}));
    ASSIGN_OR_RETURN(auto model,
                     CreateModel(ToModelOptions(job.model()), probe->schema(), backend.get()));
    probe.reset();
    TrainerCheckpoints trial;
    trial.mode = TrainerCheckpoints::Mode::kTrial;
    if (!a.state_file().empty()) {
      const int n_dense = static_cast<int>(model->num_dense());
      const size_t floats = static_cast<size_t>(
          n_dense + OptimizerStateFloats(ToOptimizerParams(job.dense_optimizer()).kind, n_dense));
      ASSIGN_OR_RETURN(trial.trial_start,
                       ReadWorkerState(env, a.state_file(), floats, a.state_step()));
    }
    WorkerState end;
    {
      SchedulerClient::Scope scope(&scheduler, "trial/" + std::to_string(a.trial()) + "/", group);
      Trainer trainer(job, data, TrainerDeps{&ps, &scheduler, ctx.allreduce, model.get()}, local,
                      group_workers, trial);
      RETURN_IF_ERROR(trainer.Run().Annotate(source));
      end = trainer.State();
    }
    if (local == 0) {
      RETURN_IF_ERROR(env->CreateDir(a.run_dir()));
      RETURN_IF_ERROR(WriteWorkerState(env, StateFile(a.run_dir()), end));
      RETURN_IF_ERROR(
          WriteDenseFile(env, DenseFile(a.run_dir()), end.dense_row.data(), model->num_dense()));
    }
    control::TrialReport report;
    report.set_trial(a.trial());
    report.set_rung(a.rung());
    report.set_step(end.step);
    RETURN_IF_ERROR(
        scheduler.GatherPayload("study/report/" + at, group, EncodeTrialReport(report)).status());
  }
  RETURN_IF_ERROR(scheduler.Gather("study/end", kGroupMembers).status());
  return scheduler.Gather("study/memory", kGroupMembers).status();
}

Status RunStudyServer(RankContext& ctx) {
  ParameterServer server(ctx.rpc_server, ctx.view);
  // Trials run BSP; each table has its own clock and its group's pushers.
  server.SetClockWindow(ClockWindow::ForStaleness(0));
  server.Start();
  return RunMember(ctx, [&](SchedulerClient& scheduler) -> Status {
    // Every member is up and connected (and the data plane's sessions open):
    // what the servers hold before the first trial.
    const uint64_t rss_start = ResidentBytes(), anon_start = AnonymousBytes();
    ASSIGN_OR_RETURN(Message m, scheduler.Gather("study/end", kGroupMembers));
    ASSIGN_OR_RETURN(control::StudyEnd end,
                     DecodeStudyEnd(m.header.control().payload(), "study/end"));
    if (end.export_best()) {
      const int index = ctx.view.layout.ServerIndex(ctx.view.my_rank);
      RETURN_IF_ERROR(server.ExportTablesAs(
          Env::Default(), JoinPath(end.export_dir(), "server-" + std::to_string(index) + ".emb"),
          {{end.table_base(), 0, "embedding"}, {end.table_base() + 1, 1, "linear"}}));
    }
    for (uint32_t id : server.TableIds()) RETURN_IF_ERROR(server.DropTable(id));
    // The tables' slabs went back to the OS as they were dropped; the heap
    // the trials' messages used is returned too.
    malloc_trim(0);
    control::ServerMemory memory;
    memory.set_rss_start(rss_start);
    memory.set_rss_end(ResidentBytes());
    memory.set_rss_peak(PeakResidentBytes());
    memory.set_anon_start(anon_start);
    memory.set_anon_end(AnonymousBytes());
    memory.set_tables_left(server.TableIds().size());
    return scheduler.GatherPayload("study/memory", kGroupMembers, EncodeServerMemory(memory))
        .status();
  });
}

// Empty when `trial` can run on a shared cluster, else why not.
std::string SharedTrialProblem(const Trial& trial) {
  if (trial.job.cluster().consistency() != "bsp") return "cluster.consistency must be bsp";
  if (trial.job.has_meta()) return "meta-train trials need --launcher (not --shared-cluster)";
  if (trial.job.training().has_early_stop()) {
    return "training.early_stop is not used by a study (halving decides): remove it";
  }
  return "";
}

}  // namespace

int RunSharedStudy(const SelectOptions& o, ClusterOptions cluster, bool servers_given,
                   int group_workers) {
  // Checked in every process before any rank starts: the trials parse, and
  // they train BSP without a meta block.
  auto trials = LoadTrials(o.config, o.overrides);
  if (!trials.ok()) {
    std::cerr << "metaps select: " << trials.status().message() << "\n";
    return 2;
  }
  for (const Trial& t : *trials) {
    const std::string why = SharedTrialProblem(t);
    if (!why.empty()) {
      std::cerr << "metaps select: --shared-cluster: trial " << t.index << ": " << why << "\n";
      return 2;
    }
  }
  // As for train: the job's cluster.servers unless --servers is given.
  if (!servers_given && !trials->empty()) cluster.servers = trials->front().job.cluster().servers();
  bool finished = false, scheduler_here = false;
  JobRoles roles;
  roles.worker_group_size = group_workers;
  roles.scheduler = [&](RankContext& ctx) -> Status {
    if (ctx.view.layout.num_workers() % group_workers != 0) {
      return InvalidArgument("--group-workers " + std::to_string(group_workers) +
                             " does not divide the " +
                             std::to_string(ctx.view.layout.num_workers()) + " workers");
    }
    ASSIGN_OR_RETURN(auto study, Study::Open(o));
    // The trials that run (a resumed or warm-started study's own list).
    for (int t = 0; t < study->num_trials(); ++t) {
      const std::string why = SharedTrialProblem(study->trial(t));
      if (!why.empty()) {
        return InvalidArgument("--shared-cluster: trial " + std::to_string(t) + ": " + why);
      }
    }
    StudyDriver driver(ctx.view, study.get(), group_workers);
    scheduler_here = true;
    RETURN_IF_ERROR(RunScheduler(ctx, &driver, /*staleness=*/0));
    finished = driver.finished();
    return Status::Ok();
  };
  roles.server = RunStudyServer;
  roles.worker = [&](RankContext& ctx) -> Status {
    ServeNothing(ctx);
    return RunMember(ctx, [&](SchedulerClient& scheduler) {
      return RunStudyWorker(ctx, scheduler, o.data_dir, group_workers);
    });
  };
  // Every trial's tables share the servers' frame limit: the widest dim wins.
  int widest = 1;
  for (const Trial& t : *trials) widest = std::max(widest, t.job.model().embedding_dim());
  roles.server_max_frame_bytes = ServerFrameLimit(widest);
  const int code = RunJob(cluster, roles);
  if (code != 0) return code;
  return scheduler_here && !finished ? 1 : 0;
}

}  // namespace metaps
