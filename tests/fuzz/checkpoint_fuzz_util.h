// The fixed tables and manifest the checkpoint fuzz targets and their seed
// generator share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ps/checkpoint.h"
#include "ps/checkpoint_manifest.h"
#include "ps/embedding_table.h"
#include "ps/table_spec.h"

namespace metaps::fuzz {

constexpr int64_t kCheckpointStep = 3;
constexpr uint64_t kCheckpointSeed = 7;

// Two small tables: "emb" (id 1, sgd, dim 4) and "ada" (id 2, adagrad, dim 2).
inline std::vector<std::unique_ptr<EmbeddingTable>> CheckpointTables() {
  std::vector<std::unique_ptr<EmbeddingTable>> tables;
  const struct {
    uint32_t id;
    const char* name;
    OptimizerKind kind;
    int dim;
  } kSpecs[] = {{1, "emb", OptimizerKind::kSgd, 4}, {2, "ada", OptimizerKind::kAdagrad, 2}};
  for (const auto& s : kSpecs) {
    TableSpec spec;
    spec.id = s.id;
    spec.name = s.name;
    spec.dim = s.dim;
    spec.init = InitializerSpec::Uniform(0.1f);
    spec.optimizer.kind = s.kind;
    spec.optimizer.lr = 0.1f;
    EmbeddingTableOptions options;
    options.num_stripes = 1;
    auto table = EmbeddingTable::Create(spec, kCheckpointSeed, options);
    if (!table.ok()) std::abort();
    tables.push_back(std::move(table).value());
  }
  return tables;
}

}  // namespace metaps::fuzz
