#!/usr/bin/env bash
# launch/kubeflow/mpijob.yaml parses as YAML, is a v2beta1 MPIJob whose
# launcher runs mpirun, and its cluster shape fits its slots: -np at most
# Worker replicas x slotsPerWorker, with a scheduler, --servers servers and at
# least one worker; every volume a container mounts is declared.
# Exits 77 (skipped) without python3's yaml module (Debian: python3-yaml).
#   kubeflow_mpijob_test.sh SOURCE_DIR
set -euo pipefail
manifest=$1/launch/kubeflow/mpijob.yaml
python3 -c 'import yaml' 2>/dev/null || { echo "SKIPPED: no python3 yaml module"; exit 77; }
python3 - "$manifest" <<'PY'
import sys, yaml
path = sys.argv[1]
with open(path) as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
errors = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        errors.append(what)
check(len(docs) == 1, "one document")
job = docs[0]
check(job.get("apiVersion") == "kubeflow.org/v2beta1" and job.get("kind") == "MPIJob",
      "a kubeflow.org/v2beta1 MPIJob")
spec = job["spec"]
replicas = spec["mpiReplicaSpecs"]
launcher = replicas["Launcher"]["template"]["spec"]
workers = replicas["Worker"]
check(replicas["Launcher"]["replicas"] == 1, "one launcher")
cmd = launcher["containers"][0]["command"]
check(cmd[0] == "mpirun", "the launcher runs mpirun")
np = int(cmd[cmd.index("-np") + 1])
servers = int(cmd[cmd.index("--servers") + 1])
slots = spec["slotsPerWorker"] * workers["replicas"]
check(np <= slots, f"-np {np} fits {slots} slots")
check(np - 1 - servers >= 1, f"-np {np} leaves a worker after 1 scheduler + {servers} servers")
check(cmd[cmd.index("--map-by") + 1] == "node", "ranks mapped round-robin over the pods")
check(all(isinstance(a, str) for a in cmd), "every command argument is a string")
for role, pod in (("Launcher", launcher), ("Worker", workers["template"]["spec"])):
    declared = {v["name"] for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        for m in c.get("volumeMounts", []):
            check(m["name"] in declared, f"{role} mounts declared volume {m['name']}")
if errors:
    sys.exit(f"{path}: {len(errors)} check(s) failed")
print("all checks passed")
PY
