# GPU serving: what a vLLM pod needs to use exactly the GPUs it is given.
package main

# METADATA
# title: GPU parallelism
# description: tensor x pipeline x data parallel sizes in the vLLM command line equal the container's nvidia.com/gpu limit (times the pods of a LeaderWorkerSet group, whose leader and workers each hold one share), however the sizes are passed (chart keys, extraArgs, -tp/-pp short forms).
# custom:
#   source: 'seed 000 "Template 2: Multi-GPU Model" (tensorParallel MUST equal numGPUs); vLLM docs/serving/parallelism_scaling.md (TP x PP = GPUs per node x nodes)'
#   severity: deny
deny_gpu_parallelism contains msg if {
	some w in gpu_deployments
	w.nodes == 1
	p := w.parallelism
	p.gpus != w.gpus
	msg := format("[gpu_parallelism] %v: tensor-parallel %v x pipeline-parallel %v x data-parallel %v = %v GPUs but the nvidia.com/gpu limit is %v; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs", [container_subject(w.pod, w.container), p.tp, p.pp, p.dp, p.gpus, w.gpus])
}

deny_gpu_parallelism contains msg if {
	some w in gpu_deployments
	w.nodes != 1
	p := w.parallelism
	p.gpus != w.gpus * w.nodes
	msg := format("[gpu_parallelism] %v: tensor-parallel %v x pipeline-parallel %v x data-parallel %v = %v GPUs but the group has %v pods x nvidia.com/gpu limit %v = %v; set deployment.tensorParallel x deployment.pipelineParallel equal to deployment.numGPUs x multiNode.nodes", [container_subject(w.pod, w.container), p.tp, p.pp, p.dp, p.gpus, w.nodes, w.gpus, w.gpus * w.nodes])
}

# METADATA
# title: Whole GPUs
# description: nvidia.com/gpu requests and limits are whole numbers of at least 1 (the device plugin hands out whole devices).
# custom:
#   source: seed 000 "Configuration Templates" (nvidia.com/gpu as whole counts, requests == limits)
#   severity: deny
deny_gpu_whole_number contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some field, kind in {"limits": "limit", "requests": "request"}
	value := c.resources[field]["nvidia.com/gpu"]
	not positive_whole_number(value)
	msg := format("[gpu_whole_number] %v: nvidia.com/gpu %v %v is not a whole number of at least 1; GPUs are whole devices, set deployment.numGPUs to one", [container_subject(pod, c), kind, value])
}

positive_whole_number(value) if {
	whole_number(value)
	number(value) >= 1
}

# METADATA
# title: /dev/shm for multi-GPU pods
# description: a pod with more than one GPU (by its limit or by the parallelism in its command line) mounts a memory-backed emptyDir at /dev/shm; NCCL needs it and the container runtime's 64M default makes multi-GPU vLLM crash.
# custom:
#   source: seed 000 "Shared Memory Scaling" and "Template 2" (shmSize for NCCL)
#   severity: deny
deny_shm_mounted contains msg if {
	some w in gpu_deployments
	gpus := pod_gpus(w)
	gpus > 1
	not shm_volume(w)
	msg := format("[shm_mounted] %v: %v GPUs but no memory-backed emptyDir is mounted at /dev/shm (the runtime default is 64M and NCCL fails); mount an emptyDir with medium: Memory at /dev/shm (the chart's shmSize)", [container_subject(w.pod, w.container), gpus])
}

shm_volume(w) := volume if {
	some mount in w.container.volumeMounts
	mount.mountPath == "/dev/shm"
	some volume in w.pod.spec.volumes
	volume.name == mount.name
	volume.emptyDir.medium == "Memory"
}

# METADATA
# title: /dev/shm size
# description: the /dev/shm emptyDir of a GPU pod has a sizeLimit at least the least size for its GPU count (sizing.yaml sharedMemory, the seed's size from 2 GPUs) and below the container's memory limit (shared memory counts against it).
# custom:
#   source: seed 000 "Shared Memory Scaling" (16Gi, 32Gi at TP=4, 64Gi at TP=8; only a recommendation at TP=1, where no NCCL runs), via sizing.yaml sharedMemory
#   severity: deny
deny_shm_size contains msg if {
	some w in gpu_deployments
	volume := shm_volume(w)
	not volume.emptyDir.sizeLimit
	msg := format("[shm_size] %v: the /dev/shm emptyDir %v has no sizeLimit, so it can grow to the node's memory; set shmSize", [container_subject(w.pod, w.container), volume.name])
}

deny_shm_size contains msg if {
	some w in gpu_deployments
	volume := shm_volume(w)
	gpus := pod_gpus(w)
	minimum := shm_floor_for(gpus)
	quantity(volume.emptyDir.sizeLimit) < quantity(minimum)
	msg := format("[shm_size] %v: /dev/shm sizeLimit %v is below %v, the least for %v GPUs (sizing.yaml sharedMemory); raise shmSize (or leave it empty to use the table)", [container_subject(w.pod, w.container), volume.emptyDir.sizeLimit, minimum, gpus])
}

deny_shm_size contains msg if {
	some w in gpu_deployments
	volume := shm_volume(w)
	limit := w.container.resources.limits.memory
	quantity(volume.emptyDir.sizeLimit) >= quantity(limit)
	msg := format("[shm_size] %v: /dev/shm sizeLimit %v is not below the memory limit %v (shared memory is charged to the container); lower shmSize or raise resources.limits.memory", [container_subject(w.pod, w.container), volume.emptyDir.sizeLimit, limit])
}

# METADATA
# title: No NVIDIA_VISIBLE_DEVICES
# description: no container sets NVIDIA_VISIBLE_DEVICES; it overrides the devices the NVIDIA device plugin assigned through the nvidia.com/gpu limit and can expose every GPU of the node.
# custom:
#   source: seed 000 "GPU Topology and Scheduling" (GPUs are assigned by the NVIDIA device plugin)
#   severity: deny
deny_nvidia_visible_devices contains msg if {
	some pod in pods
	some c in containers(pod.spec)
	some env in object.get(c, "env", [])
	env.name == "NVIDIA_VISIBLE_DEVICES"
	msg := format("[nvidia_visible_devices] %v: sets NVIDIA_VISIBLE_DEVICES, which bypasses the GPUs the device plugin assigned; remove it from extraEnv and request GPUs with deployment.numGPUs", [container_subject(pod, c)])
}

# METADATA
# title: GPU taint toleration
# description: GPU workloads (Deployments, every pod of a LeaderWorkerSet group) tolerate the nvidia.com/gpu NoSchedule taint, or they never schedule on tainted GPU nodes.
# custom:
#   source: seed 004 "Use Node Selectors and Taints" (tolerate nvidia.com/gpu NoSchedule)
#   severity: deny
deny_gpu_toleration contains msg if {
	some w in gpu_deployments
	not tolerates_gpu_taint(w.pod.spec)
	msg := format("[gpu_toleration] %v: does not tolerate the nvidia.com/gpu:NoSchedule taint of GPU nodes, so it stays Pending; keep the chart's default tolerations entry {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}", [subject(w.pod)])
}

tolerates_gpu_taint(spec) if {
	some t in object.get(spec, "tolerations", [])
	object.get(t, "key", "") in {"nvidia.com/gpu", ""}
	object.get(t, "operator", "Equal") == "Exists"
	object.get(t, "effect", "") in {"NoSchedule", ""}
}

tolerates_gpu_taint(spec) if {
	some t in object.get(spec, "tolerations", [])
	t.key == "nvidia.com/gpu"
	object.get(t, "operator", "Equal") == "Equal"
	object.get(t, "effect", "") in {"NoSchedule", ""}
}

# METADATA
# title: Model metadata labels
# description: GPU workloads carry the size class, architecture and parameter count the chart stamps, and the size class is the one sizing.yaml gives for the parameter count; the probe and grace rules read them.
# custom:
#   source: charts/vllm-models/sizing.yaml sizeClasses (seed 000 "Model-Size Based Startup Thresholds")
#   severity: deny
deny_model_labels contains msg if {
	some w in gpu_deployments
	labels := object.get(w.pod.metadata, "labels", {})
	not size_class(labels["vllm-models.io/size-class"])
	names := concat(", ", [row.name | some row in data.sizing.sizeClasses])
	msg := format("[model_labels] %v: label vllm-models.io/size-class is %v, not one of %v; render with the chart, which derives it from modelInfo.parameters", [subject(w.pod), object.get(labels, "vllm-models.io/size-class", "missing"), names])
}

deny_model_labels contains msg if {
	some w in gpu_deployments
	labels := object.get(w.pod.metadata, "labels", {})
	not object.get(labels, "vllm-models.io/architecture", "") in {"dense", "moe"}
	msg := format("[model_labels] %v: label vllm-models.io/architecture is %v, not dense or moe; set modelInfo.architecture", [subject(w.pod), object.get(labels, "vllm-models.io/architecture", "missing")])
}

deny_model_labels contains msg if {
	some w in gpu_deployments
	annotations := object.get(w.pod.metadata, "annotations", {})
	value := object.get(annotations, "vllm-models.io/parameters-billions", "missing")
	not positive_whole_number(value)
	msg := format("[model_labels] %v: annotation vllm-models.io/parameters-billions is %v, not a whole number of billions; set modelInfo.parameters", [subject(w.pod), value])
}

deny_model_labels contains msg if {
	some w in gpu_deployments
	facts := model_facts(w.pod)
	size_class(facts.size_class)
	expected := size_class_for(facts.parameters)
	facts.size_class != expected
	msg := format("[model_labels] %v: label vllm-models.io/size-class is %v but %vB parameters is size class %v in sizing.yaml; render with the chart instead of editing labels", [subject(w.pod), facts.size_class, facts.parameters, expected])
}
