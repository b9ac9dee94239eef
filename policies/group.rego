# Multi-node groups (LeaderWorkerSet): one vLLM over several pods starts and fails as one.
package main

lws_objects := [obj | some obj in objects; obj.kind == "LeaderWorkerSet"]

# METADATA
# title: A group restarts as one
# description: a LeaderWorkerSet recreates the whole group when one of its pods restarts (restartPolicy RecreateGroupOnPodRestart, its default, or RecreateGroupAfterStart); NCCL and torch.distributed cannot take a restarted rank back, so a group restarting one pod never serves again.
# custom:
#   source: kubernetes-sigs/lws v0.10.0 api/leaderworkerset/v1/leaderworkerset_types.go (RestartPolicyType) and docs concepts/failure-handling
#   severity: deny
deny_group_restart contains msg if {
	some group in lws_objects
	policy := object.get(group.spec.leaderWorkerTemplate, "restartPolicy", "RecreateGroupOnPodRestart")
	not policy in {"RecreateGroupOnPodRestart", "RecreateGroupAfterStart"}
	msg := format("[group_restart] LeaderWorkerSet %v: restartPolicy %v restarts one pod of the group alone, and the other ranks cannot take it back; use RecreateGroupOnPodRestart (the chart's)", [group.metadata.name, policy])
}

# METADATA
# title: Group workers start with the leader
# description: a LeaderWorkerSet whose leader has a readiness probe uses startupPolicy LeaderCreated; with LeaderReady the workers are created only once the leader is Ready, and a vLLM leader is Ready only after its workers joined, so the group never starts.
# custom:
#   source: kubernetes-sigs/lws v0.10.0 api/leaderworkerset/v1/leaderworkerset_types.go (StartupPolicyType); vLLM's leader serves /health only once every node loaded
#   severity: deny
deny_group_startup contains msg if {
	some group in lws_objects
	group.spec.startupPolicy == "LeaderReady"
	some pod in pods
	pod.kind == "LeaderWorkerSet"
	pod.name == group.metadata.name
	pod.role == "leader"
	some c in pod.spec.containers
	c.readinessProbe
	msg := format("[group_startup] LeaderWorkerSet %v: startupPolicy LeaderReady creates the workers only after the leader is Ready, but the leader's container %v is Ready only once the workers joined; use startupPolicy LeaderCreated (the chart's)", [group.metadata.name, c.name])
}
