#include "worker/model.h"

#include "worker/models/model_family.h"

namespace metaps {

StatusOr<std::unique_ptr<Model>> CreateModel(const ModelOptions& options, const BatchSchema& schema,
                                             KernelBackend* backend) {
  if (backend == nullptr) return InvalidArgument("CreateModel: no KernelBackend given");
  if (options.embedding_dim <= 0) {
    return InvalidArgument("ModelOptions.embedding_dim must be positive, got " +
                           std::to_string(options.embedding_dim));
  }
  for (size_t l = 0; l < options.hidden.size(); ++l) {
    if (options.hidden[l] <= 0) {
      return InvalidArgument("ModelOptions.hidden[" + std::to_string(l) +
                             "] must be positive, got " + std::to_string(options.hidden[l]));
    }
  }
  if (options.family == "mf") return CreateMfModel(options, schema, backend);
  if (options.family == "ncf") return CreateNcfModel(options, schema, backend);
  if (options.family == "deepfm") return CreateDeepFmModel(options, schema, backend);
  if (options.family == "multi_scenario") {
    return CreateMultiScenarioModel(options, schema, backend);
  }
  return InvalidArgument("ModelOptions.family '" + options.family +
                         "' is unknown; expected one of mf, ncf, deepfm, multi_scenario");
}

}  // namespace metaps
