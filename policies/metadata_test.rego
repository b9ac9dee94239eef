package main

# --- standard_labels ---

test_standard_labels_passes_on_the_reference_release if {
	count(deny_standard_labels) == 0 with data.main.objects as fixture_release
}

test_standard_labels_fails_on_an_object_without_part_of if {
	s := json.patch(fixture_service, [{"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1part-of"}])
	deny_standard_labels == {"[standard_labels] Service llms-v2-demo: lacks labels app.kubernetes.io/part-of; stamp the chart's standard labels (vllm-models.labels)"} with data.main.objects as [s]
}

test_standard_labels_fails_on_a_pod_template_without_chart_labels if {
	d := json.patch(fixture_deployment, [
		{"op": "remove", "path": "/spec/template/metadata/labels/helm.sh~1chart"},
		{"op": "remove", "path": "/spec/template/metadata/labels/app.kubernetes.io~1version"},
	])
	deny_standard_labels == {"[standard_labels] Deployment llms-v2-demo pod template: lacks labels app.kubernetes.io/version, helm.sh/chart; stamp the chart's standard labels (vllm-models.labels)"} with data.main.objects as [d]
}

# --- removed_api ---

test_removed_api_passes_on_a_beta_api_still_served_by_the_target if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/apiVersion", "value": "policy/v1beta1"}])
	count(deny_removed_api) == 0 with data.main.objects as [p] with data.kubernetes.version as "1.24.0"
}

test_removed_api_fails_on_an_api_removed_before_the_target if {
	p := json.patch(fixture_pdb, [{"op": "replace", "path": "/apiVersion", "value": "policy/v1beta1"}])
	deny_removed_api == {"[removed_api] PodDisruptionBudget llms-v2-demo: policy/v1beta1 is not served since Kubernetes 1.25 (target 1.33.0); use policy/v1"} with data.main.objects as [p] with data.kubernetes.version as "1.33.0"
}

test_removed_api_fails_on_any_removed_api_without_a_target if {
	h := {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "llms-v2-demo"}, "maxReplicas": 2}}
	deny_removed_api == {"[removed_api] HorizontalPodAutoscaler llms-v2-demo: autoscaling/v2beta2 is not served since Kubernetes 1.26 (target any); use autoscaling/v2"} with data.main.objects as [h]
}
