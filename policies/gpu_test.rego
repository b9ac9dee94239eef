package main

# --- gpu_parallelism ---

test_gpu_parallelism_passes_when_tensor_parallel_matches_the_gpus if {
	count(deny_gpu_parallelism) == 0 with data.main.objects as fixture_release
}

test_gpu_parallelism_passes_when_the_last_flag_given_through_extra_args_matches if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "1"},
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "-tp=2"},
	])
	count(deny_gpu_parallelism) == 0 with data.main.objects as [d]
}

test_gpu_parallelism_fails_when_tensor_parallel_exceeds_the_gpu_limit if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "4"}])
	deny_gpu_parallelism == {"[gpu_parallelism] Deployment llms-v2-demo container vllm: tensor-parallel 4 x pipeline-parallel 1 x data-parallel 1 = 4 GPUs but the nvidia.com/gpu limit is 2; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs"} with data.main.objects as [d]
}

test_gpu_parallelism_fails_when_extra_args_add_pipeline_parallelism if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--pipeline-parallel-size=2"}])
	deny_gpu_parallelism == {"[gpu_parallelism] Deployment llms-v2-demo container vllm: tensor-parallel 2 x pipeline-parallel 2 x data-parallel 1 = 4 GPUs but the nvidia.com/gpu limit is 2; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs"} with data.main.objects as [d]
}

# --- gpu_whole_number ---

test_gpu_whole_number_passes_on_whole_gpus_given_as_strings if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": "2"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": "2"},
	])
	count(deny_gpu_whole_number) == 0 with data.main.objects as [d]
}

test_gpu_whole_number_fails_on_a_fraction_of_a_gpu if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 1.5},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 1.5},
	])
	deny_gpu_whole_number == {
		"[gpu_whole_number] Deployment llms-v2-demo container vllm: nvidia.com/gpu limit 1.5 is not a whole number of at least 1; GPUs are whole devices, set deployment.numGPUs to one",
		"[gpu_whole_number] Deployment llms-v2-demo container vllm: nvidia.com/gpu request 1.5 is not a whole number of at least 1; GPUs are whole devices, set deployment.numGPUs to one",
	} with data.main.objects as [d]
}

# --- shm_mounted ---

test_shm_mounted_passes_for_a_single_gpu_without_shared_memory if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "1"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 1},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 1},
		{"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/1"},
	])
	count(deny_shm_mounted) == 0 with data.main.objects as [d]
}

test_shm_mounted_fails_for_two_gpus_without_shared_memory if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/1"}])
	deny_shm_mounted == {"[shm_mounted] Deployment llms-v2-demo container vllm: 2 GPUs but no memory-backed emptyDir is mounted at /dev/shm (the runtime default is 64M and NCCL fails); mount an emptyDir with medium: Memory at /dev/shm (the chart's shmSize)"} with data.main.objects as [d]
}

# The known failure of other charts: parallelism passed through extra args, /dev/shm left at 64M.
test_shm_mounted_fails_when_extra_args_ask_for_more_gpus_than_the_limit if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "1"},
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "-tp"},
		{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "4"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 1},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 1},
		{"op": "remove", "path": "/spec/template/spec/containers/0/volumeMounts/1"},
	])
	deny_shm_mounted == {"[shm_mounted] Deployment llms-v2-demo container vllm: 4 GPUs but no memory-backed emptyDir is mounted at /dev/shm (the runtime default is 64M and NCCL fails); mount an emptyDir with medium: Memory at /dev/shm (the chart's shmSize)"} with data.main.objects as [d]
}

test_shm_mounted_fails_when_dev_shm_is_a_disk_volume if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/volumes/1/emptyDir/medium"}])
	count(deny_shm_mounted) == 1 with data.main.objects as [d]
}

# --- shm_size ---

test_shm_size_passes_at_the_seed_size_for_four_gpus if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "4"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 4},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 4},
		{"op": "replace", "path": "/spec/template/spec/volumes/1/emptyDir/sizeLimit", "value": "32Gi"},
	])
	count(deny_shm_size) == 0 with data.main.objects as [d]
}

test_shm_size_fails_below_the_seed_size_for_four_gpus if {
	d := json.patch(fixture_deployment, [
		{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "4"},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 4},
		{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 4},
	])
	deny_shm_size == {"[shm_size] Deployment llms-v2-demo container vllm: /dev/shm sizeLimit 16Gi is below 32Gi, the least for 4 GPUs (sizing.yaml sharedMemory); raise shmSize (or leave it empty to use the table)"} with data.main.objects as [d]
}

# One GPU per pod runs no NCCL: the row's floor (1Gi), not its 16Gi, is the least; two GPUs keep the seed's size.
one_gpu_with_shm(size) := json.patch(fixture_deployment, [
	{"op": "replace", "path": "/spec/template/spec/containers/0/args/8", "value": "1"},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu", "value": 1},
	{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/nvidia.com~1gpu", "value": 1},
	{"op": "replace", "path": "/spec/template/spec/volumes/1/emptyDir/sizeLimit", "value": size},
])

test_shm_size_passes_at_the_floor_for_one_gpu if {
	count(deny_shm_size) == 0 with data.main.objects as [one_gpu_with_shm("1Gi")]
}

test_shm_size_fails_one_mebibyte_below_the_floor_for_one_gpu if {
	deny_shm_size == {"[shm_size] Deployment llms-v2-demo container vllm: /dev/shm sizeLimit 1023Mi is below 1Gi, the least for 1 GPUs (sizing.yaml sharedMemory); raise shmSize (or leave it empty to use the table)"} with data.main.objects as [one_gpu_with_shm("1023Mi")]
}

test_shm_size_fails_at_the_one_gpu_floor_for_two_gpus if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/volumes/1/emptyDir/sizeLimit", "value": "1Gi"}])
	deny_shm_size == {"[shm_size] Deployment llms-v2-demo container vllm: /dev/shm sizeLimit 1Gi is below 16Gi, the least for 2 GPUs (sizing.yaml sharedMemory); raise shmSize (or leave it empty to use the table)"} with data.main.objects as [d]
}

test_shm_size_fails_without_a_size_limit if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/volumes/1/emptyDir/sizeLimit"}])
	deny_shm_size == {"[shm_size] Deployment llms-v2-demo container vllm: the /dev/shm emptyDir dshm has no sizeLimit, so it can grow to the node's memory; set shmSize"} with data.main.objects as [d]
}

test_shm_size_fails_when_shared_memory_reaches_the_memory_limit if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/volumes/1/emptyDir/sizeLimit", "value": "200Gi"}])
	deny_shm_size == {"[shm_size] Deployment llms-v2-demo container vllm: /dev/shm sizeLimit 200Gi is not below the memory limit 200Gi (shared memory is charged to the container); lower shmSize or raise resources.limits.memory"} with data.main.objects as [d]
}

# --- nvidia_visible_devices ---

test_nvidia_visible_devices_passes_without_the_variable if {
	count(deny_nvidia_visible_devices) == 0 with data.main.objects as fixture_release
}

test_nvidia_visible_devices_fails_when_extra_env_sets_it if {
	d := json.patch(fixture_deployment, [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}}])
	deny_nvidia_visible_devices == {"[nvidia_visible_devices] Deployment llms-v2-demo container vllm: sets NVIDIA_VISIBLE_DEVICES, which bypasses the GPUs the device plugin assigned; remove it from extraEnv and request GPUs with deployment.numGPUs"} with data.main.objects as [d]
}

# --- gpu_toleration ---

test_gpu_toleration_passes_with_a_toleration_of_every_taint if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/tolerations", "value": [{"operator": "Exists"}]}])
	count(deny_gpu_toleration) == 0 with data.main.objects as [d]
}

test_gpu_toleration_fails_without_tolerations if {
	d := json.patch(fixture_deployment, [{"op": "remove", "path": "/spec/template/spec/tolerations"}])
	deny_gpu_toleration == {"[gpu_toleration] Deployment llms-v2-demo: does not tolerate the nvidia.com/gpu:NoSchedule taint of GPU nodes, so it stays Pending; keep the chart's default tolerations entry {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}"} with data.main.objects as [d]
}

test_gpu_toleration_fails_when_only_another_effect_is_tolerated if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/spec/template/spec/tolerations/0/effect", "value": "NoExecute"}])
	count(deny_gpu_toleration) == 1 with data.main.objects as [d]
}

# --- model_labels ---

test_model_labels_passes_for_a_34b_medium_model if {
	count(deny_model_labels) == 0 with data.main.objects as fixture_release
}

test_model_labels_fails_on_an_unknown_size_class if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/metadata/labels/vllm-models.io~1size-class", "value": "huge"}])
	deny_model_labels == {"[model_labels] Deployment llms-v2-demo: label vllm-models.io/size-class is huge, not one of small, medium, large, xlarge, massive; render with the chart, which derives it from modelInfo.parameters"} with data.main.objects as [d]
}

test_model_labels_fails_on_an_unknown_architecture if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/metadata/labels/vllm-models.io~1architecture", "value": "sparse"}])
	deny_model_labels == {"[model_labels] Deployment llms-v2-demo: label vllm-models.io/architecture is sparse, not dense or moe; set modelInfo.architecture"} with data.main.objects as [d]
}

test_model_labels_fails_on_a_parameter_count_that_is_not_whole if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/metadata/annotations/vllm-models.io~1parameters-billions", "value": "thirty"}])
	deny_model_labels == {"[model_labels] Deployment llms-v2-demo: annotation vllm-models.io/parameters-billions is thirty, not a whole number of billions; set modelInfo.parameters"} with data.main.objects as [d]
}

test_model_labels_fails_when_the_size_class_disagrees_with_the_parameters if {
	d := json.patch(fixture_deployment, [{"op": "replace", "path": "/metadata/labels/vllm-models.io~1size-class", "value": "small"}])
	deny_model_labels == {"[model_labels] Deployment llms-v2-demo: label vllm-models.io/size-class is small but 34B parameters is size class medium in sizing.yaml; render with the chart instead of editing labels"} with data.main.objects as [d]
}
