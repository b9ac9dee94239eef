package main

# --- startup_probe_budget ---

test_startup_probe_budget_passes_when_the_probe_covers_the_size_class if {
	count(deny_startup_probe_budget) == 0 with data.main.objects as fixture_release
}

test_startup_probe_budget_fails_without_a_startup_probe if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/startupProbe"}])
	deny_startup_probe_budget == {"[startup_probe_budget] Deployment llms-v2-demo container vllm: no startupProbe, so liveness and readiness run while the model loads; add a startupProbe on /health (the chart's probes.startup)"} with data.main.objects as [d]
}

test_startup_probe_budget_fails_below_the_size_class_load_time if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/startupProbe/failureThreshold", "value": 30}])
	deny_startup_probe_budget == {"[startup_probe_budget] Deployment llms-v2-demo container vllm: startupProbe allows 150s (initialDelaySeconds + failureThreshold x periodSeconds) but a medium model may take 300s to load; raise probes.startup.failureThreshold or set slowStart.maxStartupSeconds"} with data.main.objects as [d]
}

# --- liveness_after_startup ---

test_liveness_after_startup_passes_without_startup_probe_when_liveness_waits_out_the_load if {
	d := json.patch(fixture_deployment, [
		{"op": "remove", "path": "/spec/template/spec/containers/0/startupProbe"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/initialDelaySeconds", "value": 600},
	])
	count(deny_liveness_after_startup) == 0 with data.main.objects as [d]
}

test_liveness_after_startup_fails_when_liveness_can_kill_a_loading_model if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/startupProbe"}])
	deny_liveness_after_startup == {"[liveness_after_startup] Deployment llms-v2-demo container vllm: livenessProbe can restart the container after 90s, before a medium model's 300s load time, and no startupProbe holds it back; add a startupProbe"} with data.main.objects as [d]
}

# --- liveness_tolerance ---

test_liveness_tolerance_passes_at_each_minimum_exactly if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 2}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/periodSeconds", "value": 30}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/timeoutSeconds", "value": 5}])
	count(deny_liveness_tolerance) == 0 with data.main.objects as [d]
}

test_liveness_tolerance_fails_one_failure_below_the_minimum if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 1}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/periodSeconds", "value": 60}])
	deny_liveness_tolerance == {"[liveness_tolerance] Deployment llms-v2-demo container vllm: livenessProbe failureThreshold 1 is below 2, so one slow /health answer restarts a loaded model; raise probes.liveness"} with data.main.objects as [d]
}

test_liveness_tolerance_fails_one_second_below_the_timeout if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/timeoutSeconds", "value": 4}])
	deny_liveness_tolerance == {"[liveness_tolerance] Deployment llms-v2-demo container vllm: livenessProbe timeoutSeconds 4 is below 5, so one slow /health answer restarts a loaded model; raise probes.liveness"} with data.main.objects as [d]
}

test_liveness_tolerance_passes_a_window_of_exactly_the_minimum_and_fails_one_period_short if {
	exact := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 3}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/periodSeconds", "value": 20}])
	count(deny_liveness_tolerance) == 0 with data.main.objects as [exact]
	short := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 3}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/periodSeconds", "value": 19}])
	deny_liveness_tolerance == {"[liveness_tolerance] Deployment llms-v2-demo container vllm: livenessProbe failureThreshold x periodSeconds 57 is below 60, so one slow /health answer restarts a loaded model; raise probes.liveness"} with data.main.objects as [short]
}

test_liveness_tolerance_reports_every_shortfall_of_a_hair_trigger_probe if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/failureThreshold", "value": 1}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/periodSeconds", "value": 1}, {"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/timeoutSeconds", "value": 1}])
	count(deny_liveness_tolerance) == 3 with data.main.objects as [d]
}

# --- readiness_equals_liveness (warn) ---

test_readiness_equals_liveness_passes_on_different_probes if {
	count(warn_readiness_equals_liveness) == 0 with data.main.objects as fixture_release
}

test_readiness_equals_liveness_warns_on_identical_probes if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe", "value": fixture_deployment.spec.template.spec.containers[0].livenessProbe}])
	warn_readiness_equals_liveness == {"[readiness_equals_liveness] Deployment llms-v2-demo container vllm: readinessProbe and livenessProbe are identical, so the pod is restarted the moment it stops being ready; give liveness a longer period or more failures (probes.liveness)"} with data.main.objects as [d]
}

# --- progress_deadline ---

test_progress_deadline_passes_beyond_the_startup_budget if {
	count(deny_progress_deadline) == 0 with data.main.objects as fixture_release
}

test_progress_deadline_fails_at_the_kubernetes_default if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/progressDeadlineSeconds"}])
	deny_progress_deadline == {"[progress_deadline] Deployment llms-v2-demo: progressDeadlineSeconds 600 does not exceed the startup budget 600s, so rollouts fail while the model loads; set deployment.progressDeadlineSeconds above 600 (or leave it null: budget + 600s)"} with data.main.objects as [d]
}

# --- termination_grace ---

test_termination_grace_passes_at_the_seed_grace_for_a_moe_model if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/metadata/labels/vllm-models.io~1architecture", "value": "moe"},
		{"op": "replace", "path": "/metadata/annotations/vllm-models.io~1parameters-billions", "value": "671"},
		{"op": "replace", "path": "/spec/template/spec/terminationGracePeriodSeconds", "value": 300},
	])
	count(deny_termination_grace) == 0 with data.main.objects as [d]
}

test_termination_grace_fails_below_the_seed_grace_for_a_moe_model if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/metadata/labels/vllm-models.io~1architecture", "value": "moe"},
		{"op": "replace", "path": "/metadata/annotations/vllm-models.io~1parameters-billions", "value": "671"},
		{"op": "replace", "path": "/spec/template/spec/terminationGracePeriodSeconds", "value": 180},
	])
	deny_termination_grace == {"[termination_grace] Deployment llms-v2-demo: terminationGracePeriodSeconds 180 is below 300s, the seed's grace for a 671B moe model, so in-flight requests are cut off; raise deployment.terminationGracePeriodSeconds (or leave it null)"} with data.main.objects as [d]
}

test_termination_grace_fails_at_the_kubernetes_default if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/terminationGracePeriodSeconds"}])
	deny_termination_grace == {"[termination_grace] Deployment llms-v2-demo: terminationGracePeriodSeconds 30 is below 120s, the seed's grace for a 34B dense model, so in-flight requests are cut off; raise deployment.terminationGracePeriodSeconds (or leave it null)"} with data.main.objects as [d]
}

# --- grace_covers_shutdown ---

test_grace_covers_shutdown_passes_beyond_pause_and_shutdown_timeout if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--shutdown-timeout=60"}])
	count(deny_grace_covers_shutdown) == 0 with data.main.objects as [d]
}

test_grace_covers_shutdown_fails_when_vllm_shutdown_timeout_outlasts_the_grace if {
	d := json.patch(fixture_deployment, [
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--shutdown-timeout"},
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "120"},
	])
	deny_grace_covers_shutdown == {"[grace_covers_shutdown] Deployment llms-v2-demo container vllm: terminationGracePeriodSeconds 120 does not exceed the preStop pause 15s + vLLM --shutdown-timeout 120s = 135s, so vLLM is killed mid-drain; raise deployment.terminationGracePeriodSeconds or shorten deployment.preStopSleepSeconds"} with data.main.objects as [d]
}

test_grace_covers_shutdown_fails_when_a_shell_pre_stop_sleep_outlasts_the_grace if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/lifecycle/preStop/exec/command", "value": ["/bin/sh", "-c", "sleep 200"]}])
	deny_grace_covers_shutdown == {"[grace_covers_shutdown] Deployment llms-v2-demo container vllm: terminationGracePeriodSeconds 120 does not exceed the preStop pause 200s + vLLM --shutdown-timeout 0s = 200s, so vLLM is killed mid-drain; raise deployment.terminationGracePeriodSeconds or shorten deployment.preStopSleepSeconds"} with data.main.objects as [d]
}
