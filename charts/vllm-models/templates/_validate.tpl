{{/* vllm-models.validate: the rules values.schema.json cannot express; every refusal of the release by key, with values and the fix, in one fail. */}}
{{- define "vllm-models.validate" -}}
{{- $d := .Values.deployment -}}
{{- /* Refusals are collected and failed at once, one a line, so a user fixes every key in one pass; checks of
       one key (or one list entry) are chained so it gets one refusal, the first that applies. */ -}}
{{- $errors := list -}}
{{- required "vllm-models: modelName is required: the model identifier, e.g. qwen3-32b (the fleet names the release llms-v2-<modelName>)" .Values.modelName | trunc 0 -}}

{{- /* The seeds put these both at the top level and under deployment; the top level is canonical. */ -}}
{{- range $key := list "priorityClassName" "nccl" "extraEnv" -}}
{{- if hasKey $d $key -}}
{{- $errors = append $errors (printf "vllm-models: deployment.%s is not read; move it to the top-level key %s (where the seeds' model templates put it)" $key $key) -}}
{{- end -}}
{{- end -}}

{{- $gpus := int $d.numGPUs -}}
{{- $tp := int $d.tensorParallel -}}
{{- $pp := int $d.pipelineParallel -}}
{{- $nodes := include "vllm-models.nodes" . | int -}}
{{- if gt $nodes 1 -}}
{{- if ne (mul $tp $pp) (mul $gpus $nodes) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.tensorParallel (%d) x deployment.pipelineParallel (%d) = %d must equal deployment.numGPUs (%d) x multiNode.nodes (%d) = %d, the GPUs of one group; e.g. tensorParallel %d (GPUs per node) and pipelineParallel %d (nodes)" $tp $pp (mul $tp $pp) $gpus $nodes (mul $gpus $nodes) $gpus $nodes) -}}
{{- end -}}
{{- else if and (eq $pp 1) (ne $tp $gpus) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.tensorParallel (%d) must equal deployment.numGPUs (%d): vLLM shards the model over exactly the pod's GPUs; set both to the same value" $tp $gpus) -}}
{{- else if ne (mul $tp $pp) $gpus -}}
{{- $errors = append $errors (printf "vllm-models: deployment.tensorParallel (%d) x deployment.pipelineParallel (%d) = %d must equal deployment.numGPUs (%d)" $tp $pp (mul $tp $pp) $gpus) -}}
{{- end -}}

{{- $limits := .Values.resources.limits | default dict -}}
{{- $requests := .Values.resources.requests | default dict -}}
{{- range $side, $block := dict "limits" $limits "requests" $requests -}}
{{- if hasKey $block "nvidia.com/gpu" -}}
{{- if ne (toString (get $block "nvidia.com/gpu")) (toString $gpus) -}}
{{- $errors = append $errors (printf "vllm-models: resources.%s.nvidia.com/gpu (%v) must equal deployment.numGPUs (%d); drop it to let the chart set it from numGPUs" $side (get $block "nvidia.com/gpu") $gpus) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $resource := list "cpu" "memory" -}}
{{- if not (hasKey $limits $resource) -}}
{{- $errors = append $errors (printf "vllm-models: resources.limits.%s is required: GPU pods need Guaranteed QoS (see the seed's sizing table)" $resource) -}}
{{- else if and (hasKey $requests $resource) (ne (toString (get $requests $resource)) (toString (get $limits $resource))) -}}
{{- $errors = append $errors (printf "vllm-models: resources.requests.%s (%v) must equal resources.limits.%s (%v) for Guaranteed QoS; set both to the same value or drop the request" $resource (get $requests $resource) $resource (get $limits $resource)) -}}
{{- end -}}
{{- end -}}

{{- $shm := include "vllm-models.shmSize" . -}}
{{- if and (hasKey $limits "memory") (ge (include "vllm-models.quantityBytes" $shm | float64) (include "vllm-models.quantityBytes" $limits.memory | float64)) -}}
{{- $errors = append $errors (printf "vllm-models: shmSize (%s) must be below resources.limits.memory (%s): /dev/shm is memory-backed and counts against the pod's memory limit; raise the limit or lower shmSize" $shm $limits.memory) -}}
{{- else if .Values.shmSize -}}
{{- $floor := "" -}}
{{- range (include "vllm-models.sizing" . | fromYaml).sharedMemory -}}
{{- if ge $gpus (int .minGPUs) }}{{ $floor = .floor | default .size }}{{ end -}}
{{- end -}}
{{- if lt (include "vllm-models.quantityBytes" $shm | float64) (include "vllm-models.quantityBytes" $floor | float64) -}}
{{- $errors = append $errors (printf "vllm-models: shmSize (%s) is below %s, the least /dev/shm for %d GPU(s) per pod (sizing.yaml sharedMemory: below it NCCL or vLLM's own processes run out of shared memory); raise it, or leave shmSize empty to use the table" $shm $floor $gpus) -}}
{{- end -}}
{{- end -}}

{{- $rules := include "vllm-models.rules" . | fromYaml -}}
{{- $managedEnv := deepCopy $rules.managedEnv -}}
{{- /* HF_TOKEN may come through extraEnv (a secretKeyRef) while huggingface.tokenSecret is empty; the offline switches are the chart's only for local weights. */ -}}
{{- if not .Values.huggingface.tokenSecret.name -}}
{{- $managedEnv = omit $managedEnv "HF_TOKEN" -}}
{{- end -}}
{{- if not (include "vllm-models.localWeights" .) -}}
{{- range $rules.offline.env -}}
{{- $managedEnv = omit $managedEnv . -}}
{{- end -}}
{{- end -}}
{{- $groupEnv := ternary (list "VLLM_HOST_IP" "NCCL_SOCKET_IFNAME" "GLOO_SOCKET_IFNAME" "NCCL_IB_HCA") list (gt $nodes 1) -}}
{{- $seen := dict -}}
{{- $secrets := $rules.secrets -}}
{{- range .Values.extraEnv -}}
{{- $twice := hasKey $seen .name -}}
{{- $_ := set $seen .name true -}}
{{- if $twice -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv sets %s twice; keep one entry" .name) -}}
{{- else if eq .name "NVIDIA_VISIBLE_DEVICES" -}}
{{- $errors = append $errors "vllm-models: extraEnv sets NVIDIA_VISIBLE_DEVICES, which overrides the GPUs the NVIDIA device plugin assigned (and can expose every GPU of the node); remove it and request GPUs with deployment.numGPUs" -}}
{{- else if and (hasKey . "value") (hasKey . "valueFrom") -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv %s has both value and valueFrom; Kubernetes accepts one, keep one" .name) -}}
{{- else if and (hasKey . "value") (or (regexMatch $secrets.namePattern (upper .name)) (regexMatch $secrets.valuePattern (toString .value))) -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv %s has an inline value that looks like a credential (rules.yaml secrets); secrets go through a Secret: use huggingface.tokenSecret for HF_TOKEN, or valueFrom.secretKeyRef" .name) -}}
{{- else if and (hasKey . "valueFrom") (regexMatch $secrets.namePattern (upper .name)) (not (get (.valueFrom | default dict) "secretKeyRef")) -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv %s looks like a credential (rules.yaml secrets) but takes its value from %s; a credential comes only from a Secret: use valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)" .name (keys (.valueFrom | default dict) | sortAlpha | join ", ")) -}}
{{- else if has .name $groupEnv -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv sets %s, which the chart sets for a multi-node group (VLLM_HOST_IP from the pod's IP, NCCL_SOCKET_IFNAME and GLOO_SOCKET_IFNAME from multiNode.socketInterface, NCCL_IB_HCA from multiNode.rdma.hca); set that key instead" .name) -}}
{{- else if and (has .name $rules.offline.env) (hasKey $managedEnv .name) -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv sets %s, which the chart sets to 1 because deployment.model (%s) is a local path (rules.yaml offline.env): vLLM reads the local or downloaded copy and must not reach for the Hub; drop it, or serve a Hugging Face id" .name $.Values.deployment.model) -}}
{{- else if hasKey $managedEnv .name -}}
{{- $errors = append $errors (printf "vllm-models: extraEnv sets %s, which the chart sets from %s (rules.yaml managedEnv); set that key instead" .name (get $managedEnv .name)) -}}
{{- end -}}
{{- end -}}

{{- /* vLLM's EngineArgs refuse these before the model loads (vllm/engine/arg_utils.py, v0.10.2 to v0.11.x:
       "Async scheduling is not supported with pipeline-parallel-size > 1"; "async scheduling only
       supports `mp`, `uni` or `external_launcher` distributed executor backend"). */ -}}
{{- if and $d.asyncScheduling (gt $pp 1) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.asyncScheduling is true with deployment.pipelineParallel %d: vLLM refuses async scheduling with pipeline parallelism and the pod would crash-loop; set asyncScheduling: false (or pipelineParallel: 1)" $pp) -}}
{{- else if and $d.asyncScheduling (eq (include "vllm-models.launcher" .) "ray") -}}
{{- $errors = append $errors "vllm-models: deployment.asyncScheduling is true with the Ray launcher (multiNode.launcher): vLLM's async scheduling runs only on its own multiprocessing executor; set asyncScheduling: false, or multiNode.launcher native (vLLM v0.11.1 or newer)" -}}
{{- end -}}
{{- if and .Values.nccl.gpuMem (gt $gpus 1) (semverCompare $rules.nccl.cumemDisabledByVllm (include "vllm-models.vllmVersion" .)) -}}
{{- $errors = append $errors (printf "vllm-models: nccl.gpuMem is true (NCCL_CUMEM_ENABLE=1), but vLLM %s (image.tag) sets NCCL_CUMEM_ENABLE=0 on purpose: with the NCCL it ships, cuMem makes CUDA-graph capture with all-reduce cost extra GPU memory (NVIDIA/nccl#1234), and one pod on one node gains nothing from it; drop nccl.gpuMem, or raise image.tag to v0.10.2 or newer, where vLLM leaves it to NCCL" (include "vllm-models.imageTag" .)) -}}
{{- end -}}
{{- if and $d.trustRemoteCode (not (trim $d.trustRemoteCodeReason)) -}}
{{- $errors = append $errors "vllm-models: deployment.trustRemoteCode is true but deployment.trustRemoteCodeReason is empty: --trust-remote-code runs Python shipped with the weights; set it only for an architecture vLLM and transformers do not implement, and write which in trustRemoteCodeReason" -}}
{{- else if and (trim $d.trustRemoteCodeReason) (not $d.trustRemoteCode) -}}
{{- $errors = append $errors "vllm-models: deployment.trustRemoteCodeReason is set but deployment.trustRemoteCode is false; drop the reason, or set trustRemoteCode: true if the model needs remote code" -}}
{{- end -}}
{{- if and $d.toolCallParser (not $d.functionCall) -}}
{{- $errors = append $errors "vllm-models: deployment.toolCallParser is set but deployment.functionCall is false; set functionCall: true to enable tool calling, or drop the parser" -}}
{{- end -}}
{{- $kv := $d.kvOffloading -}}
{{- if and $d.disableMmPreprocessorCache (not (kindIs "invalid" $kv.mmProcessorCacheGb)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.disableMmPreprocessorCache and deployment.kvOffloading.mmProcessorCacheGb (%v) both size the multimodal processor cache (--mm-processor-cache-gb); keep one" $kv.mmProcessorCacheGb) -}}
{{- end -}}
{{- $errors = concat $errors (include "vllm-models.validateVllmVersion" . | fromJsonArray) -}}
{{- if and (not $d.visionModel) (or $d.limitMmPerPrompt $d.disableMmPreprocessorCache) -}}
{{- $errors = append $errors "vllm-models: deployment.limitMmPerPrompt and deployment.disableMmPreprocessorCache apply only to vision models; set deployment.visionModel: true" -}}
{{- end -}}

{{- /* Pod labels and annotations are maps: a key given twice would render twice, and which one
       Kubernetes keeps depends on the parser. The chart's own keys win by refusing the override. */ -}}
{{- $chartLabels := include "vllm-models.labels" . | fromYaml -}}
{{- range $key, $value := $d.podLabels -}}
{{- if hasKey $chartLabels $key -}}
{{- $errors = append $errors (printf "vllm-models: deployment.podLabels.%s is a label the chart sets (%v); pick another label name" $key (get $chartLabels $key)) -}}
{{- end -}}
{{- end -}}
{{- $chartAnnotations := include "vllm-models.podAnnotations" . | fromYaml -}}
{{- range $key, $value := $d.podAnnotations -}}
{{- if hasKey $chartAnnotations $key -}}
{{- $errors = append $errors (printf "vllm-models: deployment.podAnnotations.%s is an annotation the chart sets (%v); drop it (the scrape annotations follow metrics.podAnnotations)" $key (get $chartAnnotations $key)) -}}
{{- end -}}
{{- end -}}

{{- if and (eq .Values.service.type "NodePort") (not .Values.service.nodePort) -}}
{{- $errors = append $errors "vllm-models: service.nodePort is required for a NodePort service: pick a free port in the category's range (see `vllm-models ports`)" -}}
{{- end -}}
{{- if and .Values.service.externalTrafficPolicy (eq .Values.service.type "ClusterIP") -}}
{{- $errors = append $errors (printf "vllm-models: service.externalTrafficPolicy (%s) applies only to NodePort and LoadBalancer Services, and service.type is ClusterIP; drop it or change the type" .Values.service.externalTrafficPolicy) -}}
{{- end -}}
{{- if and .Values.service.nodePort (eq .Values.service.type "ClusterIP") -}}
{{- $errors = append $errors (printf "vllm-models: service.nodePort (%v) is set but service.type is ClusterIP; use NodePort or drop the port" .Values.service.nodePort) -}}
{{- end -}}

{{- if eq (include "vllm-models.networkPolicyEnabled" .) "true" -}}
{{- if and (ne .Values.service.type "ClusterIP") (not (include "vllm-models.clientCIDRs" . | fromYamlArray)) -}}
{{- $errors = append $errors (printf "vllm-models: the NetworkPolicy is on (networkPolicy.enabled or global.networkPolicy.enabled) and service.type is %s, but no client CIDRs are listed (global.networkPolicy.clientCIDRs, networkPolicy.clientCIDRs): clients of a %s come from outside the cluster and the policy admits only namespaces %s, so it would drop every one; list your clients' address ranges, or use service.type ClusterIP" .Values.service.type .Values.service.type (append .Values.networkPolicy.ingressNamespaces .Values.networkPolicy.monitoringNamespace | uniq | join ", ")) -}}
{{- end -}}
{{- if and $d.model (not (include "vllm-models.localWeights" .)) (not .Values.networkPolicy.extraEgress) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.model (%s) is a Hugging Face id, so vLLM downloads the weights at start, but the NetworkPolicy (networkPolicy.enabled or global.networkPolicy.enabled) lets the pods reach DNS only; add the store to networkPolicy.extraEgress, or serve a path below storage.mountPath" $d.model) -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.storage.type "hostPath" -}}
{{- $path := .Values.hps.models.path | default .Values.global.hps.models.path -}}
{{- if not $path -}}
{{- $errors = append $errors "vllm-models: hps.models.path (or global.hps.models.path) is required for storage.type hostPath: the host directory holding the models" -}}
{{- end -}}
{{- else if and (eq .Values.storage.type "existingClaim") (not .Values.storage.existingClaim) -}}
{{- $errors = append $errors "vllm-models: storage.existingClaim is required for storage.type existingClaim: the name of the PersistentVolumeClaim holding the models" -}}
{{- end -}}
{{- $root := trimSuffix "/" .Values.storage.mountPath -}}
{{- if and (hasPrefix "/" $d.model) (not (hasPrefix (printf "%s/" $root) $d.model)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.model (%s) is not below storage.mountPath (%s), where the model files are mounted; write the path as %s/<org>/<model> or change storage.mountPath" $d.model .Values.storage.mountPath $root) -}}
{{- else if and (eq .Values.storage.type "hostPath") $d.model (not (hasPrefix (printf "%s/" $root) $d.model)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.model (%s) is not a path below storage.mountPath (%s), but storage.type hostPath mounts a host directory there for nothing else; write the model's path as %s/<org>/<model>, or use storage.type pvc or existingClaim" $d.model .Values.storage.mountPath $root) -}}
{{- end -}}

{{- $replicas := int .Values.replicaCount -}}
{{- if not (kindIs "invalid" .Values.autoscaling.targetCPUUtilizationPercentage) -}}
{{- $errors = append $errors (printf "vllm-models: autoscaling.targetCPUUtilizationPercentage (%v) is set, but the autoscaler no longer scales on CPU: vLLM's engine loop keeps a core busy whatever the queue, so CPU says nothing about a GPU server's load; drop the key and set autoscaling.waitingRequestsPerReplica (waiting requests per pod, from the custom metrics API), or use keda.enabled" .Values.autoscaling.targetCPUUtilizationPercentage) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- $replicas = int .Values.autoscaling.minReplicas -}}
{{- if le (int .Values.autoscaling.maxReplicas) $replicas -}}
{{- $errors = append $errors (printf "vllm-models: autoscaling.maxReplicas (%v) must exceed autoscaling.minReplicas (%v), or the autoscaler can never scale" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) -}}
{{- end -}}
{{- else if and .Values.keda .Values.keda.enabled -}}
{{- $replicas = int .Values.keda.minReplicas -}}
{{- end -}}
{{- if and (eq (include "vllm-models.pdbEnabled" .) "true") (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) -}}
{{- if gt $nodes 1 -}}
{{- /* The budget counts pods, and a group has $nodes of them. */ -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (mul $replicas $nodes) -}}
{{- $errors = append $errors (printf "vllm-models: podDisruptionBudget.minAvailable (%v) must be below the pod count, replicaCount (%d) x multiNode.nodes (%d) = %d: otherwise no pod can ever be evicted and node drains hang; use maxUnavailable: 1 instead (one pod, so one group, at a time)" .Values.podDisruptionBudget.minAvailable $replicas $nodes (mul $replicas $nodes)) -}}
{{- end -}}
{{- else if ge (int .Values.podDisruptionBudget.minAvailable) $replicas -}}
{{- $errors = append $errors (printf "vllm-models: podDisruptionBudget.minAvailable (%v) must be below the replica count (%d): otherwise no pod can ever be evicted and node drains hang; use maxUnavailable: 1 instead" .Values.podDisruptionBudget.minAvailable $replicas) -}}
{{- end -}}
{{- end -}}

{{- $errors = concat $errors (include "vllm-models.validateMultiNode" . | fromJsonArray) -}}
{{- $errors = concat $errors (include "vllm-models.validateStorage" . | fromJsonArray) -}}
{{- $errors = concat $errors (include "vllm-models.validateLora" . | fromJsonArray) -}}

{{- $budget := int (include "vllm-models.startupBudgetSeconds" .) -}}
{{- $grace := int (include "vllm-models.terminationGracePeriodSeconds" .) -}}
{{- /* The seed's tables in sizing.yaml, which the policies apply to the rendered objects too. */ -}}
{{- $class := include "vllm-models.sizeClass" . | fromYaml -}}
{{- if lt $budget (int $class.maxLoadSeconds) -}}
{{- $source := ternary (printf "slowStart.maxStartupSeconds (%v)" .Values.slowStart.maxStartupSeconds) (printf "probes.startup.failureThreshold (%s) x probes.startup.periodSeconds (%v)" (include "vllm-models.startupFailureThreshold" .) .Values.probes.startup.periodSeconds) (not (empty .Values.slowStart.maxStartupSeconds)) -}}
{{- $errors = append $errors (printf "vllm-models: %s gives the model %d s to load, but the seed's table gives a %s model (%vB) up to %v s; raise it, or set slowStart.maxStartupSeconds to at least %v" $source $budget $class.name .Values.modelInfo.parameters $class.maxLoadSeconds $class.maxLoadSeconds) -}}
{{- end -}}
{{- $graceShort := false -}}
{{- if $d.terminationGracePeriodSeconds -}}
{{- $floor := 0 -}}
{{- range (include "vllm-models.sizing" . | fromYaml).terminationGrace -}}
{{- if and (ge (int $.Values.modelInfo.parameters) (int .minParamsB)) (or (not .architecture) (eq .architecture $.Values.modelInfo.architecture)) }}{{ $floor = .seconds }}{{ end -}}
{{- end -}}
{{- if lt $grace (int $floor) -}}
{{- $graceShort = true -}}
{{- $errors = append $errors (printf "vllm-models: deployment.terminationGracePeriodSeconds (%d) is below %v s, the seed's grace for a %vB %s model, so in-flight requests are cut off; raise it or leave it null to use the table" $grace $floor .Values.modelInfo.parameters .Values.modelInfo.architecture) -}}
{{- end -}}
{{- end -}}
{{- $drain := include "vllm-models.drainSeconds" . | int -}}
{{- if and (not $graceShort) (le $grace (add (int $d.preStopSleepSeconds) $drain)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.terminationGracePeriodSeconds (%d) must exceed deployment.preStopSleepSeconds (%v) + vLLM's --shutdown-timeout (%d) = %d s, or vLLM is killed before it can finish in-flight requests; raise the grace period or shorten the pause" $grace $d.preStopSleepSeconds $drain (add (int $d.preStopSleepSeconds) $drain)) -}}
{{- end -}}
{{- $live := .Values.probes.liveness -}}
{{- $tolerance := (include "vllm-models.rules" . | fromYaml).liveness -}}
{{- if lt (int $live.failureThreshold) (int $tolerance.minFailureThreshold) -}}
{{- $errors = append $errors (printf "vllm-models: probes.liveness.failureThreshold (%v) is below %v (rules.yaml liveness): one slow /health answer would restart a loaded model; raise it" $live.failureThreshold $tolerance.minFailureThreshold) -}}
{{- else if lt (mul (int $live.failureThreshold) (int $live.periodSeconds)) (int $tolerance.minWindowSeconds) -}}
{{- $errors = append $errors (printf "vllm-models: probes.liveness.failureThreshold (%v) x probes.liveness.periodSeconds (%v) = %d s is below %v s (rules.yaml liveness): a model busy for that long would be restarted; raise either" $live.failureThreshold $live.periodSeconds (mul (int $live.failureThreshold) (int $live.periodSeconds)) $tolerance.minWindowSeconds) -}}
{{- end -}}
{{- if lt (int $live.timeoutSeconds) (int $tolerance.minTimeoutSeconds) -}}
{{- $errors = append $errors (printf "vllm-models: probes.liveness.timeoutSeconds (%v) is below %v (rules.yaml liveness): a busy engine answers /health in seconds; raise it" $live.timeoutSeconds $tolerance.minTimeoutSeconds) -}}
{{- end -}}
{{- $download := include "vllm-models.downloadSeconds" . | int -}}
{{- if and $d.progressDeadlineSeconds (gt $download 0) (le (int $d.progressDeadlineSeconds) (add $budget $download)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.progressDeadlineSeconds (%v) must exceed the download time limit (%d s, storage.download.timeoutSeconds) + the startup budget (%d s) = %d s, or rollouts are marked failed while the weights download or load" $d.progressDeadlineSeconds $download $budget (add $budget $download)) -}}
{{- else if and $d.progressDeadlineSeconds (le (int $d.progressDeadlineSeconds) $budget) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.progressDeadlineSeconds (%v) must exceed the startup budget (%d s), or rollouts are marked failed while the model still loads" $d.progressDeadlineSeconds $budget) -}}
{{- end -}}

{{- /* Rules the API server applies across fields of the Kubernetes objects passed through; the schema
       checks each field alone. Refused here by key rather than by the cluster at install time. */ -}}
{{- range $index, $t := .Values.tolerations -}}
{{- $operator := $t.operator | default "Equal" -}}
{{- if and (not $t.key) (ne $operator "Exists") -}}
{{- $errors = append $errors (printf "vllm-models: tolerations[%d] has no key, so its operator must be Exists (it is %s); set operator: Exists or give the taint's key" $index $operator) -}}
{{- else if and (eq $operator "Exists") $t.value -}}
{{- $errors = append $errors (printf "vllm-models: tolerations[%d] has operator Exists and value %q; drop the value or use operator: Equal" $index $t.value) -}}
{{- else if and (hasKey $t "tolerationSeconds") (ne ($t.effect | default "") "NoExecute") -}}
{{- $errors = append $errors (printf "vllm-models: tolerations[%d].tolerationSeconds applies only to effect NoExecute; set effect: NoExecute or drop tolerationSeconds" $index) -}}
{{- end -}}
{{- end -}}
{{- /* runAsNonRoot with no UID, or UID 0, is refused by the kubelet at container start (the vLLM image's
       USER is root through v0.21.0). The container's setting wins over the pod's, field by field. */ -}}
{{- if not .Values.dropPageCache.enabled -}}
{{- $podContext := .Values.securityContext | default dict -}}
{{- $containerContext := .Values.containerSecurityContext | default dict -}}
{{- $nonRootKey := ternary "containerSecurityContext.runAsNonRoot" "securityContext.runAsNonRoot" (hasKey $containerContext "runAsNonRoot") -}}
{{- $uidKey := ternary "containerSecurityContext.runAsUser" "securityContext.runAsUser" (hasKey $containerContext "runAsUser") -}}
{{- $nonRoot := ternary $containerContext.runAsNonRoot $podContext.runAsNonRoot (hasKey $containerContext "runAsNonRoot") -}}
{{- $uid := ternary $containerContext.runAsUser $podContext.runAsUser (hasKey $containerContext "runAsUser") -}}
{{- if and $nonRoot (kindIs "invalid" $uid) -}}
{{- $errors = append $errors (printf "vllm-models: %s is true but no runAsUser is set, and the vLLM image runs as root (no USER up to v0.21.0), so the kubelet refuses to start it; set securityContext.runAsUser (the chart's default is 2000)" $nonRootKey) -}}
{{- else if and $nonRoot (eq (int $uid) 0) -}}
{{- $errors = append $errors (printf "vllm-models: %s (0) contradicts %s true, so the kubelet refuses to start the container; set a non-zero runAsUser (the chart's default is 2000), or run as root only with runAsNonRoot: false and a reason in policies/exceptions.yaml" $uidKey $nonRootKey) -}}
{{- end -}}
{{- end -}}
{{- range $context := list "securityContext" "containerSecurityContext" -}}
{{- range $field := list "seccompProfile" "appArmorProfile" -}}
{{- $profile := get (get $.Values $context | default dict) $field -}}
{{- if and $profile (ne (eq $profile.type "Localhost") (not (empty $profile.localhostProfile))) -}}
{{- $errors = append $errors (printf "vllm-models: %s.%s.localhostProfile must be set exactly when %s.%s.type is Localhost (type is %s)" $context $field $context $field $profile.type) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $sysctls := dict -}}
{{- range ((.Values.securityContext | default dict).sysctls | default list) -}}
{{- if hasKey $sysctls .name -}}
{{- $errors = append $errors (printf "vllm-models: securityContext.sysctls sets %s twice; keep one entry" .name) -}}
{{- end -}}
{{- $_ := set $sysctls .name true -}}
{{- end -}}
{{- $spreads := dict -}}
{{- $selector := include "vllm-models.selectorLabels" . | fromYaml -}}
{{- range $index, $c := $d.topologySpreadConstraints -}}
{{- $where := printf "deployment.topologySpreadConstraints[%d]" $index -}}
{{- $pair := printf "%s/%s" $c.topologyKey $c.whenUnsatisfiable -}}
{{- $repeated := hasKey $spreads $pair -}}
{{- $_ := set $spreads $pair true -}}
{{- if $repeated -}}
{{- $errors = append $errors (printf "vllm-models: %s repeats topologyKey %s with whenUnsatisfiable %s; merge the two constraints" $where $c.topologyKey $c.whenUnsatisfiable) -}}
{{- else if and (hasKey $c "minDomains") (ne $c.whenUnsatisfiable "DoNotSchedule") -}}
{{- $errors = append $errors (printf "vllm-models: %s.minDomains applies only to whenUnsatisfiable DoNotSchedule; set it or drop minDomains" $where) -}}
{{- end -}}
{{- range (($c.labelSelector | default dict).matchExpressions | default list) -}}
{{- if and (has .operator (list "In" "NotIn")) (not .values) -}}
{{- $errors = append $errors (printf "vllm-models: %s.labelSelector.matchExpressions on %s: operator %s needs values" $where .key .operator) -}}
{{- else if and (has .operator (list "Exists" "DoesNotExist")) .values -}}
{{- $errors = append $errors (printf "vllm-models: %s.labelSelector.matchExpressions on %s: operator %s takes no values; drop them" $where .key .operator) -}}
{{- end -}}
{{- end -}}
{{- $matchLabels := $c.labelSelector | default (dict "matchLabels" $selector) | dig "matchLabels" dict -}}
{{- range $c.matchLabelKeys -}}
{{- if hasKey $matchLabels . -}}
{{- $errors = append $errors (printf "vllm-models: %s.matchLabelKeys lists %s, which the labelSelector already matches; drop it from one of them" $where .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $errors -}}
{{- fail (join "\n" $errors) -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.validateMultiNode: what a multi-node group (multiNode.nodes > 1, a LeaderWorkerSet) needs that the schema cannot say; its refusals as a JSON list. */}}
{{- define "vllm-models.validateMultiNode" -}}
{{- $errors := list -}}
{{- $m := .Values.multiNode -}}
{{- $nodes := include "vllm-models.nodes" . | int -}}
{{- if le $nodes 1 -}}
{{- range $key, $on := dict "multiNode.rdma.enabled" $m.rdma.enabled "multiNode.hostNetwork" $m.hostNetwork -}}
{{- if $on -}}
{{- $errors = append $errors (printf "vllm-models: %s is true but multiNode.nodes is %d: it connects the nodes of a multi-node group; set multiNode.nodes above 1 or drop it" $key $nodes) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $rules := (include "vllm-models.rules" . | fromYaml).vllm -}}
{{- $version := include "vllm-models.vllmVersion" . -}}
{{- $tag := include "vllm-models.imageTag" . -}}
{{- if or .Values.autoscaling.enabled (and .Values.keda .Values.keda.enabled) -}}
{{- $errors = append $errors (printf "vllm-models: %s is true but multiNode.nodes is %d: an autoscaler on a multi-node group adds or removes %d pods x %v GPUs per step and targets a Deployment, which a group does not have; set replicaCount and disable the autoscaler" (ternary "autoscaling.enabled" "keda.enabled" (eq .Values.autoscaling.enabled true)) $nodes $nodes .Values.deployment.numGPUs) -}}
{{- end -}}
{{- if and (eq $m.launcher "native") (semverCompare (printf "<%s" $rules.nativeMultiNode.from) $version) -}}
{{- $errors = append $errors (printf "vllm-models: multiNode.launcher native needs vLLM v%s or newer (vllm serve --nnodes, rules.yaml vllm.nativeMultiNode); image.tag is %s: use launcher ray or auto, or raise the tag" $rules.nativeMultiNode.from $tag) -}}
{{- end -}}
{{- $noRay := $rules.stockImageWithoutRay -}}
{{- if and (eq $m.launcher "ray") (eq .Values.image.repository $noRay.image) (semverCompare (printf ">=%s" $noRay.from) $version) -}}
{{- $errors = append $errors (printf "vllm-models: multiNode.launcher ray needs Ray in the image, and %s ships none from v%s (rules.yaml vllm.stockImageWithoutRay); image.tag is %s: use launcher native or auto, or an image.repository that installs ray[cgraph]" $noRay.image $noRay.from $tag) -}}
{{- end -}}
{{- if and $m.rdma.enabled (not $m.rdma.resourceName) -}}
{{- $errors = append $errors "vllm-models: multiNode.rdma.resourceName is required when multiNode.rdma.enabled is true: the extended resource the cluster's RDMA device plugin offers, e.g. rdma/rdma_shared_device_a or rdma/hca" -}}
{{- end -}}
{{- /* LWS names each group's worker StatefulSet <name>-<group index>; a StatefulSet's pods carry the
       label controller-revision-hash: <StatefulSet name>-<10-character hash>, at most 63 characters. */ -}}
{{- $name := include "vllm-models.fullname" . -}}
{{- $longest := sub 52 (add 1 (len (toString (sub (max (int .Values.replicaCount) 1) 1)))) | int -}}
{{- if gt (len $name) $longest -}}
{{- $errors = append $errors (printf "vllm-models: fullnameOverride %s (%d characters) is too long for a multi-node group of replicaCount %v: LeaderWorkerSet names each group's StatefulSet <name>-<group index>, and its pods' controller-revision-hash label then exceeds 63 characters; use at most %d characters" $name (len $name) .Values.replicaCount $longest) -}}
{{- end -}}
{{- $strategy := .Values.deployment.updateStrategy -}}
{{- if and (eq $strategy.type "RollingUpdate") (eq (toString $strategy.rollingUpdate.maxUnavailable) "0") (eq (toString $strategy.rollingUpdate.maxSurge) "0") -}}
{{- $errors = append $errors "vllm-models: deployment.updateStrategy.rollingUpdate.maxUnavailable and maxSurge are both 0, which LeaderWorkerSet refuses (a rollout could never progress); keep maxSurge 1 (a spare group) or set maxUnavailable 1 and maxSurge 0 (replace groups in place)" -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* vllm-models.validateStorage: the claim can serve every pod, and a weights download (storage.download) has what it needs; its refusals as a JSON list. */}}
{{- define "vllm-models.validateStorage" -}}
{{- $errors := list -}}
{{- $s := .Values.storage -}}
{{- $dl := $s.download -}}
{{- $nodes := include "vllm-models.nodes" . | int -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled }}{{ $replicas = max $replicas (int .Values.autoscaling.maxReplicas) }}{{ end -}}
{{- if and .Values.keda .Values.keda.enabled }}{{ $replicas = max $replicas (int .Values.keda.maxReplicas) }}{{ end -}}
{{- $pods := mul $replicas $nodes -}}
{{- $downloads := eq (include "vllm-models.downloadEnabled" .) "true" -}}
{{- if eq $s.type "pvc" -}}
{{- $modes := $s.pvc.accessModes -}}
{{- $shared := or (has "ReadWriteMany" $modes) (has "ReadOnlyMany" $modes) -}}
{{- if and (gt $pods 1) (not $shared) -}}
{{- $errors = append $errors (printf "vllm-models: storage.pvc.accessModes (%s) attach the claim to one node, but it is shared by %d pods (replicas %d x multiNode.nodes %d); use ReadWriteMany (ReadOnlyMany without storage.download), or storage.type hostPath for a copy on each node" (join ", " $modes) $pods $replicas $nodes) -}}
{{- else if and $downloads (not (or (has "ReadWriteMany" $modes) (has "ReadWriteOnce" $modes) (has "ReadWriteOncePod" $modes))) -}}
{{- $errors = append $errors (printf "vllm-models: storage.pvc.accessModes (%s) mount the claim read-only, but storage.download writes the weights into it; use ReadWriteMany (or ReadWriteOnce for a single pod)" (join ", " $modes)) -}}
{{- else if and $downloads (gt $pods 1) (not (has "ReadWriteMany" $modes)) -}}
{{- $errors = append $errors (printf "vllm-models: storage.pvc.accessModes (%s) cannot let %d pods (replicas %d x multiNode.nodes %d) share the weights storage.download writes; use ReadWriteMany, or storage.type hostPath for a copy on each node" (join ", " $modes) $pods $replicas $nodes) -}}
{{- end -}}
{{- end -}}
{{- if $downloads -}}
{{- if not $dl.source -}}
{{- $errors = append $errors "vllm-models: storage.download.enabled is true but storage.download.source is empty: name where the weights come from, s3 (storage.download.s3.uri) or huggingface (storage.download.huggingface.repo), or set enabled: false" -}}
{{- else if eq $dl.source "s3" -}}
{{- if not $dl.s3.uri -}}
{{- $errors = append $errors "vllm-models: storage.download.s3.uri is required for storage.download.source s3: the model's directory in the bucket, s3://bucket/prefix" -}}
{{- end -}}
{{- $errors = concat $errors (include "vllm-models.validateDownloadIdentity" . | fromJsonArray) -}}
{{- else if not $dl.huggingface.repo -}}
{{- $errors = append $errors "vllm-models: storage.download.huggingface.repo is required for storage.download.source huggingface: the model repository on the Hub, e.g. deepseek-ai/DeepSeek-R1" -}}
{{- end -}}
{{- $image := get $dl ($dl.source | default "none") | default dict | dig "image" dict -}}
{{- if and $dl.source $image.repository (not $image.tag) -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.%s.image.tag is required with image.repository %s: pin the download image to a release" $dl.source $image.repository) -}}
{{- end -}}
{{- $root := trimSuffix "/" $s.mountPath -}}
{{- $target := trimSuffix "/" .Values.deployment.model -}}
{{- if not (hasPrefix (printf "%s/" $root) $target) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.model (%s) must be a directory below storage.mountPath (%s) when storage.download.enabled is true: the weights are downloaded there and vLLM reads them offline; write it as %s/<org>/<model>" .Values.deployment.model $s.mountPath $root) -}}
{{- end -}}
{{- $budget := include "vllm-models.startupBudgetSeconds" . | int -}}
{{- if gt (include "vllm-models.downloadAttemptSeconds" . | int) $budget -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.timeoutSeconds (%v) exceeds the startup budget (%d s, from probes.startup or slowStart.maxStartupSeconds): the download must fit inside it (a group's leader waits for its slowest node); lower it, or raise slowStart.maxStartupSeconds" $dl.timeoutSeconds $budget) -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* vllm-models.validateDownloadIdentity: an S3 download has exactly one source of AWS credentials, the key Secret (storage.download.s3.auth secret) or the pods' ServiceAccount (irsa, eksPodIdentity); its refusals as a JSON list. */}}
{{- define "vllm-models.validateDownloadIdentity" -}}
{{- $errors := list -}}
{{- $s3 := .Values.storage.download.s3 -}}
{{- $auth := $s3.auth | default "secret" -}}
{{- $secret := $s3.credentialsSecret -}}
{{- if eq $auth "secret" -}}
{{- if not $secret.name -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.s3.credentialsSecret.name is required for storage.download.source s3 (%s) with storage.download.s3.auth secret: the Secret holding %s and %s, read through secretKeyRef (credentials never go in values); create it and name it here, or on EKS let the pods' ServiceAccount carry the role (storage.download.s3.auth irsa or eksPodIdentity)" $s3.uri $secret.accessKeyIdKey $secret.secretAccessKeyKey) -}}
{{- end -}}
{{- else -}}
{{- $identity := (include "vllm-models.rules" . | fromYaml).workloadIdentity -}}
{{- $account := .Values.serviceAccount -}}
{{- if $secret.name -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.s3.credentialsSecret.name (%s) is set with storage.download.s3.auth %s: the AWS CLI would use the Secret's keys before the ServiceAccount's role; drop the Secret's name, or set auth: secret" $secret.name $auth) -}}
{{- end -}}
{{- if $s3.endpoint -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.s3.auth %s gets credentials from AWS, which the S3-compatible store at storage.download.s3.endpoint (%s) does not accept; use auth: secret with its key pair in storage.download.s3.credentialsSecret, or download from AWS S3 (endpoint empty)" $auth $s3.endpoint) -}}
{{- end -}}
{{- if and (not $account.create) (not $account.name) -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.s3.auth %s takes the role from the pods' ServiceAccount, but serviceAccount.create is false and serviceAccount.name is empty, so the pods run as the namespace's default ServiceAccount; set serviceAccount.create: true, or name the ServiceAccount that has the role in serviceAccount.name" $auth) -}}
{{- end -}}
{{- if and (eq $auth "irsa") $account.create -}}
{{- $role := get ($account.annotations | default dict) $identity.roleAnnotation | default "" -}}
{{- if not (regexMatch $identity.rolePattern $role) -}}
{{- $errors = append $errors (printf "vllm-models: storage.download.s3.auth irsa needs the IAM role on the ServiceAccount the chart creates: serviceAccount.annotations.%s is %q, not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>); set it to the role that may read %s" $identity.roleAnnotation $role $s3.uri) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* vllm-models.validateVllmVersion: keys that need a flag, a name or an image content the release's vLLM version has (vllm-versions.yaml, generated from the catalogs); each message names the version; its refusals as a JSON list. */}}
{{- define "vllm-models.validateVllmVersion" -}}
{{- $errors := list -}}
{{- $d := .Values.deployment -}}
{{- $kv := $d.kvOffloading -}}
{{- $facts := include "vllm-models.vllmFacts" . | fromYaml -}}
{{- $version := include "vllm-models.vllmVersion" . -}}
{{- $tag := include "vllm-models.imageTag" . -}}
{{- $gates := list (list "--mm-processor-cache-type" "deployment.kvOffloading.mmProcessorCacheType" $kv.mmProcessorCacheType "drop the key") -}}
{{- $gates = append $gates (list "--shutdown-timeout" "deployment.shutdownTimeoutSeconds" (and (not (kindIs "invalid" $d.shutdownTimeoutSeconds)) (gt (int $d.shutdownTimeoutSeconds) 0) $d.shutdownTimeoutSeconds) "drop the key (vLLM then aborts in-flight requests on SIGTERM)") -}}
{{- $gates = append $gates (list "--kv-offloading-backend" "deployment.kvOffloading.backend" (and $kv.enabled (eq $kv.backend "native") $kv.backend) "use backend lmcache") -}}
{{- range $gates -}}
{{- $flag := index . 0 -}}
{{- if and (index . 2) (not (index $facts.flags $flag)) -}}
{{- $since := include "vllm-models.firstVersionWith" (dict "root" $ "flag" $flag) -}}
{{- $errors = append $errors (printf "vllm-models: %s (%v) needs %s, which vLLM %s (image.tag %s) does not have (vllm-versions.yaml: %s); %s or raise image.tag" (index . 1) (index . 2) $flag $version $tag (ternary (printf "from vLLM %s on" $since) "no catalogued version has it" (ne $since "")) (index . 3)) -}}
{{- end -}}
{{- end -}}
{{- if and $d.reasoningParser $facts.recorded (not (has $d.reasoningParser $facts.reasoningParsers)) -}}
{{- $errors = append $errors (printf "vllm-models: deployment.reasoningParser %s is not a reasoning parser of vLLM %s (image.tag %s, vllm-versions.yaml); choose one of: %s" $d.reasoningParser $facts.version $tag (join ", " $facts.reasoningParsers)) -}}
{{- end -}}
{{- if and $kv.enabled (eq $kv.backend "lmcache") (hasKey $facts.lmcache .Values.image.repository) (not (and $facts.recorded (get $facts.lmcache .Values.image.repository))) -}}
{{- $carrying := list -}}
{{- range (.Files.Get "vllm-versions.yaml" | fromYaml).versions -}}
{{- if get .lmcache $.Values.image.repository }}{{ $carrying = append $carrying .version }}{{ end -}}
{{- end -}}
{{- $errors = append $errors (printf "vllm-models: deployment.kvOffloading.backend lmcache needs the lmcache package in the image, and vllm-versions.yaml records none in %s:%s (vLLM %s; it records LMCache in vLLM %s, src/vllm_models/data/vllm_images.yaml); use an image tag that carries it, an image.repository that installs lmcache, or kvOffloading.backend native (vLLM %s or newer)" .Values.image.repository $tag $version (ternary (printf "%s to %s" (first $carrying | default "") (last $carrying | default "")) "none" (gt (len $carrying) 0)) (include "vllm-models.firstVersionWith" (dict "root" $ "flag" "--kv-offloading-backend"))) -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* vllm-models.validateLora: lora.* the schema cannot judge: names, ranks against --max-lora-rank and the version's accepted ranks, where each adapter comes from; its refusals as a JSON list. */}}
{{- define "vllm-models.validateLora" -}}
{{- $errors := list -}}
{{- $lora := .Values.lora -}}
{{- if not $lora.enabled -}}
{{- range $key := list "adapters" "runtimeUpdating" -}}
{{- if get $lora $key -}}
{{- $errors = append $errors (printf "vllm-models: lora.%s is set but lora.enabled is false, so vLLM would serve no adapter; set lora.enabled: true, or drop lora.%s" $key $key) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $facts := include "vllm-models.vllmFacts" . | fromYaml -}}
{{- $tag := include "vllm-models.imageTag" . -}}
{{- range $flag, $key := dict "--enable-lora" "lora.enabled" "--max-loras" "lora.maxLoras" "--max-lora-rank" "lora.maxLoraRank" "--max-cpu-loras" "lora.maxCpuLoras" "--lora-modules" "lora.adapters" -}}
{{- if not (index $facts.flags $flag) -}}
{{- $errors = append $errors (printf "vllm-models: %s needs %s, which vLLM %s (image.tag %s) does not have (vllm-versions.yaml: from vLLM %s on); raise image.tag or set lora.enabled: false" $key $flag $facts.version $tag (include "vllm-models.firstVersionWith" (dict "root" $ "flag" $flag) | default "none")) -}}
{{- end -}}
{{- end -}}
{{- $maxRank := int $lora.maxLoraRank -}}
{{- $ranks := list -}}
{{- range $facts.loraRanks }}{{ $ranks = append $ranks (int .) }}{{ end -}}
{{- if and $ranks (not (has $maxRank $ranks)) -}}
{{- $errors = append $errors (printf "vllm-models: lora.maxLoraRank (%d) is not a rank vLLM %s (image.tag %s) accepts for --max-lora-rank (vllm-versions.yaml loraRanks: %s); use the smallest of them at or above your largest adapter's rank" $maxRank $facts.version $tag (join ", " $ranks)) -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $lora.maxCpuLoras)) (lt (int $lora.maxCpuLoras) (int $lora.maxLoras)) -}}
{{- $errors = append $errors (printf "vllm-models: lora.maxCpuLoras (%v) is below lora.maxLoras (%v), which vLLM refuses at start (the CPU cache holds every adapter a batch uses); raise maxCpuLoras to at least %v or leave it null" $lora.maxCpuLoras $lora.maxLoras $lora.maxLoras) -}}
{{- end -}}
{{- $served := .Values.deployment.servedModelName -}}
{{- $root := trimSuffix "/" .Values.storage.mountPath -}}
{{- $dl := .Values.storage.download -}}
{{- $seen := dict -}}
{{- range $index, $a := $lora.adapters -}}
{{- $key := printf "lora.adapters[%d]" $index -}}
{{- if eq $a.name $served -}}
{{- $errors = append $errors (printf "vllm-models: %s.name (%s) is deployment.servedModelName: the adapter and the base model would share one name in /v1/models; rename the adapter" $key $a.name) -}}
{{- end -}}
{{- if hasKey $seen $a.name -}}
{{- $errors = append $errors (printf "vllm-models: %s.name (%s) repeats lora.adapters[%v].name: clients choose an adapter by name, so each is listed once; rename or remove one" $key $a.name (get $seen $a.name)) -}}
{{- end -}}
{{- $_ := set $seen $a.name $index -}}
{{- if gt (int $a.rank) $maxRank -}}
{{- $errors = append $errors (printf "vllm-models: %s.rank (%v) of adapter %s is above lora.maxLoraRank (%d), so vLLM refuses to load it; raise lora.maxLoraRank to at least %v (it sizes the GPU memory reserved per adapter slot) or serve a lower-rank adapter" $key $a.rank $a.name $maxRank $a.rank) -}}
{{- end -}}
{{- if not (hasPrefix (printf "%s/" $root) (trimSuffix "/" $a.path)) -}}
{{- $errors = append $errors (printf "vllm-models: %s.path (%s) of adapter %s is not below storage.mountPath (%s), the only volume vLLM reads weights from; write it as %s/<dir>" $key $a.path $a.name $.Values.storage.mountPath $root) -}}
{{- end -}}
{{- if eq (trimSuffix "/" $a.path) (trimSuffix "/" $.Values.deployment.model) -}}
{{- $errors = append $errors (printf "vllm-models: %s.path (%s) of adapter %s is deployment.model, the base weights' directory; give the adapter its own directory" $key $a.path $a.name) -}}
{{- end -}}
{{- if $a.source -}}
{{- if not (and $dl.enabled (eq $dl.source $a.source)) -}}
{{- $errors = append $errors (printf "vllm-models: %s.source is %s, but storage.download is %s: an adapter is fetched by the weights' download (its image, credentials and egress); set storage.download.enabled: true with source %s, or copy the adapter to %s and drop its source" $key $a.source (ternary (printf "source %s" ($dl.source | default "empty")) "disabled" (eq (toString $dl.enabled) "true")) $a.source $a.path) -}}
{{- end -}}
{{- if not (dig $a.source (ternary "uri" "repo" (eq $a.source "s3")) "" $a) -}}
{{- $errors = append $errors (printf "vllm-models: %s.%s.%s is required for source %s: where adapter %s comes from (%s)" $key $a.source (ternary "uri" "repo" (eq $a.source "s3")) $a.source $a.name (ternary "s3://bucket/prefix" "the Hub repository, e.g. org/adapter" (eq $a.source "s3"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}
