// metaps: one binary for every role. `mpirun -np N metaps <subcommand>` runs a
// cluster (rank 0 scheduler, 1..S servers, the rest workers); without mpirun
// the same subcommand runs every role as a thread of this process.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "launch/subcommands.h"
#include "metaps/build_config.h"

namespace {

constexpr char kUsage[] =
    "usage: metaps <subcommand> [flags]   (metaps <subcommand> --help for its flags)\n"
    "\n"
    "  train     train a job's model (--config JOB [--data DIR] [--set field=value])\n"
    "  eval      score a checkpoint on the job's valid/test data (--config JOB --checkpoint DIR)\n"
    "  export    write a checkpoint's embeddings and dense weights for serving\n"
    "            (--config JOB --checkpoint DIR --out DIR)\n"
    "  meta-train  meta-learn a job's model across tasks (users, items) and report\n"
    "            the cold-start protocol (--config JOB with a meta block [--data DIR])\n"
    "  adapt     adapt a meta-trained checkpoint to one new task's support examples\n"
    "            (--config JOB --checkpoint DIR --support FILE --out DIR [--query FILE])\n"
    "  retrain   one run of a retraining pipeline: train the published model on new\n"
    "            data partitions, gate, publish (--pipeline FILE; exit 0 published or\n"
    "            nothing new, 3 refused by the gate, 4 another run holds the lock)\n"
    "  select    model selection: trials of a job's search space, worker time allocated by\n"
    "            successive halving (--config JOB --out DIR [--data DIR]; --plan only lists them)\n"
    "  ping      start the cluster, check every worker-server pair, print latency and\n"
    "            bandwidth as a JSON line; exit 0 only if every pair answered\n"
    "  bench-ps  parameter-server throughput: workers pull and push random keys\n"
    "  datagen   write a synthetic dataset from a planted model\n"
    "            (--kind ctr|ratings|scenarios --rows N --seed S --out DIR)\n"
    "  scale     run a sweep of cluster shapes and workloads through launch/local.sh (or\n"
    "            launch/cluster.sh) and write runs.jsonl and an HTML report with a\n"
    "            projection to larger clusters (--sweep FILE --out DIR | --report-only JSONL)\n"
    "  keygen    write a CURVE key pair for a persistent cluster (--out DIR)\n"
    "  version   print the version and build options\n"
    "\n"
    "Under mpirun: mpirun -np N metaps ping --servers S  (N-1-S workers)\n"
    "Without:      metaps ping --servers S --workers W    (all roles as threads)\n";

}  // namespace

int main(int argc, char** argv) {
  // Keep freed message buffers in the heap instead of returning them to the OS:
  // a page faulted in fresh costs ~10 us here, which made large PS requests
  // 7x slower (bench-ps dim 256: 0.58 -> 4.1 GB/s pull). Same effect as
  // GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32M:trim_threshold=1G.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "ping") return metaps::PingCommand(argc, argv);
  if (command == "keygen") return metaps::KeygenCommand(argc, argv);
  if (command == "bench-ps") return metaps::BenchPsCommand(argc, argv);
  if (command == "datagen") return metaps::DatagenCommand(argc, argv);
  if (command == "scale") return metaps::ScaleCommand(argc, argv);
  if (command == "train") return metaps::TrainCommand(argc, argv);
  if (command == "eval") return metaps::EvalCommand(argc, argv);
  if (command == "export") return metaps::ExportCommand(argc, argv);
  if (command == "meta-train") return metaps::MetaTrainCommand(argc, argv);
  if (command == "adapt") return metaps::AdaptCommand(argc, argv);
  if (command == "retrain") return metaps::RetrainCommand(argc, argv);
  if (command == "select") return metaps::SelectCommand(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("metaps %s (cuda %s)\n", METAPS_VERSION, METAPS_HAVE_CUDA ? "on" : "off");
    return 0;
  }
  std::fprintf(stderr, "metaps: unknown subcommand '%s'\n\n%s", command.c_str(), kUsage);
  return 2;
}
