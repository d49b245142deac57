#include "launch/scale/sweep.h"

#include <google/protobuf/text_format.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/subprocess.h"
#include "common/text_config.h"

namespace metaps::scale {
namespace {

namespace pb = google::protobuf;

// Collects value errors, each as "file:line:col: path: problem".
class Checker {
 public:
  Checker(std::string source, const pb::TextFormat::ParseInfoTree* tree)
      : source_(std::move(source)), tree_(tree) {}

  // `grid` < 0: a top-level message's field, e.g. ("bench_ps", "seconds").
  void Require(bool ok, const std::string& message, const std::string& field, int index,
               const std::string& problem, int grid = -1) {
    if (ok) return;
    std::string path = message.empty() ? field : message + "." + field;
    if (grid >= 0) path = "grid[" + std::to_string(grid) + "]." + field;
    if (index >= 0 && grid >= 0) path += "[" + std::to_string(index) + "]";
    errors_.push_back(Where(message, field, index, grid) + ": " + path + ": " + problem);
  }
  Status status() const {
    std::string all;
    for (const std::string& e : errors_) all += (all.empty() ? "" : "\n") + e;
    return errors_.empty() ? Status::Ok() : InvalidArgument(all);
  }

 private:
  std::string Where(const std::string& message, const std::string& field, int index,
                    int grid) const {
    const pb::Descriptor* desc = Sweep::descriptor();
    const pb::TextFormat::ParseInfoTree* tree = tree_;
    std::string name = message;
    int nested_index = -1;
    if (grid >= 0) {
      name = "grid";
      nested_index = grid;
    }
    if (!name.empty()) {
      const pb::FieldDescriptor* f = desc->FindFieldByName(name);
      tree = tree->GetTreeForNested(f, nested_index);
      desc = f->message_type();
    }
    if (tree != nullptr) {
      const pb::FieldDescriptor* f = desc->FindFieldByName(field);
      // A list ("workers: [1, 0]") records one location, at its first value.
      auto loc = tree->GetLocation(f, f->is_repeated() ? std::max(index, 0) : -1);
      for (int i = index - 1; loc.line < 0 && i >= 0; --i) loc = tree->GetLocation(f, i);
      if (loc.line >= 0) {
        return source_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1);
      }
    }
    return source_ + " (default value)";
  }

  std::string source_;
  const pb::TextFormat::ParseInfoTree* tree_;
  std::vector<std::string> errors_;
};

void FillDefaults(Sweep* s) {
  if (s->name().empty()) s->set_name("sweep");
  if (s->repeats() == 0) s->set_repeats(3);
  for (Grid& g : *s->mutable_grid()) {
    if (g.servers().empty()) g.add_servers(1);
    if (g.workers().empty()) g.add_workers(1);
    if (g.workload() == "bench-ps") {
      if (g.dim().empty()) g.add_dim(64);
      if (g.batch().empty()) g.add_batch(65536);
    }
    if (g.curve().empty()) g.add_curve(true);
  }
  BenchPsWorkload* b = s->mutable_bench_ps();
  if (b->seconds() == 0) b->set_seconds(2);
  if (b->warmup_seconds() == 0) b->set_warmup_seconds(0.5);
  if (b->key_space() == 0) b->set_key_space(10000000);
  if (b->dist().empty()) b->set_dist("zipf");
  if (b->optimizer().empty()) b->set_optimizer("adagrad");
  TrainWorkload* t = s->mutable_train();
  if (t->datagen_rows() == 0) t->set_datagen_rows(20000);
  if (t->max_steps() == 0) t->set_max_steps(200);
  FillProjectionDefaults(s->mutable_projection());
}

void Validate(const Sweep& s, Checker& c) {
  c.Require(!s.grid().empty(), "", "grid", -1, "a sweep needs at least one grid block");
  c.Require(s.repeats() >= 1 && s.repeats() <= 1000, "", "repeats", -1, "must be in 1..1000");
  c.Require(s.hostfile().empty() || s.launcher().empty(), "", "launcher", -1,
            "give a hostfile or a launcher, not both");
  bool any_train = false;
  for (int g = 0; g < s.grid_size(); ++g) {
    const Grid& grid = s.grid(g);
    const bool train = grid.workload() == "train";
    any_train |= train;
    c.Require(train || grid.workload() == "bench-ps", "", "workload", -1,
              "'" + grid.workload() + "' is not one of bench-ps, train", g);
    for (int i = 0; i < grid.servers_size(); ++i) {
      c.Require(grid.servers(i) >= 1 && grid.servers(i) <= 65535, "", "servers", i,
                "must be in 1..65535", g);
    }
    for (int i = 0; i < grid.workers_size(); ++i) {
      c.Require(grid.workers(i) >= 1 && grid.workers(i) <= 65535, "", "workers", i,
                "must be in 1..65535", g);
    }
    for (int i = 0; i < grid.dim_size(); ++i) {
      c.Require(grid.dim(i) >= 1 && grid.dim(i) <= 65536, "", "dim", i, "must be in 1..65536", g);
    }
    for (int i = 0; i < grid.batch_size(); ++i) {
      c.Require(grid.batch(i) >= 1, "", "batch", i, "must be positive", g);
    }
    for (int i = 0; i < grid.consistency_size(); ++i) {
      const std::string& v = grid.consistency(i);
      c.Require(train, "", "consistency", i,
                "bench-ps has no worker clocks; give consistency only in train grids", g);
      c.Require(v == "bsp" || v == "ssp" || v == "asp", "", "consistency", i,
                "'" + v + "' is not one of bsp, ssp, asp", g);
    }
  }
  const BenchPsWorkload& b = s.bench_ps();
  c.Require(b.seconds() > 0, "bench_ps", "seconds", -1, "must be positive");
  c.Require(b.warmup_seconds() >= 0, "bench_ps", "warmup_seconds", -1, "must not be negative");
  c.Require(b.key_space() >= 1, "bench_ps", "key_space", -1, "must be positive");
  c.Require(b.dist() == "zipf" || b.dist() == "uniform", "bench_ps", "dist", -1,
            "'" + b.dist() + "' is not one of zipf, uniform");
  if (any_train) {
    c.Require(!s.train().config().empty(), "train", "config", -1,
              "a train grid needs the train block's job config");
  }
  c.Require(s.train().datagen_rows() >= 1, "train", "datagen_rows", -1, "must be positive");
  c.Require(s.train().max_steps() >= 0, "train", "max_steps", -1, "must not be negative");
  const Projection& p = s.projection();
  for (int i = 0; i < p.nodes_size(); ++i) {
    c.Require(p.nodes(i) >= 1, "projection", "nodes", i, "must be positive");
  }
  for (int i = 0; i < p.link_gbps_size(); ++i) {
    c.Require(p.link_gbps(i) > 0, "projection", "link_gbps", i, "must be positive");
  }
  c.Require(p.latency_us() > 0, "projection", "latency_us", -1, "must be positive");
  c.Require(p.rows_per_example() > 0, "projection", "rows_per_example", -1, "must be positive");
  c.Require(p.dense_bytes() >= 0, "projection", "dense_bytes", -1, "must not be negative");
  c.Require(p.local_cores() >= 0, "projection", "local_cores", -1, "must not be negative");
}

std::string Replace(std::string word, const std::string& from, const std::string& to) {
  for (size_t at = word.find(from); at != std::string::npos; at = word.find(from, at + to.size())) {
    word.replace(at, from.size(), to);
  }
  return word;
}

std::string Number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

void FillProjectionDefaults(Projection* p) {
  if (p->nodes().empty()) {
    for (int n : {8, 16, 32, 64, 128, 256}) p->add_nodes(n);
  }
  if (p->link_gbps().empty()) {
    p->add_link_gbps(25);
    p->add_link_gbps(100);
  }
  if (p->latency_us() == 0) p->set_latency_us(20);
  if (p->rows_per_example() == 0) p->set_rows_per_example(39);
  if (p->dense_bytes() == 0) p->set_dense_bytes(65536);
}

std::string ScalePoint::Key() const {
  return workload + "|" + std::to_string(servers) + "|" + std::to_string(workers) + "|" +
         std::to_string(dim) + "|" + std::to_string(batch) + "|" + consistency + "|" +
         (curve ? "curve" : "insecure");
}

std::string ScalePoint::SeriesKey() const {
  return workload + "|" + std::to_string(dim) + "|" + std::to_string(batch) + "|" + consistency +
         "|" + (curve ? "curve" : "insecure");
}

std::string ScalePoint::SeriesLabel() const {
  std::string label = workload + " dim " + std::to_string(dim) + ", batch " + std::to_string(batch);
  if (!consistency.empty()) label += ", " + consistency;
  return label + (curve ? ", CURVE" : ", insecure");
}

std::string ScalePoint::ShapeLabel() const {
  return std::to_string(servers) + "S+" + std::to_string(workers) + "W";
}

StatusOr<Sweep> ParseSweep(const std::string& text, const std::string& source) {
  Sweep sweep;
  pb::TextFormat::ParseInfoTree tree;
  RETURN_IF_ERROR(ParseTextConfig(text, source, &sweep, &tree));
  FillDefaults(&sweep);
  Checker checker(source, &tree);
  Validate(sweep, checker);
  RETURN_IF_ERROR(checker.status());
  return sweep;
}

StatusOr<Sweep> LoadSweep(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open the sweep file");
  std::stringstream text;
  text << in.rdbuf();
  return ParseSweep(text.str(), path);
}

std::vector<ScalePoint> ExpandPoints(const Sweep& sweep) {
  std::vector<ScalePoint> points;
  std::set<std::string> seen;
  for (const Grid& g : sweep.grid()) {
    const std::vector<int> dims =
        g.dim().empty() ? std::vector<int>{0} : std::vector<int>(g.dim().begin(), g.dim().end());
    const std::vector<int> batches = g.batch().empty()
                                         ? std::vector<int>{0}
                                         : std::vector<int>(g.batch().begin(), g.batch().end());
    const std::vector<std::string> modes =
        g.consistency().empty()
            ? std::vector<std::string>{""}
            : std::vector<std::string>(g.consistency().begin(), g.consistency().end());
    for (int s : g.servers()) {
      for (int w : g.workers()) {
        for (int d : dims) {
          for (int b : batches) {
            for (const std::string& m : modes) {
              for (bool curve : g.curve()) {
                ScalePoint p{g.workload(), s, w, d, b, m, curve};
                if (seen.insert(p.Key()).second) points.push_back(p);
              }
            }
          }
        }
      }
    }
  }
  return points;
}

std::vector<int> RoundOrder(int points, int round) {
  std::vector<int> order;
  for (int i = 0; i < points; ++i) order.push_back((i + round) % points);
  return order;
}

std::vector<std::string> RunArgv(const Sweep& sweep, const ScalePoint& point,
                                 const LaunchPaths& paths) {
  const std::string servers = std::to_string(point.servers);
  const std::string workers = std::to_string(point.workers);
  std::vector<std::string> argv;
  const bool inprocess = sweep.launcher() == "inprocess";
  if (inprocess) {
    argv = {paths.bin};
  } else {
    std::string launcher = sweep.launcher();
    if (launcher.empty()) {
      launcher = paths.hostfile.empty()
                     ? paths.source_dir + "/launch/local.sh {servers} {workers} --"
                     : paths.source_dir + "/launch/cluster.sh {hostfile} {servers} {workers} --";
    }
    for (std::string word : SplitWords(launcher)) {
      word = Replace(word, "{servers}", servers);
      word = Replace(word, "{workers}", workers);
      word = Replace(word, "{hostfile}", paths.hostfile);
      argv.push_back(Replace(word, "{bin}", paths.bin));
    }
  }
  argv.push_back(point.workload);
  if (inprocess) argv.insert(argv.end(), {"--servers", servers, "--workers", workers});
  if (!point.curve) argv.push_back("--insecure");
  if (point.workload == "bench-ps") {
    const BenchPsWorkload& b = sweep.bench_ps();
    argv.insert(
        argv.end(),
        {"--dim", std::to_string(point.dim), "--keys", std::to_string(point.batch), "--seconds",
         Number(b.seconds()), "--warmup-seconds", Number(b.warmup_seconds()), "--key-space",
         std::to_string(b.key_space()), "--dist", b.dist(), "--optimizer", b.optimizer()});
    argv.insert(argv.end(), b.extra().begin(), b.extra().end());
    return argv;
  }
  const TrainWorkload& t = sweep.train();
  argv.insert(argv.end(), {"--config", paths.train_config, "--data", paths.train_data});
  auto set = [&](const std::string& kv) { argv.insert(argv.end(), {"--set", kv}); };
  if (point.dim > 0) set("model.embedding_dim=" + std::to_string(point.dim));
  if (point.batch > 0) set("data.batch_size=" + std::to_string(point.batch));
  if (!point.consistency.empty()) set("cluster.consistency=" + point.consistency);
  if (t.max_steps() > 0) set("training.max_steps=" + std::to_string(t.max_steps()));
  for (const std::string& kv : t.set()) set(kv);
  return argv;
}

}  // namespace metaps::scale
