package main

# Multi-node groups (LeaderWorkerSet): the group rules, and every shared rule reaching the
# leader and worker templates through `pods` and `gpu_deployments` (lib.rego).

# --- group_restart ---

test_group_restart_passes_when_the_group_is_recreated_as_one if {
	count(deny_group_restart) == 0 with data.main.objects as fixture_group_release
}

test_group_restart_passes_when_the_policy_is_left_to_the_lws_default if {
	g := json.patch(fixture_lws, [{"op": "remove", "path": "/spec/leaderWorkerTemplate/restartPolicy"}])
	count(deny_group_restart) == 0 with data.main.objects as [g]
}

test_group_restart_fails_when_one_pod_restarts_alone if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/leaderWorkerTemplate/restartPolicy", "value": "None"}])
	deny_group_restart == {"[group_restart] LeaderWorkerSet llms-v2-demo: restartPolicy None restarts one pod of the group alone, and the other ranks cannot take it back; use RecreateGroupOnPodRestart (the chart's)"} with data.main.objects as [g]
}

# --- group_startup ---

test_group_startup_passes_when_workers_start_with_the_leader if {
	count(deny_group_startup) == 0 with data.main.objects as fixture_group_release
}

test_group_startup_passes_for_leader_ready_without_a_readiness_probe if {
	g := json.patch(fixture_lws, [
		{"op": "replace", "path": "/spec/startupPolicy", "value": "LeaderReady"},
		{"op": "remove", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/containers/0/readinessProbe"},
	])
	count(deny_group_startup) == 0 with data.main.objects as [g]
}

test_group_startup_fails_when_workers_wait_for_a_leader_that_waits_for_them if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/startupPolicy", "value": "LeaderReady"}])
	deny_group_startup == {"[group_startup] LeaderWorkerSet llms-v2-demo: startupPolicy LeaderReady creates the workers only after the leader is Ready, but the leader's container vllm is Ready only once the workers joined; use startupPolicy LeaderCreated (the chart's)"} with data.main.objects as [g]
}

# --- service_selects_leaders ---

test_service_selects_leaders_passes_when_the_selector_names_worker_index_0 if {
	count(deny_service_selects_leaders) == 0 with data.main.objects as fixture_group_release
}

test_service_selects_leaders_passes_for_a_deployment if {
	count(deny_service_selects_leaders) == 0 with data.main.objects as fixture_release
}

test_service_selects_leaders_fails_when_the_selector_also_matches_the_workers if {
	deny_service_selects_leaders == {"[service_selects_leaders] Service llms-v2-demo: selector app.kubernetes.io/instance=llms-v2-demo, app.kubernetes.io/name=vllm-models, model=demo also matches the workers of LeaderWorkerSet llms-v2-demo, which serve no HTTP; add leaderworkerset.sigs.k8s.io/worker-index: \"0\" to the selector (the chart does for multiNode.nodes > 1)"} with data.main.objects as [fixture_lws, fixture_service]
}

# --- The shared rules cover the group's leader and worker templates ---

test_the_group_fixture_passes_the_shared_gpu_probe_and_wiring_rules if {
	count(deny_gpu_parallelism) == 0 with data.main.objects as fixture_group_release
	count(deny_shm_mounted) == 0 with data.main.objects as fixture_group_release
	count(deny_shm_size) == 0 with data.main.objects as fixture_group_release
	count(deny_startup_probe_budget) == 0 with data.main.objects as fixture_group_release
	count(deny_progress_deadline) == 0 with data.main.objects as fixture_group_release
	count(deny_grace_covers_shutdown) == 0 with data.main.objects as fixture_group_release
	count(deny_host_path) == 0 with data.main.objects as fixture_group_release
	count(deny_service_selects_pods) == 0 with data.main.objects as fixture_group_release
	count(deny_service_target_port) == 0 with data.main.objects as fixture_group_release
	count(deny_pdb_selects_pods) == 0 with data.main.objects as fixture_group_release
	count(deny_pdb_allows_eviction) == 0 with data.main.objects as fixture_group_release
	count(deny_rolling_update_capacity) == 0 with data.main.objects as fixture_group_release
	count(deny_standard_labels) == 0 with data.main.objects as fixture_group_release
	count(deny_model_labels) == 0 with data.main.objects as fixture_group_release
	count(deny_guaranteed_qos) == 0 with data.main.objects as fixture_group_release
}

test_gpu_parallelism_fails_for_both_templates_when_the_group_has_more_gpus_than_the_parallelism if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/containers/0/args/9", "value": "1"}])
	deny_gpu_parallelism == {
		"[gpu_parallelism] LeaderWorkerSet llms-v2-demo leaderTemplate container vllm: tensor-parallel 2 x pipeline-parallel 1 x data-parallel 1 = 2 GPUs but the group has 2 pods x nvidia.com/gpu limit 2 = 4; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs x multiNode.nodes",
		"[gpu_parallelism] LeaderWorkerSet llms-v2-demo workerTemplate container vllm: tensor-parallel 2 x pipeline-parallel 1 x data-parallel 1 = 2 GPUs but the group has 2 pods x nvidia.com/gpu limit 2 = 4; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs x multiNode.nodes",
	} with data.main.objects as [g]
}

test_shm_mounted_fails_for_a_worker_without_shared_memory if {
	g := json.patch(fixture_lws, [{"op": "remove", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0/volumeMounts/1"}])
	deny_shm_mounted == {"[shm_mounted] LeaderWorkerSet llms-v2-demo workerTemplate container vllm: 2 GPUs but no memory-backed emptyDir is mounted at /dev/shm (the runtime default is 64M and NCCL fails); mount an emptyDir with medium: Memory at /dev/shm (the chart's shmSize)"} with data.main.objects as [g]
}

test_startup_probe_budget_fails_for_a_leader_without_a_startup_probe if {
	g := json.patch(fixture_lws, [{"op": "remove", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/containers/0/startupProbe"}])
	deny_startup_probe_budget == {"[startup_probe_budget] LeaderWorkerSet llms-v2-demo leaderTemplate container vllm: no startupProbe, so liveness and readiness run while the model loads; add a startupProbe on /health (the chart's probes.startup)"} with data.main.objects as [g]
}

test_grace_covers_shutdown_passes_for_a_worker_outlasting_the_leaders_drain if {
	g := json.patch(fixture_lws, [
		{"op": "add", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/containers/0/args/-", "value": "--shutdown-timeout"},
		{"op": "add", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/containers/0/args/-", "value": "60"},
		{"op": "replace", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0/lifecycle/preStop/exec/command/1", "value": "75"},
	])
	count(deny_grace_covers_shutdown) == 0 with data.main.objects as [g]
}

test_grace_covers_shutdown_fails_for_a_worker_whose_pause_outlasts_the_grace if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0/lifecycle/preStop/exec/command/1", "value": "120"}])
	deny_grace_covers_shutdown == {"[grace_covers_shutdown] LeaderWorkerSet llms-v2-demo workerTemplate container vllm: terminationGracePeriodSeconds 120 does not exceed the preStop pause 120s + vLLM --shutdown-timeout 0s = 120s, so vLLM is killed mid-drain; raise deployment.terminationGracePeriodSeconds or shorten deployment.preStopSleepSeconds"} with data.main.objects as [g]
}

test_host_path_passes_for_an_init_container_filling_the_model_cache if {
	g := json.patch(fixture_lws, [{"op": "add", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/initContainers", "value": [{"name": "model-download", "image": "amazon/aws-cli:2.36.7", "volumeMounts": [{"name": "models", "mountPath": "/models"}]}]}])
	count(deny_host_path) == 0 with data.main.objects as [g]
}

test_host_path_fails_for_a_worker_mounting_the_model_writable if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0/volumeMounts/0/readOnly", "value": false}])
	deny_host_path == {"[host_path] LeaderWorkerSet llms-v2-demo workerTemplate container vllm: hostPath /var/modas-models/fp8_models/ (volume models) is mounted writable at /models; mount it readOnly: true"} with data.main.objects as [g]
}

test_host_path_fails_for_an_init_container_writing_a_host_directory_that_is_not_the_model if {
	g := json.patch(fixture_lws, [
		{"op": "add", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/volumes/-", "value": {"name": "scratch", "hostPath": {"path": "/var/tmp"}}},
		{"op": "add", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/initContainers", "value": [{"name": "model-download", "image": "amazon/aws-cli:2.36.7", "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]},
	])
	deny_host_path == {"[host_path] LeaderWorkerSet llms-v2-demo workerTemplate: hostPath /var/tmp (volume scratch) is not the directory of a served model; only the model directory may come from the host (storage.type, hps.models.path)"} with data.main.objects as [g]
}

test_pdb_allows_eviction_fails_when_min_available_holds_every_pod_of_the_group if {
	p := json.patch(fixture_pdb, [{"op": "remove", "path": "/spec/maxUnavailable"}, {"op": "add", "path": "/spec/minAvailable", "value": 2}])
	deny_pdb_allows_eviction == {"[pdb_allows_eviction] PodDisruptionBudget llms-v2-demo: minAvailable 2 with 2 pod(s) of LeaderWorkerSet llms-v2-demo (1 replica(s) x 2 nodes) blocks every eviction, so node drains hang; use podDisruptionBudget.maxUnavailable: 1 (minAvailable: null)"} with data.main.objects as [fixture_lws, p]
}

test_pdb_allows_eviction_passes_one_pod_below_every_pod_of_the_group if {
	p := json.patch(fixture_pdb, [{"op": "remove", "path": "/spec/maxUnavailable"}, {"op": "add", "path": "/spec/minAvailable", "value": 1}])
	count(deny_pdb_allows_eviction) == 0 with data.main.objects as [fixture_lws, p]
}

test_rolling_update_capacity_passes_for_a_group_kept_at_capacity_with_a_spare_group if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/rolloutStrategy/rollingUpdateConfiguration", "value": {"maxUnavailable": 0, "maxSurge": 1}}])
	count(deny_rolling_update_capacity) == 0 with data.main.objects as [g]
}

test_rolling_update_capacity_fails_for_a_group_that_stops_groups_and_adds_spare_ones if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/rolloutStrategy/rollingUpdateConfiguration/maxSurge", "value": "50%"}])
	deny_rolling_update_capacity == {"[rolling_update_capacity] LeaderWorkerSet llms-v2-demo: rollout with maxUnavailable 1 and maxSurge 50% both stops serving groups and needs spare ones; keep capacity (deployment.updateStrategy.rollingUpdate.maxUnavailable: 0) or replace groups in place where no spare group of GPUs exists (maxSurge: 0)"} with data.main.objects as [g]
}

test_rolling_update_capacity_fails_on_lws_defaults_with_a_spare_group if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/rolloutStrategy", "value": {"type": "RollingUpdate", "rollingUpdateConfiguration": {"maxSurge": 1}}}])
	deny_rolling_update_capacity == {"[rolling_update_capacity] LeaderWorkerSet llms-v2-demo: rollout with maxUnavailable 1 and maxSurge 1 both stops serving groups and needs spare ones; keep capacity (deployment.updateStrategy.rollingUpdate.maxUnavailable: 0) or replace groups in place where no spare group of GPUs exists (maxSurge: 0)"} with data.main.objects as [g]
}

test_hpa_replicas_fails_for_an_autoscaler_on_a_group_with_replicas if {
	hpa := {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "llms-v2-demo", "labels": fixture_labels}, "spec": {"scaleTargetRef": {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "llms-v2-demo"}, "minReplicas": 1, "maxReplicas": 2}}
	deny_hpa_replicas == {"[hpa_replicas] LeaderWorkerSet llms-v2-demo: sets replicas 1 while HorizontalPodAutoscaler llms-v2-demo scales it, so every apply resets the count; drop replicas (the chart does when autoscaling or keda is enabled)"} with data.main.objects as [fixture_lws, hpa]
}

test_standard_labels_fails_for_a_worker_template_without_the_chart_labels if {
	g := json.patch(fixture_lws, [{"op": "replace", "path": "/spec/leaderWorkerTemplate/workerTemplate/metadata/labels", "value": {"model": "demo"}}])
	deny_standard_labels == {"[standard_labels] LeaderWorkerSet llms-v2-demo workerTemplate pod template: lacks labels app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/version, app.kubernetes.io/component, app.kubernetes.io/part-of, app.kubernetes.io/managed-by, helm.sh/chart; stamp the chart's standard labels (vllm-models.labels)"} with data.main.objects as [g]
}

test_added_capabilities_fails_for_rdma_ipc_lock_on_the_worker if {
	g := json.patch(fixture_lws, [{"op": "add", "path": "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0/securityContext/capabilities/add", "value": ["IPC_LOCK"]}])
	deny_added_capabilities == {"[added_capabilities] LeaderWorkerSet llms-v2-demo workerTemplate container vllm: adds capabilities IPC_LOCK; remove containerSecurityContext.capabilities.add (declare a debugging need in policies/exceptions.yaml)"} with data.main.objects as [g]
}

test_host_namespaces_fails_for_a_group_on_the_host_network if {
	g := json.patch(fixture_lws, [{"op": "add", "path": "/spec/leaderWorkerTemplate/leaderTemplate/spec/hostNetwork", "value": true}])
	deny_host_namespaces == {"[host_namespaces] LeaderWorkerSet llms-v2-demo leaderTemplate: sets hostNetwork: true and shares the node's namespace; remove it (dropPageCache.enabled sets hostPID: declare that in policies/exceptions.yaml with a reason)"} with data.main.objects as [g]
}
