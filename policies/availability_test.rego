package main

# --- pdb_allows_eviction ---

test_pdb_allows_eviction_passes_with_max_unavailable_one if {
	count(deny_pdb_allows_eviction) == 0 with data.main.objects as fixture_release
}

test_pdb_allows_eviction_passes_with_min_available_below_the_replicas if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/replicas", "value": 3}])
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec", "value": {"minAvailable": "50%", "selector": {"matchLabels": fixture_selector}}}])
	count(deny_pdb_allows_eviction) == 0 with data.main.objects as [d, p]
}

test_pdb_allows_eviction_fails_with_min_available_equal_to_the_replicas if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec", "value": {"minAvailable": 1, "selector": {"matchLabels": fixture_selector}}}])
	deny_pdb_allows_eviction == {"[pdb_allows_eviction] PodDisruptionBudget llms-v2-demo: minAvailable 1 with 1 replica(s) of Deployment llms-v2-demo blocks every eviction, so node drains hang; use podDisruptionBudget.maxUnavailable: 1 (minAvailable: null) or run more replicas"} with data.main.objects as [fixture_deployment, p]
}

test_pdb_allows_eviction_fails_with_a_full_percentage_and_an_autoscaler if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/replicas"}])
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec", "value": {"minAvailable": "100%", "selector": {"matchLabels": fixture_selector}}}])
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms-v2-demo"}, "minReplicas": 2, "maxReplicas": 4}}
	deny_pdb_allows_eviction == {"[pdb_allows_eviction] PodDisruptionBudget llms-v2-demo: minAvailable 100% with 2 replica(s) of Deployment llms-v2-demo blocks every eviction, so node drains hang; use podDisruptionBudget.maxUnavailable: 1 (minAvailable: null) or run more replicas"} with data.main.objects as [d, p, hpa]
}

test_pdb_allows_eviction_fails_with_max_unavailable_zero if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/spec/maxUnavailable", "value": 0}])
	deny_pdb_allows_eviction == {"[pdb_allows_eviction] PodDisruptionBudget llms-v2-demo: maxUnavailable 0 blocks every eviction, so node drains hang; set podDisruptionBudget.maxUnavailable: 1"} with data.main.objects as [fixture_deployment, p]
}

# --- rolling_update_capacity ---

test_rolling_update_capacity_passes_with_recreate if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/strategy", "value": {"type": "Recreate"}}])
	count(deny_rolling_update_capacity) == 0 with data.main.objects as [d]
}

test_rolling_update_capacity_fails_with_max_unavailable_one if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": 1}])
	deny_rolling_update_capacity == {"[rolling_update_capacity] Deployment llms-v2-demo: RollingUpdate with maxUnavailable 1 stops serving pods before their replacements load; set deployment.updateStrategy.rollingUpdate.maxUnavailable: 0, or type: Recreate where no spare GPUs exist"} with data.main.objects as [d]
}

test_rolling_update_capacity_fails_with_the_kubernetes_default_strategy if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/strategy"}])
	deny_rolling_update_capacity == {"[rolling_update_capacity] Deployment llms-v2-demo: RollingUpdate with maxUnavailable 25% stops serving pods before their replacements load; set deployment.updateStrategy.rollingUpdate.maxUnavailable: 0, or type: Recreate where no spare GPUs exist"} with data.main.objects as [d]
}

# --- hpa_replicas ---

test_hpa_replicas_passes_when_the_autoscaler_owns_the_count if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/replicas"}])
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms-v2-demo"}, "minReplicas": 1, "maxReplicas": 2}}
	count(deny_hpa_replicas) == 0 with data.main.objects as [d, hpa]
}

test_hpa_replicas_fails_when_the_deployment_also_sets_replicas if {
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms-v2-demo"}, "minReplicas": 1, "maxReplicas": 2}}
	deny_hpa_replicas == {"[hpa_replicas] Deployment llms-v2-demo: sets replicas 1 while HorizontalPodAutoscaler llms-v2-demo scales it, so every apply resets the count; drop replicas (the chart does when autoscaling or keda is enabled)"} with data.main.objects as [fixture_deployment, hpa]
}

test_hpa_replicas_fails_when_a_keda_scaled_object_targets_a_deployment_with_replicas if {
	scaled := {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"name": "llms-v2-demo"}, "minReplicaCount": 1, "maxReplicaCount": 3}}
	deny_hpa_replicas == {"[hpa_replicas] Deployment llms-v2-demo: sets replicas 1 while ScaledObject llms-v2-demo scales it, so every apply resets the count; drop replicas (the chart does when autoscaling or keda is enabled)"} with data.main.objects as [fixture_deployment, scaled]
}

# --- hpa_range ---

test_hpa_range_passes_for_a_scaled_object_that_scales_from_zero if {
	scaled := {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"name": "llms-v2-demo"}, "maxReplicaCount": 1}}
	count(deny_hpa_range) == 0 with data.main.objects as [scaled]
}

test_hpa_range_fails_when_max_equals_min if {
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llms-v2-demo"}, "minReplicas": 2, "maxReplicas": 2}}
	deny_hpa_range == {"[hpa_range] HorizontalPodAutoscaler llms-v2-demo: maximum replicas 2 does not exceed minimum 2, so it can never scale; raise autoscaling.maxReplicas (keda.maxReplicas)"} with data.main.objects as [hpa]
}
