#include "common/job_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/early_stop.h"
#include "common/text_config.h"

namespace metaps {
namespace {

namespace pb = google::protobuf;

std::vector<std::string> Split(const std::string& s, char sep) { return SplitConfigText(s, sep); }

constexpr int kMaxReaderThreads = 64;
constexpr int kMaxShuffleBuffer = 10'000'000;  // examples each worker holds in memory
// Adagrad: a per-row gradient of a batch-mean loss is ~1e-3, so the starting
// accumulator sets the first steps (about lr / sqrt(initial_accumulator) times
// the gradient): lr 0.1 with 0.01 matched the best tuned CTR settings.
constexpr float kDefaultInitialAccumulator = 0.01f;
constexpr float kDefaultTableLr = 0.1f;

// Fields left out take their defaults. Fields are proto3 `optional` where 0 is
// a meaningful value different from the default, so an explicit 0 is kept
// (and then validated) instead of being replaced.
void DefaultOptimizer(config::OptimizerConfig* o, const std::string& kind, float lr) {
  // Only the fields of the chosen kind get defaults, so that Validate can tell
  // a field set for another kind (an error) from one it filled in.
  if (o->kind().empty()) o->set_kind(kind);
  if (!o->has_lr()) o->set_lr(lr);
  if (o->kind() == "adam") {
    if (!o->has_beta1()) o->set_beta1(0.9f);
    if (!o->has_beta2()) o->set_beta2(0.999f);
  }
  if (o->kind() == "adam" || o->kind() == "adagrad") {
    if (!o->has_eps()) o->set_eps(1e-8f);
  }
  if (o->kind() == "adagrad" && !o->has_initial_accumulator()) {
    o->set_initial_accumulator(kDefaultInitialAccumulator);
  }
}

void FillDefaults(config::JobConfig* job) {
  if (job->name().empty()) job->set_name("metaps-job");
  auto* c = job->mutable_cluster();
  if (!c->has_servers()) c->set_servers(1);
  if (c->consistency().empty()) c->set_consistency("bsp");
  auto* d = job->mutable_data();
  if (!d->has_batch_size()) d->set_batch_size(256);
  if (!d->has_max_bad_fraction()) d->set_max_bad_fraction(0.001);
  if (!d->has_rating_threshold()) d->set_rating_threshold(3.5f);
  if (!d->has_reader_threads()) d->set_reader_threads(1);
  if (!d->has_holdout_fraction() && d->format() == "movielens") d->set_holdout_fraction(0.1);
  auto* m = job->mutable_model();
  if (!m->has_embedding_dim()) m->set_embedding_dim(16);
  if (m->loss().empty()) {
    m->set_loss(m->family() == "mf" || m->family() == "ncf" ? "squared" : "logistic");
  }
  if (!m->has_num_scenarios()) m->set_num_scenarios(1);
  const bool towers = m->family() == "mf" || m->family() == "ncf";
  if (towers && m->user_slots().empty()) m->add_user_slots("user");
  if (towers && m->item_slots().empty()) m->add_item_slots("item");
  for (auto* t : {job->mutable_embedding(), job->mutable_linear()}) {
    if (t->initializer().empty())
      t->set_initializer(t == job->mutable_embedding() ? "normal" : "zeros");
    if (!t->has_init_scale() && t->initializer() != "zeros") t->set_init_scale(0.01f);
    DefaultOptimizer(t->mutable_optimizer(), "adagrad", kDefaultTableLr);
  }
  DefaultOptimizer(job->mutable_dense_optimizer(), "adam", 0.001f);
  auto* tr = job->mutable_training();
  if (!tr->has_epochs()) tr->set_epochs(1);
  if (!tr->has_seed()) tr->set_seed(1);
  if (!tr->has_log_every()) tr->set_log_every(100);
  // --- Ranking protocol (metrics branch) ---
  if (tr->ranking_k() > 0 && tr->ranking_protocol().empty())
    tr->set_ranking_protocol("all_unrated");
  if (tr->ranking_protocol() == "sampled" && !tr->has_ranking_negatives()) {
    tr->set_ranking_negatives(100);
  }
  // --- training.early_stop (early stopping) ---
  if (tr->has_early_stop() && !tr->early_stop().has_patience()) {
    tr->mutable_early_stop()->set_patience(2);
  }
  // --- meta (meta-learning) ---
  if (job->has_search()) {
    config::SearchConfig* s = job->mutable_search();
    bool random = false;
    for (auto& p : *s->mutable_param()) {
      if (p.has_range() && p.range().scale().empty()) p.mutable_range()->set_scale("linear");
      random = random || p.choice_size() > 0 || p.has_range();
    }
    if (!s->has_samples()) s->set_samples(random ? 8 : 1);
    if (!s->has_seed()) s->set_seed(static_cast<int64_t>(job->training().seed()));
    if (!s->has_eta()) s->set_eta(3);
    if (!s->has_asynchronous()) s->set_asynchronous(true);
    if (!s->has_min_budget() && s->max_budget() > 0 && s->eta() >= 2) {
      s->set_min_budget(std::max<int64_t>(1, s->max_budget() / s->eta() / s->eta()));
    }
    if (s->metric().empty()) s->set_metric(job->model().loss() == "squared" ? "rmse" : "auc");
  }
  if (job->has_meta()) {
    auto* me = job->mutable_meta();
    if (me->task_by().empty()) me->set_task_by("user");
    if (me->algorithm().empty()) me->set_algorithm("fomaml");
    if (!me->has_query()) me->set_query(10);
    if (!me->has_min_task_size()) me->set_min_task_size(13);
    if (!me->has_max_task_size()) me->set_max_task_size(100);
    if (!me->has_valid_fraction()) me->set_valid_fraction(0.1);
    if (!me->has_test_fraction()) me->set_test_fraction(0.1);
    if (!me->has_tasks_per_step()) me->set_tasks_per_step(32);
    if (!me->has_inner_steps()) me->set_inner_steps(5);
    if (!me->has_inner_lr()) me->set_inner_lr(0.05f);
    if (me->adapt().empty()) me->set_adapt("dense_and_task_row");
    if (!me->has_shared_task_row()) me->set_shared_task_row(true);
    if (!me->has_outer_steps()) me->set_outer_steps(1000);
  }
}

// meta: meta-learning (`metaps meta-train`).
void CheckMeta(ConfigChecker& c, const config::JobConfig& job) {
  const auto& me = job.meta();
  c.OneOf(me.task_by(), {"user", "item"}, "meta.task_by");
  c.OneOf(me.algorithm(), {"fomaml", "reptile", "none"}, "meta.algorithm");
  c.OneOf(me.adapt(), {"dense", "dense_and_task_row", "all"}, "meta.adapt");
  c.Require(me.query() >= 1 && me.query() <= 100000, "meta.query", "must be in [1, 100000]");
  c.Require(me.min_task_size() > me.query(), "meta.min_task_size",
            "must exceed meta.query (a task needs a support example)");
  c.Require(me.max_task_size() == 0 || me.max_task_size() >= me.min_task_size(),
            "meta.max_task_size", "must be 0 (no cap) or at least meta.min_task_size");
  c.Require(me.valid_fraction() >= 0 && me.test_fraction() >= 0 &&
                me.valid_fraction() + me.test_fraction() < 1,
            "meta.test_fraction", "valid_fraction + test_fraction must be in [0, 1)");
  c.Require(me.tasks_per_step() >= 1 && me.tasks_per_step() <= 65536, "meta.tasks_per_step",
            "must be in [1, 65536]");
  c.Require(me.inner_steps() >= 0 && me.inner_steps() <= 1000, "meta.inner_steps",
            "must be in [0, 1000]");
  c.Require(std::isfinite(me.inner_lr()) && me.inner_lr() >= 0, "meta.inner_lr",
            "must be finite and not negative");
  c.Require(me.outer_steps() >= 1, "meta.outer_steps", "must be at least 1");
  c.Require(me.eval_every() >= 0, "meta.eval_every", "must not be negative");
  c.Require(me.eval_support() >= 0 && me.eval_support() <= me.min_task_size() - me.query(),
            "meta.eval_support",
            "must be in [0, meta.min_task_size - meta.query] (every evaluated task needs k "
            "support examples before its query)");
  c.Require(me.train_support() >= 0 && me.train_support() < me.min_task_size(),
            "meta.train_support",
            "must be in [0, meta.min_task_size) (every meta-train task needs a query example)");
  c.Require(me.algorithm() != "reptile" || me.adapt() == "all", "meta.adapt",
            "must be \"all\" for reptile (its signal moves only what the inner loop adapts)");
  c.Require(me.algorithm() != "reptile" || (me.inner_steps() >= 1 && me.inner_lr() > 0),
            "meta.inner_steps", "reptile needs at least one inner step at a positive inner_lr");
  c.Require(job.model().family() == "mf" || job.model().family() == "ncf", "model.family",
            "meta-learning supports mf and ncf (users or items as tasks)");
  c.Require(job.cluster().consistency() == "bsp", "cluster.consistency",
            "meta-training is BSP across the meta-batch");
  // Training-loop fields meta-train does not read.
  const auto& tr = job.training();
  c.Require(tr.max_steps() == 0, "training.max_steps", "meta-train counts meta.outer_steps");
  c.Require(tr.eval_every() == 0, "training.eval_every", "meta-train uses meta.eval_every");
  c.Require(!tr.has_early_stop(), "training.early_stop", "does not apply to meta-train");
  c.Require(tr.ranking_k() == 0, "training.ranking_k",
            "meta-train reports per-task NDCG@1/3/5 of the query set");
  c.Require(job.data().shuffle_buffer() == 0, "data.shuffle_buffer",
            "meta-train draws tasks, not batches");
}

void CheckOptimizer(ConfigChecker& c, const config::OptimizerConfig& o, const std::string& path) {
  c.OneOf(o.kind(), {"sgd", "adagrad", "adam", "ftrl"}, path + ".kind");
  // lr 0 freezes what the optimizer updates (not for ftrl, whose alpha divides).
  c.Require(o.kind() == "ftrl" ? o.lr() > 0 : o.lr() >= 0, path + ".lr",
            std::string(o.kind() == "ftrl" ? "must be positive" : "must not be negative") +
                ", got " + std::to_string(o.lr()));
  if (o.kind() == "adam") {
    c.Require(o.beta1() >= 0 && o.beta1() < 1, path + ".beta1", "must be in [0, 1)");
    c.Require(o.beta2() >= 0 && o.beta2() < 1, path + ".beta2", "must be in [0, 1)");
  }
  if (o.kind() == "adam" || o.kind() == "adagrad") {
    c.Require(o.eps() > 0, path + ".eps", "must be positive");
  } else {
    c.Require(!o.has_eps(), path + ".eps", "applies to adagrad and adam only");
  }
  c.Require(o.initial_accumulator() >= 0, path + ".initial_accumulator", "must not be negative");
  if (o.kind() == "adam") {
    c.OneOf(o.bias_correction().empty() ? "row" : o.bias_correction(), {"row", "global"},
            path + ".bias_correction");
  } else {
    c.Require(o.bias_correction().empty(), path + ".bias_correction", "applies to adam only");
  }
  c.Require(o.l1() >= 0 && o.l2() >= 0 && o.weight_decay() >= 0 && o.decoupled_weight_decay() >= 0,
            path, "l1, l2, weight_decay and decoupled_weight_decay must not be negative");
  c.Require(
      o.lr() * o.decoupled_weight_decay() < 1, path + ".decoupled_weight_decay",
      "lr * decoupled_weight_decay must be below 1 (it is the share of w decayed per update)");
  c.Require(o.kind() != "ftrl" || (o.weight_decay() == 0 && o.decoupled_weight_decay() == 0),
            path + ".weight_decay", "does not apply to ftrl; use l2");
  c.Require(o.kind() == "adagrad" || !o.has_initial_accumulator(), path + ".initial_accumulator",
            "applies to adagrad only");
  c.Require(o.kind() == "adam" || (!o.has_beta1() && !o.has_beta2()), path + ".beta1",
            "beta1 and beta2 apply to adam only");
  // Only FTRL reads l1 and l2; anywhere else they would be silently ignored.
  c.Require(o.kind() == "ftrl" || o.l1() == 0, path + ".l1",
            "applies to ftrl only; use weight_decay with " + o.kind());
  c.Require(o.kind() == "ftrl" || o.l2() == 0, path + ".l2",
            "applies to ftrl only; use weight_decay with " + o.kind());
}

// --- Data fields and scenarios: fields that do not apply to data.format are
// errors, so that nothing in a config is silently ignored. ---
void ValidateDataFields(ConfigChecker& c, const config::DataConfig& d) {
  const std::string& f = d.format();
  const bool movielens = f == "movielens" || f == "datagen-ratings";
  const bool libsvm = f == "libsvm" || f == "ffm";
  auto only = [&](bool applies, bool set, const std::string& path, const std::string& formats) {
    c.Require(!set || applies, path,
              "applies to data.format " + formats + " only, not '" + f + "'");
  };
  for (const char* split : {"train", "valid", "test"}) {
    const auto& files = std::string(split) == "train"   ? d.train()
                        : std::string(split) == "valid" ? d.valid()
                                                        : d.test();
    c.Require(!movielens || files.empty(), std::string("data.") + split,
              "does not apply to data.format '" + f +
                  "' (its files are found in --data; movielens holds out "
                  "data.holdout_fraction for valid and test)");
  }
  only(f == "libsvm", !d.fields().empty(), "data.fields", "libsvm");
  only(f == "libsvm", !d.field_map().empty(), "data.field_map", "libsvm");
  c.Require(d.fields().empty() || d.field_map().empty(), "data.field_map",
            "set data.fields or data.field_map, not both");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& field : d.fields()) {
    c.Require(!field.name().empty(), "data.fields", "every field needs a name");
    c.Require(field.first() <= field.last(), "data.fields",
              "field '" + field.name() + "': first " + std::to_string(field.first()) +
                  " is above last " + std::to_string(field.last()));
    ranges.emplace_back(field.first(), field.last());
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    c.Require(ranges[i].first > ranges[i - 1].second, "data.fields",
              "index ranges overlap at " + std::to_string(ranges[i].first));
  }
  only(f == "ffm", d.has_num_fields(), "data.num_fields", "ffm");
  c.Require(!d.has_num_fields() || (d.num_fields() >= 1 && d.num_fields() <= 100000),
            "data.num_fields", "must be in [1, 100000], got " + std::to_string(d.num_fields()));
  only(f == "movielens", d.has_holdout_fraction(), "data.holdout_fraction", "movielens");
  only(movielens, d.ignore_side_files(), "data.ignore_side_files", "movielens, datagen-ratings");
  const std::string& from = d.scenario_from();
  c.Require(from.empty() || !libsvm, "data.scenario_from",
            "does not apply to data.format '" + f + "' (it has no columns to map)");
  if (!from.empty() && movielens) {
    c.OneOf(from, {"gender", "age", "occupation"}, "data.scenario_from");
    c.Require(!d.ignore_side_files(), "data.scenario_from",
              "needs the users side file, but data.ignore_side_files is set");
  }
  if (!from.empty() && (f == "criteo" || f == "datagen-ctr")) {
    std::set<std::string> columns;
    for (int i = 1; i <= 13; ++i) columns.insert("I" + std::to_string(i));
    for (int i = 1; i <= 26; ++i) columns.insert("C" + std::to_string(i));
    c.OneOf(from, columns, "data.scenario_from");
  }
  c.Require(from != "click" || f != "avazu", "data.scenario_from", "'click' is the label");
  const bool mapped = !from.empty() || f == "datagen-scenarios";
  c.Require(mapped || d.scenario_values().empty(), "data.scenario_values",
            "needs data.scenario_from");
  c.Require(mapped || d.scenario_bounds().empty(), "data.scenario_bounds",
            "needs data.scenario_from");
  c.Require(d.scenario_values().empty() || d.scenario_bounds().empty(), "data.scenario_bounds",
            "set data.scenario_values or data.scenario_bounds, not both");
  for (int i = 1; i < d.scenario_bounds_size(); ++i) {
    c.Require(d.scenario_bounds(i) > d.scenario_bounds(i - 1), "data.scenario_bounds",
              "must be increasing");
  }
  std::set<std::string> seen;
  for (const std::string& group : d.scenario_values()) {
    for (const std::string& value : Split(group, '|')) {
      c.Require(seen.insert(value).second, "data.scenario_values",
                "value '" + value + "' is in more than one scenario");
    }
    c.Require(!group.empty(), "data.scenario_values", "an entry is empty");
  }
}

// training.early_stop: a metric this job's evaluation reports, and an
// output_dir to keep the best checkpoint in.
void CheckEarlyStop(ConfigChecker& c, const config::JobConfig& job) {
  const auto& es = job.training().early_stop();
  const std::string path = "training.early_stop";
  const std::vector<std::string> reported =
      ReportedMetrics(job.model().loss(), job.training().ranking_k());
  std::string list;
  for (const auto& m : reported) list += (list.empty() ? "" : ", ") + m;
  auto direction = MetricHigherIsBetter(es.metric());
  if (es.metric().empty()) {
    c.Require(false, path + ".metric", "required (one of " + list + ")");
  } else if (!direction.ok()) {
    c.Require(false, path + ".metric", direction.status().message());
  } else if (std::find(reported.begin(), reported.end(), es.metric()) == reported.end()) {
    const bool at_k = es.metric().find('@') != std::string::npos;
    c.Require(false, path + ".metric",
              "'" + es.metric() + "' is not reported for this job (model.loss '" +
                  job.model().loss() + "', training.ranking_k " +
                  std::to_string(job.training().ranking_k()) +
                  (at_k ? ": set ranking_k to k" : "") + "); one of " + list);
  }
  c.Require(es.patience() >= 1, path + ".patience",
            "must be at least 1, got " + std::to_string(es.patience()));
  c.Require(es.min_delta() >= 0 && std::isfinite(es.min_delta()), path + ".min_delta",
            "must be a finite value >= 0");
  c.Require(!job.output_dir().empty(), "output_dir",
            "required by training.early_stop (the best checkpoint is kept in "
            "output_dir/checkpoints)");
}

// --- search (model selection) ---
// The field a search parameter names: a scalar or repeated scalar of the job,
// not the search block itself, the name or the output directory.
const pb::FieldDescriptor* SearchField(const std::string& path) {
  const pb::Descriptor* desc = config::JobConfig::descriptor();
  const pb::FieldDescriptor* field = nullptr;
  const std::vector<std::string> parts = Split(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (desc == nullptr) return nullptr;
    field = desc->FindFieldByName(parts[i]);
    if (field == nullptr) return nullptr;
    const bool last = i + 1 == parts.size();
    const bool message = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
    if (last == message || (message && field->is_repeated())) return nullptr;
    desc = message ? field->message_type() : nullptr;
  }
  return field;
}

void CheckSearch(ConfigChecker& c, const config::JobConfig& job) {
  const config::SearchConfig& s = job.search();
  c.Require(s.param_size() > 0, "search.param", "a search needs at least one param");
  c.Require(s.samples() >= 1 && s.samples() <= 100000, "search.samples", "must be in [1, 100000]");
  c.Require(s.seed() >= 0, "search.seed", "must not be negative");
  c.Require(s.max_budget() >= 0, "search.max_budget", "must not be negative");
  auto metric = MetricHigherIsBetter(s.metric());
  c.Require(metric.ok(), "search.metric", metric.status().message());
  c.Require(s.eta() >= 2 && s.eta() <= 100, "search.eta", "must be in [2, 100]");
  c.Require(s.max_budget() == 0 || (s.min_budget() >= 1 && s.min_budget() <= s.max_budget()),
            "search.min_budget", "must be in [1, max_budget]");
  bool random = false;
  for (const config::SearchParam& p : s.param())
    random = random || p.choice_size() > 0 || p.has_range();
  c.Require(random || s.samples() == 1, "search.samples",
            "draws choice and range params; with grids alone it must be 1");
  std::set<std::string> seen;
  for (int i = 0; i < s.param_size(); ++i) {
    const config::SearchParam& p = s.param(i);
    const std::string at = "search.param[" + std::to_string(i) + "] (" + p.field() + ")";
    const pb::FieldDescriptor* f = SearchField(p.field());
    const bool banned =
        p.field().rfind("search", 0) == 0 || p.field() == "name" || p.field() == "output_dir";
    c.Require(f != nullptr && !banned, "search.param",
              at + ": not a field a trial can set (a job field path as --set takes, "
                   "e.g. dense_optimizer.lr; not search, name or output_dir)");
    c.Require(seen.insert(p.field()).second, "search.param", at + ": the field is searched twice");
    const int kinds = (p.grid_size() > 0) + (p.choice_size() > 0) + p.has_range();
    c.Require(kinds == 1, "search.param", at + ": give exactly one of grid, choice or range");
    if (p.has_range()) {
      const config::SearchRange& r = p.range();
      c.OneOf(r.scale(), {"linear", "log"}, "search.param.range.scale");
      c.Require(std::isfinite(r.min()) && std::isfinite(r.max()) && r.min() < r.max(),
                "search.param", at + ": range needs min < max");
      c.Require(r.scale() != "log" || r.min() > 0, "search.param",
                at + ": a log range needs min > 0");
      const bool number = f != nullptr && f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING &&
                          f->cpp_type() != pb::FieldDescriptor::CPPTYPE_BOOL &&
                          f->cpp_type() != pb::FieldDescriptor::CPPTYPE_ENUM;
      c.Require(f == nullptr || number, "search.param",
                at + ": a range needs a number field; use choice for strings");
    }
  }
}

void Validate(ConfigChecker& c, const config::JobConfig& job) {
  const auto& cl = job.cluster();
  c.Require(cl.servers() >= 1, "cluster.servers", "must be at least 1");
  c.OneOf(cl.consistency(), {"bsp", "ssp", "asp"}, "cluster.consistency");
  c.Require(cl.staleness() >= 0, "cluster.staleness", "must not be negative");
  const auto& d = job.data();
  c.OneOf(d.format(),
          {"criteo", "avazu", "libsvm", "ffm", "movielens", "datagen-ctr", "datagen-ratings",
           "datagen-scenarios"},
          "data.format");
  c.Require(d.batch_size() > 0, "data.batch_size", "must be positive");
  c.Require(d.max_bad_fraction() >= 0 && d.max_bad_fraction() <= 1, "data.max_bad_fraction",
            "must be in [0, 1]");
  c.Require(!d.has_holdout_fraction() || (d.holdout_fraction() > 0 && d.holdout_fraction() < 0.5),
            "data.holdout_fraction", "must be in (0, 0.5)");
  c.Require(d.reader_threads() >= 1 && d.reader_threads() <= kMaxReaderThreads,
            "data.reader_threads",
            "must be in [1, " + std::to_string(kMaxReaderThreads) + "], got " +
                std::to_string(d.reader_threads()));
  c.Require(d.shuffle_buffer() >= 0 && d.shuffle_buffer() <= kMaxShuffleBuffer,
            "data.shuffle_buffer",
            "must be in [0, " + std::to_string(kMaxShuffleBuffer) + "], got " +
                std::to_string(d.shuffle_buffer()));
  ValidateDataFields(c, d);
  const auto& m = job.model();
  c.OneOf(m.family(), {"mf", "ncf", "deepfm", "multi_scenario"}, "model.family");
  c.Require(m.embedding_dim() >= 1 && m.embedding_dim() <= 4096, "model.embedding_dim",
            "must be in [1, 4096]");
  for (int h : m.hidden()) c.Require(h > 0, "model.hidden", "layer widths must be positive");
  c.OneOf(m.loss(), {"logistic", "squared"}, "model.loss");
  c.Require(m.num_scenarios() >= 1, "model.num_scenarios", "must be at least 1");
  // Fields a family does not read are errors, not silently ignored settings.
  const std::string& family = m.family();
  const bool towers = family == "mf" || family == "ncf";
  c.Require(towers || m.user_slots().empty(), "model.user_slots",
            "applies to mf and ncf only (" + family + " reads every slot)");
  c.Require(towers || m.item_slots().empty(), "model.item_slots",
            "applies to mf and ncf only (" + family + " reads every slot)");
  c.Require(towers || !m.has_global_bias(), "model.global_bias", "applies to mf and ncf only");
  c.Require(family != "mf" || m.hidden().empty(), "model.hidden",
            "does not apply to mf (ncf is mf with an MLP)");
  c.Require(family == "deepfm" || !m.fm_only(), "model.fm_only", "applies to deepfm only");
  c.Require(family == "multi_scenario" || !m.has_num_scenarios() || m.num_scenarios() == 1,
            "model.num_scenarios", "applies to multi_scenario only");
  for (const char* table : {"embedding", "linear"}) {
    const auto& t = std::string(table) == "embedding" ? job.embedding() : job.linear();
    c.OneOf(t.initializer(), {"zeros", "uniform", "normal"}, std::string(table) + ".initializer");
    c.Require(t.init_scale() >= 0, std::string(table) + ".init_scale", "must not be negative");
    c.Require(t.admit_after() >= 0, std::string(table) + ".admit_after", "must not be negative");
    c.Require(t.evict_after_steps() >= 0, std::string(table) + ".evict_after_steps",
              "must not be negative");
    CheckOptimizer(c, t.optimizer(), std::string(table) + ".optimizer");
  }
  CheckOptimizer(c, job.dense_optimizer(), "dense_optimizer");
  const auto& tr = job.training();
  c.Require(tr.epochs() >= 1, "training.epochs", "must be at least 1");
  c.Require(tr.max_steps() >= 0 && tr.eval_every() >= 0 && tr.checkpoint_every() >= 0 &&
                tr.log_every() >= 0,
            "training",
            "max_steps, eval_every, checkpoint_every and log_every must not be negative");
  c.Require(tr.ranking_k() >= 0, "training.ranking_k", "must not be negative");
  // --- Ranking protocol (metrics branch) ---
  if (tr.ranking_k() > 0) {
    c.OneOf(tr.ranking_protocol(), {"all_unrated", "sampled", "heldout_only"},
            "training.ranking_protocol");
    const bool towers = m.family() == "mf" || m.family() == "ncf";
    c.Require(towers || tr.ranking_protocol() == "heldout_only", "training.ranking_protocol",
              "'" + tr.ranking_protocol() + "' ranks items a user never rated, which needs a " +
                  "user tower and an item tower (model.family mf or ncf), not '" + m.family() +
                  "'; use \"heldout_only\" or ranking_k: 0");
  }
  c.Require(tr.ranking_protocol() != "sampled" || tr.ranking_negatives() >= 1,
            "training.ranking_negatives", "must be at least 1 with ranking_protocol \"sampled\"");
  // --- training.early_stop (early stopping) ---
  if (tr.has_early_stop()) CheckEarlyStop(c, job);
  if (job.has_meta()) CheckMeta(c, job);
  if (job.has_search()) CheckSearch(c, job);
}

}  // namespace

StatusOr<config::JobConfig> ParseJobConfig(const std::string& text, const std::string& source,
                                           const std::vector<std::string>& overrides,
                                           bool keep_search) {
  config::JobConfig job;
  pb::TextFormat::ParseInfoTree tree;
  RETURN_IF_ERROR(ParseTextConfig(text, source, &job, &tree));
  if (!keep_search) job.clear_search();
  std::map<std::string, std::string> overridden;
  for (const std::string& o : overrides) {
    RETURN_IF_ERROR(ApplyOverride(o, &job));
    overridden[o.substr(0, o.find('='))] = o;
  }
  FillDefaults(&job);
  ConfigChecker checker(source, config::JobConfig::descriptor(), &tree, overridden);
  Validate(checker, job);
  RETURN_IF_ERROR(checker.status());
  return job;
}

StatusOr<config::JobConfig> LoadJobConfig(const std::string& path,
                                          const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, "job config"));
  return ParseJobConfig(text, path, overrides);
}

std::string JobConfigToText(const config::JobConfig& job) {
  std::string text;
  pb::TextFormat::PrintToString(job, &text);
  return text;
}

}  // namespace metaps
