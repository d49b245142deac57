#include "ps/server_control.h"

#include "common/control.h"
#include "ps/checkpoint.h"

namespace metaps {

Status ServeTrainJobControl(ParameterServer* server, SchedulerClient* scheduler, Env* env,
                            const ServerControlOptions& o) {
  if (o.resumed) {
    RETURN_IF_ERROR(
        scheduler->GatherPayload("ps/resume", kGroupMembers, EncodeRestored(o.restored_step))
            .status());
  }
  for (int k = 0;; ++k) {
    const std::string round = std::to_string(k);
    ASSIGN_OR_RETURN(Message reply, scheduler->Gather("ps/sync/" + round, kGroupMembers));
    ASSIGN_OR_RETURN(control::ServerSync sync,
                     DecodeServerSync(reply.header.control().payload(), "ps/sync/" + round));
    switch (sync.action()) {
      case control::ServerSync::CHECKPOINT:
      case control::ServerSync::END_CHECKPOINT:
        // The workers write their state first (ps/state), then the shards go.
        RETURN_IF_ERROR(scheduler->Barrier("ps/state/" + round, kGroupMembers));
        RETURN_IF_ERROR(
            server->SaveCheckpoint(env, scheduler, o.checkpoint_dir, sync.step(), o.job_name));
        RETURN_IF_ERROR(scheduler->Barrier("ps/saved/" + round, kGroupMembers));
        break;
      case control::ServerSync::RESTORE:
        // Early stopping: back to the best step's tables before the final
        // evaluation; the workers wait for every server in ps/restored.
        RETURN_IF_ERROR(server->RestoreCheckpoint(env, o.checkpoint_dir, sync.step()).status());
        RETURN_IF_ERROR(scheduler->Barrier("ps/restored/" + round, kGroupMembers));
        break;
      case control::ServerSync::END_EXPORT:
        RETURN_IF_ERROR(env->CreateDir(o.export_dir));
        RETURN_IF_ERROR(ExportEmbeddings(
            env, o.export_dir + "/server-" + std::to_string(o.server_index) + ".emb",
            server->tables()));
        break;
      default:
        break;
    }
    if (sync.action() == control::ServerSync::END ||
        sync.action() == control::ServerSync::END_CHECKPOINT ||
        sync.action() == control::ServerSync::END_EXPORT) {
      return Status::Ok();
    }
  }
}

}  // namespace metaps
