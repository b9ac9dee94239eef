# Availability: rollouts and disruptions never take the last serving pod away.
# Cross-object rules: they need the whole release (conftest --combine).
package main

deployments := [obj | some obj in objects; obj.kind == "Deployment"]

# Objects that run the release's replicas: Deployments and LeaderWorkerSets (a group of pods per replica).
workloads := [obj | some obj in objects; obj.kind in gpu_workload_kinds]

# Pods per replica: a LeaderWorkerSet group's size, else one.
workload_size(obj) := lws_size(obj) if obj.kind == "LeaderWorkerSet"

workload_size(obj) := 1 if obj.kind != "LeaderWorkerSet"

# The labels a workload's pods carry as they run (a group's leader and workers).
workload_pod_labels(obj) := [pod.labels | some pod in pods; pod.kind == obj.kind; pod.name == obj.metadata.name]

# HorizontalPodAutoscalers and KEDA ScaledObjects (which create one), with their range.
autoscalers := array.concat(
	[{"kind": obj.kind, "name": obj.metadata.name, "target": obj.spec.scaleTargetRef, "min": object.get(obj.spec, "minReplicas", 1), "max": obj.spec.maxReplicas} |
		some obj in objects
		obj.kind == "HorizontalPodAutoscaler"
	],
	[{"kind": obj.kind, "name": obj.metadata.name, "target": obj.spec.scaleTargetRef, "min": object.get(obj.spec, "minReplicaCount", 0), "max": object.get(obj.spec, "maxReplicaCount", 100)} |
		some obj in objects
		obj.kind == "ScaledObject"
	],
)

autoscaler_of(deployment) := scaler if {
	some scaler in autoscalers
	object.get(scaler.target, "kind", "Deployment") == deployment.kind
	scaler.target.name == deployment.metadata.name
}

# The replicas a Deployment runs at least: the autoscaler's minimum when one scales it.
replicas(deployment) := scaler.min if {
	scaler := autoscaler_of(deployment)
} else := object.get(deployment.spec, "replicas", 1)

# METADATA
# title: PDB never blocks every eviction
# description: a PodDisruptionBudget leaves at least one pod of the workload it covers evictable (minAvailable below its pods, replicas x group size for a LeaderWorkerSet; maxUnavailable above 0); otherwise node drains hang forever.
# custom:
#   source: seed 000 "Template 2" (podDisruptionBudget minAvailable 1) and seed 002 (maxUnavailable 1); Kubernetes "Specifying a Disruption Budget"
#   severity: deny
deny_pdb_allows_eviction contains msg if {
	some pdb in objects
	pdb.kind == "PodDisruptionBudget"
	some deployment in deployments
	label_selector_matches(pdb.spec.selector, object.get(deployment.spec.template, ["metadata", "labels"], {}))
	count_replicas := replicas(deployment)
	available := min_available(pdb.spec.minAvailable, count_replicas)
	available >= count_replicas
	msg := format("[pdb_allows_eviction] PodDisruptionBudget %v: minAvailable %v with %v replica(s) of Deployment %v blocks every eviction, so node drains hang; use podDisruptionBudget.maxUnavailable: 1 (minAvailable: null) or run more replicas", [pdb.metadata.name, pdb.spec.minAvailable, count_replicas, deployment.metadata.name])
}

deny_pdb_allows_eviction contains msg if {
	some pdb in objects
	pdb.kind == "PodDisruptionBudget"
	some group in workloads
	group.kind == "LeaderWorkerSet"
	some labels in workload_pod_labels(group)
	label_selector_matches(pdb.spec.selector, labels)
	total := replicas(group) * workload_size(group)
	available := min_available(pdb.spec.minAvailable, total)
	available >= total
	msg := format("[pdb_allows_eviction] PodDisruptionBudget %v: minAvailable %v with %v pod(s) of LeaderWorkerSet %v (%v replica(s) x %v nodes) blocks every eviction, so node drains hang; use podDisruptionBudget.maxUnavailable: 1 (minAvailable: null)", [pdb.metadata.name, pdb.spec.minAvailable, total, group.metadata.name, replicas(group), workload_size(group)])
}

deny_pdb_allows_eviction contains msg if {
	some pdb in objects
	pdb.kind == "PodDisruptionBudget"
	not pdb.spec.minAvailable
	text(pdb.spec.maxUnavailable) in {"0", "0%"}
	msg := format("[pdb_allows_eviction] PodDisruptionBudget %v: maxUnavailable %v blocks every eviction, so node drains hang; set podDisruptionBudget.maxUnavailable: 1", [pdb.metadata.name, pdb.spec.maxUnavailable])
}

min_available(value, _) := value if is_number(value)

min_available(value, total) := ceil((total * number(trim_suffix(value, "%"))) / 100) if {
	is_string(value)
	endswith(value, "%")
}

# METADATA
# title: Rolling updates keep capacity
# description: a Deployment that rolls (type RollingUpdate, the default) sets maxUnavailable to 0, so a new pod is ready before an old one goes; type Recreate is the explicit choice where no spare GPUs exist. A LeaderWorkerSet, which has no Recreate, either keeps capacity (maxUnavailable 0) or replaces groups in place (maxSurge 0), never both stops groups and adds spare ones.
# custom:
#   source: seed 000 "Graceful Shutdown and Zero-Downtime Updates" (maxUnavailable 0, maxSurge 1); LWS rolloutStrategy (kubernetes-sigs/lws v0.10.0 site/content/en/docs/concepts/rollout-strategy)
#   severity: deny
deny_rolling_update_capacity contains msg if {
	some deployment in deployments
	strategy := object.get(deployment.spec, "strategy", {})
	object.get(strategy, "type", "RollingUpdate") == "RollingUpdate"
	unavailable := object.get(strategy, ["rollingUpdate", "maxUnavailable"], "25%")
	not text(unavailable) in {"0", "0%"}
	msg := format("[rolling_update_capacity] Deployment %v: RollingUpdate with maxUnavailable %v stops serving pods before their replacements load; set deployment.updateStrategy.rollingUpdate.maxUnavailable: 0, or type: Recreate where no spare GPUs exist", [deployment.metadata.name, unavailable])
}

deny_rolling_update_capacity contains msg if {
	some group in workloads
	group.kind == "LeaderWorkerSet"
	rolling := object.get(group.spec, ["rolloutStrategy", "rollingUpdateConfiguration"], {})
	unavailable := object.get(rolling, "maxUnavailable", 1)
	surge := object.get(rolling, "maxSurge", 0)
	not text(unavailable) in {"0", "0%"}
	not text(surge) in {"0", "0%"}
	msg := format("[rolling_update_capacity] LeaderWorkerSet %v: rollout with maxUnavailable %v and maxSurge %v both stops serving groups and needs spare ones; keep capacity (deployment.updateStrategy.rollingUpdate.maxUnavailable: 0) or replace groups in place where no spare group of GPUs exists (maxSurge: 0)", [group.metadata.name, unavailable, surge])
}

# METADATA
# title: Autoscaler owns the replica count
# description: a Deployment (or LeaderWorkerSet) targeted by a HorizontalPodAutoscaler or a KEDA ScaledObject sets no spec.replicas; every apply would reset the autoscaler's count.
# custom:
#   source: Kubernetes HorizontalPodAutoscaler walkthrough ("Migrating Deployments and StatefulSets to horizontal autoscaling"); seed 002 hpa.yaml
#   severity: deny
deny_hpa_replicas contains msg if {
	some deployment in workloads
	scaler := autoscaler_of(deployment)
	deployment.spec.replicas
	msg := format("[hpa_replicas] %v %v: sets replicas %v while %v %v scales it, so every apply resets the count; drop replicas (the chart does when autoscaling or keda is enabled)", [deployment.kind, deployment.metadata.name, deployment.spec.replicas, scaler.kind, scaler.name])
}

# METADATA
# title: Autoscaler range
# description: an autoscaler's maximum replicas exceed its minimum (HorizontalPodAutoscaler minReplicas default 1, ScaledObject minReplicaCount default 0), or it can never scale.
# custom:
#   source: seed 002 hpa.yaml (minReplicas/maxReplicas)
#   severity: deny
deny_hpa_range contains msg if {
	some scaler in autoscalers
	scaler.max <= scaler.min
	msg := format("[hpa_range] %v %v: maximum replicas %v does not exceed minimum %v, so it can never scale; raise autoscaling.maxReplicas (keda.maxReplicas)", [scaler.kind, scaler.name, scaler.max, scaler.min])
}
