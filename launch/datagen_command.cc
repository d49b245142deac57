// `metaps datagen`: writes a synthetic dataset drawn from a planted model, with
// the Bayes-optimal metrics in oracle.json (see worker/data/datagen.h).
#include <algorithm>
#include <chrono>
#include <iostream>

#include "common/env.h"
#include "common/json.h"
#include "launch/subcommands.h"
#include "worker/data/datagen.h"

namespace metaps {

int DatagenCommand(int argc, char** argv) {
  std::string kind = "ctr", out;
  int64_t rows = 0, seed = 1, scenarios = 3, users = 0, items = 0;
  FlagSet flags("datagen");
  flags.String("kind", &kind, "ctr (Criteo TSV), ratings (MovieLens CSV) or scenarios");
  flags.Int("rows", &rows, "rows in all, split 80/10/10 into train, valid and test", 1,
            int64_t{1} << 40);
  flags.Int("seed", &seed, "seed of the planted model and of every draw");
  flags.String("out", &out, "output directory (created; existing files are overwritten)");
  flags.Int("scenarios", &scenarios, "scenarios of --kind scenarios, 2..16", 2, 16);
  flags.Int("users", &users, "users of --kind ratings/scenarios; 0 = rows / 100 (at least 50)", 0,
            INT32_MAX);
  flags.Int("items", &items, "items of --kind ratings/scenarios; 0 = rows / 200 (at least 30)", 0,
            INT32_MAX);
  int64_t days = 0;
  double drift = 0;
  std::string start_date = "2026-01-01";
  flags.Int("days", &days,
            "--kind ctr: write this many daily partitions OUT/day=YYYY-MM-DD of --rows rows each "
            "(for retraining pipelines)",
            0, 3660);
  flags.Double("drift", &drift,
               "with --days: how far the planted model moves each day, 0 (never) to 1 (a new "
               "model every day); consecutive days' weights correlate sqrt(1 - drift)",
               0, 1);
  flags.String("start-date", &start_date, "with --days: the first partition's date (YYYY-MM-DD)");
  if (int code = ParseSubcommandFlags(flags, argc, argv); code >= 0) return code;
  auto start_day = ParseCivilDate(start_date);
  if (!start_day.ok()) {
    std::cerr << "metaps datagen: --start-date: " << start_day.status().message() << "\n";
    return 2;
  }
  if ((flags.WasSet("drift") || flags.WasSet("start-date")) && days == 0) {
    std::cerr << "metaps datagen: --drift and --start-date need --days\n";
    return 2;
  }

  DatagenOptions options;
  auto parsed_kind = ParseDatagenKind(kind);
  if (!parsed_kind.ok()) {
    std::cerr << "metaps datagen: " << parsed_kind.status().message() << "\n";
    return 2;
  }
  if (rows < 1 || out.empty() || seed < 0 || users < 0 || items < 0 ||
      (flags.WasSet("scenarios") && *parsed_kind != DatagenKind::kScenarios) ||
      ((flags.WasSet("users") || flags.WasSet("items")) && *parsed_kind == DatagenKind::kCtr)) {
    std::cerr << "metaps datagen: --rows (positive) and --out DIR are required; --seed, --users "
                 "and --items must not be negative; --scenarios needs --kind scenarios, --users "
                 "and --items --kind ratings or scenarios\n";
    return 2;
  }
  options.kind = *parsed_kind;
  options.rows = static_cast<uint64_t>(rows);
  options.seed = static_cast<uint64_t>(seed);
  options.out_dir = out;
  options.scenarios = static_cast<int>(std::min<int64_t>(scenarios, 1 << 20));
  options.users = static_cast<uint64_t>(users);
  options.items = static_cast<uint64_t>(items);
  options.days = static_cast<int>(days);
  options.drift = drift;
  options.start_day = *start_day;
  if (days > 0) {
    // One line a day, as each partition is done.
    options.on_day = [&](const std::string& dir, const std::string& oracle_json) {
      OrderedJson line = {{"event", "datagen"}, {"kind", "ctr"}, {"out", dir}};
      line["oracle"] = OrderedJson::parse(oracle_json, nullptr, false);
      std::cout << JsonText(line) << std::endl;
    };
  }

  const auto start = std::chrono::steady_clock::now();
  StatusOr<DatagenResult> result = GenerateDataset(options, Env::Default());
  if (!result.ok()) {
    const bool usage = result.status().code() == StatusCode::kInvalidArgument;
    std::cerr << "metaps datagen: " << result.status().message() << "\n";
    return usage ? 2 : 1;
  }
  if (days > 0) {
    std::cerr << "metaps datagen: wrote " << days << " daily partitions of " << rows << " rows to "
              << out << "\n";
    return 0;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "metaps datagen: wrote " << result->files.size() << " files to " << out
            << "; oracle: " << result->oracle_json << "\n";
  const OrderedJson line = {
      {"event", "datagen"},
      {"kind", DatagenKindName(options.kind)},
      {"rows", options.rows},
      {"train_rows", result->split_rows[0]},
      {"valid_rows", result->split_rows[1]},
      {"test_rows", result->split_rows[2]},
      {"seed", options.seed},
      {"seconds", JsonRounded(seconds, 3)},
      {"rows_per_second",
       JsonRounded(seconds > 0 ? static_cast<double>(options.rows) / seconds : 0.0, 0)},
      {"out", out}};
  std::cout << JsonText(line) << std::endl;
  return 0;
}

}  // namespace metaps
