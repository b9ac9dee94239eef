{{/* vllm-models.validate: the rules values.schema.json cannot express; each fails by key, with values and the fix. */}}
{{- define "vllm-models.validate" -}}
{{- $d := .Values.deployment -}}
{{- required "vllm-models: modelName is required: the model identifier, e.g. qwen3-32b (the fleet names the release llms-v2-<modelName>)" .Values.modelName | trunc 0 -}}

{{- /* The seeds put these both at the top level and under deployment; the top level is canonical. */ -}}
{{- range $key := list "priorityClassName" "nccl" "extraEnv" -}}
{{- if hasKey $d $key -}}
{{- fail (printf "vllm-models: deployment.%s is not read; move it to the top-level key %s (where the seeds' model templates put it)" $key $key) -}}
{{- end -}}
{{- end -}}

{{- $gpus := int $d.numGPUs -}}
{{- $tp := int $d.tensorParallel -}}
{{- $pp := int $d.pipelineParallel -}}
{{- if and (eq $pp 1) (ne $tp $gpus) -}}
{{- fail (printf "vllm-models: deployment.tensorParallel (%d) must equal deployment.numGPUs (%d): vLLM shards the model over exactly the pod's GPUs; set both to the same value" $tp $gpus) -}}
{{- else if ne (mul $tp $pp) $gpus -}}
{{- fail (printf "vllm-models: deployment.tensorParallel (%d) x deployment.pipelineParallel (%d) = %d must equal deployment.numGPUs (%d)" $tp $pp (mul $tp $pp) $gpus) -}}
{{- end -}}

{{- $limits := .Values.resources.limits | default dict -}}
{{- $requests := .Values.resources.requests | default dict -}}
{{- range $side, $block := dict "limits" $limits "requests" $requests -}}
{{- if hasKey $block "nvidia.com/gpu" -}}
{{- if ne (toString (get $block "nvidia.com/gpu")) (toString $gpus) -}}
{{- fail (printf "vllm-models: resources.%s.nvidia.com/gpu (%v) must equal deployment.numGPUs (%d); drop it to let the chart set it from numGPUs" $side (get $block "nvidia.com/gpu") $gpus) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $resource := list "cpu" "memory" -}}
{{- if not (hasKey $limits $resource) -}}
{{- fail (printf "vllm-models: resources.limits.%s is required: GPU pods need Guaranteed QoS (see the seed's sizing table)" $resource) -}}
{{- end -}}
{{- if and (hasKey $requests $resource) (ne (toString (get $requests $resource)) (toString (get $limits $resource))) -}}
{{- fail (printf "vllm-models: resources.requests.%s (%v) must equal resources.limits.%s (%v) for Guaranteed QoS; set both to the same value or drop the request" $resource (get $requests $resource) $resource (get $limits $resource)) -}}
{{- end -}}
{{- end -}}

{{- $shm := include "vllm-models.shmSize" . -}}
{{- if ge (include "vllm-models.quantityBytes" $shm | float64) (include "vllm-models.quantityBytes" $limits.memory | float64) -}}
{{- fail (printf "vllm-models: shmSize (%s) must be below resources.limits.memory (%s): /dev/shm is memory-backed and counts against the pod's memory limit; raise the limit or lower shmSize" $shm $limits.memory) -}}
{{- end -}}

{{- $managedEnv := list "VLLM_LOGGING_LEVEL" "NCCL_DEBUG" "NCCL_CUMEM_ENABLE" "VLLM_ATTENTION_BACKEND" "LMCACHE_LOCAL_CPU" "LMCACHE_MAX_LOCAL_CPU_SIZE" "HF_TOKEN" -}}
{{- $seen := dict -}}
{{- range .Values.extraEnv -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "vllm-models: extraEnv sets %s twice; keep one entry" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- if and (hasKey . "value") (regexMatch "(?i)(token|secret|password|api_?key|credential)" .name) -}}
{{- fail (printf "vllm-models: extraEnv %s has an inline value; secrets go through a Secret: use huggingface.tokenSecret for HF_TOKEN, or valueFrom.secretKeyRef" .name) -}}
{{- end -}}
{{- if and (has .name $managedEnv) (not (and (eq .name "HF_TOKEN") (not $.Values.huggingface.tokenSecret.name))) -}}
{{- fail (printf "vllm-models: extraEnv sets %s, which the chart sets from its own key (global.logging.level, nccl.*, deployment.attentionBackend, deployment.kvOffloading or huggingface.tokenSecret); set that key instead" .name) -}}
{{- end -}}
{{- end -}}

{{- if and $d.kvOffloading.enabled (ne $d.kvOffloading.backend "lmcache") -}}
{{- fail (printf "vllm-models: deployment.kvOffloading.backend %q is not supported; use lmcache" $d.kvOffloading.backend) -}}
{{- end -}}
{{- if and $d.toolCallParser (not $d.functionCall) -}}
{{- fail "vllm-models: deployment.toolCallParser is set but deployment.functionCall is false; set functionCall: true to enable tool calling, or drop the parser" -}}
{{- end -}}
{{- if and (not $d.visionModel) (or $d.limitMmPerPrompt $d.disableMmPreprocessorCache) -}}
{{- fail "vllm-models: deployment.limitMmPerPrompt and deployment.disableMmPreprocessorCache apply only to vision models; set deployment.visionModel: true" -}}
{{- end -}}

{{- if and (eq .Values.service.type "NodePort") (not .Values.service.nodePort) -}}
{{- fail "vllm-models: service.nodePort is required for a NodePort service: pick a free port in the category's range (see `vllm-models ports`)" -}}
{{- end -}}
{{- if and .Values.service.nodePort (eq .Values.service.type "ClusterIP") -}}
{{- fail (printf "vllm-models: service.nodePort (%v) is set but service.type is ClusterIP; use NodePort or drop the port" .Values.service.nodePort) -}}
{{- end -}}

{{- if eq .Values.storage.type "hostPath" -}}
{{- $path := .Values.hps.models.path | default .Values.global.hps.models.path -}}
{{- if not $path -}}
{{- fail "vllm-models: hps.models.path (or global.hps.models.path) is required for storage.type hostPath: the host directory holding the models" -}}
{{- end -}}
{{- else if and (eq .Values.storage.type "existingClaim") (not .Values.storage.existingClaim) -}}
{{- fail "vllm-models: storage.existingClaim is required for storage.type existingClaim: the name of the PersistentVolumeClaim holding the models" -}}
{{- end -}}

{{- $replicas := int .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled -}}
{{- $replicas = int .Values.autoscaling.minReplicas -}}
{{- if le (int .Values.autoscaling.maxReplicas) $replicas -}}
{{- fail (printf "vllm-models: autoscaling.maxReplicas (%v) must exceed autoscaling.minReplicas (%v), or the autoscaler can never scale" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (include "vllm-models.pdbEnabled" .) "true") (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) $replicas -}}
{{- fail (printf "vllm-models: podDisruptionBudget.minAvailable (%v) must be below the replica count (%d): otherwise no pod can ever be evicted and node drains hang; use maxUnavailable: 1 instead" .Values.podDisruptionBudget.minAvailable $replicas) -}}
{{- end -}}
{{- end -}}

{{- $budget := int (include "vllm-models.startupBudgetSeconds" .) -}}
{{- $grace := int (include "vllm-models.terminationGracePeriodSeconds" .) -}}
{{- if le $grace (int $d.preStopSleepSeconds) -}}
{{- fail (printf "vllm-models: deployment.terminationGracePeriodSeconds (%d) must exceed deployment.preStopSleepSeconds (%v), or vLLM is killed before it can finish in-flight requests" $grace $d.preStopSleepSeconds) -}}
{{- end -}}
{{- if and $d.progressDeadlineSeconds (le (int $d.progressDeadlineSeconds) $budget) -}}
{{- fail (printf "vllm-models: deployment.progressDeadlineSeconds (%v) must exceed the startup budget (%d s), or rollouts are marked failed while the model still loads" $d.progressDeadlineSeconds $budget) -}}
{{- end -}}
{{- end -}}
