// `metaps select --shared-cluster`: a model-selection study (launch/study.h)
// as one cluster job, every trial on the same servers.
//
// The workers are divided into groups of --group-workers (worker indices
// [g*K, (g+1)*K)), each with its own dense all-reduce communicator
// (JobRoles::worker_group_size). A free group asks the scheduler for work;
// the scheduler's study decides (successive halving, ASHA by default) and
// answers with a trial and its rung. The group trains that trial in the
// trial's own table namespace on the servers (ids 16*(trial+1) + 0 and + 1,
// created at run time by the group's first worker with the trial's dim,
// optimizer and initializer, rows seeded as a plain job's tables 0 and 1),
// evaluates it, writes its state, reports, and asks again. A promoted trial
// goes on from its own tables and state, in whichever group is free.
//
// Gathers (common/proto/control.proto):
//   "study/next/<g>/<n>"    group g: a TrialAssignment (RUN, WAIT: ask again
//                           shortly, DONE), with the namespaces of stopped
//                           trials for the group's first worker to drop
//   "study/ready/<g>/<n>"   group g: the trial's tables exist
//   "trial/<t>/..."         trial t's trainer (its evaluation and done line),
//                           answered by a TrainJob of its own
//   "study/report/<g>/<n>"  group g: the rung is done (a TrialReport)
//   "study/end"             every member, once every group had DONE: a
//                           StudyEnd; the servers export the best trial's
//                           tables to best-model/, then drop every table
//   "study/memory"          every member: each server's ServerMemory
//
// A kill loses the trials' tables; --resume goes on with study.json's
// decisions, training a promoted trial whose tables are gone from scratch to
// its new budget (BSP with fixed seeds gives the same numbers as going on
// from its state), and rebuilding the best trial's tables for the export if
// they are gone.
#pragma once

#include "launch/cluster_runner.h"
#include "launch/select.h"

namespace metaps {

// Runs (or resumes) the study in o.out on the cluster `cluster` describes
// (mpirun's ranks, or every role as a thread of this process; the servers are
// the job's cluster.servers unless `servers_given`). Returns the exit code:
// 0 done, 1 failed, 2 a usage error.
int RunSharedStudy(const SelectOptions& o, ClusterOptions cluster, bool servers_given,
                   int group_workers);

}  // namespace metaps
