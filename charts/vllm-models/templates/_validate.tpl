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
{{- if .Values.shmSize -}}
{{- $floor := "" -}}
{{- range (include "vllm-models.sizing" . | fromYaml).sharedMemory -}}
{{- if ge $gpus (int .minGPUs) }}{{ $floor = .size }}{{ end -}}
{{- end -}}
{{- if lt (include "vllm-models.quantityBytes" $shm | float64) (include "vllm-models.quantityBytes" $floor | float64) -}}
{{- fail (printf "vllm-models: shmSize (%s) is below %s, the seed's /dev/shm size for %d GPU(s) per pod (NCCL runs out of shared memory); raise it, or leave shmSize empty to use the table" $shm $floor $gpus) -}}
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
{{- $seen := dict -}}
{{- $secrets := $rules.secrets -}}
{{- range .Values.extraEnv -}}
{{- if hasKey $seen .name -}}
{{- fail (printf "vllm-models: extraEnv sets %s twice; keep one entry" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- if eq .name "NVIDIA_VISIBLE_DEVICES" -}}
{{- fail "vllm-models: extraEnv sets NVIDIA_VISIBLE_DEVICES, which overrides the GPUs the NVIDIA device plugin assigned (and can expose every GPU of the node); remove it and request GPUs with deployment.numGPUs" -}}
{{- end -}}
{{- if and (hasKey . "value") (hasKey . "valueFrom") -}}
{{- fail (printf "vllm-models: extraEnv %s has both value and valueFrom; Kubernetes accepts one, keep one" .name) -}}
{{- end -}}
{{- if and (hasKey . "value") (or (regexMatch $secrets.namePattern (upper .name)) (regexMatch $secrets.valuePattern (toString .value))) -}}
{{- fail (printf "vllm-models: extraEnv %s has an inline value that looks like a credential (rules.yaml secrets); secrets go through a Secret: use huggingface.tokenSecret for HF_TOKEN, or valueFrom.secretKeyRef" .name) -}}
{{- end -}}
{{- if and (hasKey . "valueFrom") (regexMatch $secrets.namePattern (upper .name)) (not (get (.valueFrom | default dict) "secretKeyRef")) -}}
{{- fail (printf "vllm-models: extraEnv %s looks like a credential (rules.yaml secrets) but takes its value from %s; a credential comes only from a Secret: use valueFrom.secretKeyRef (huggingface.tokenSecret for HF_TOKEN)" .name (keys (.valueFrom | default dict) | sortAlpha | join ", ")) -}}
{{- end -}}
{{- if hasKey $managedEnv .name -}}
{{- fail (printf "vllm-models: extraEnv sets %s, which the chart sets from %s (rules.yaml managedEnv); set that key instead" .name (get $managedEnv .name)) -}}
{{- end -}}
{{- end -}}

{{- if and .Values.nccl.gpuMem (gt $gpus 1) (semverCompare $rules.nccl.cumemDisabledByVllm (include "vllm-models.vllmVersion" .)) -}}
{{- fail (printf "vllm-models: nccl.gpuMem is true (NCCL_CUMEM_ENABLE=1), but vLLM %s (image.tag) sets NCCL_CUMEM_ENABLE=0 on purpose: with the NCCL it ships, cuMem makes CUDA-graph capture with all-reduce cost extra GPU memory (NVIDIA/nccl#1234), and one pod on one node gains nothing from it; drop nccl.gpuMem, or raise image.tag to v0.10.2 or newer, where vLLM leaves it to NCCL" (include "vllm-models.imageTag" .)) -}}
{{- end -}}
{{- if and $d.trustRemoteCode (not (trim $d.trustRemoteCodeReason)) -}}
{{- fail "vllm-models: deployment.trustRemoteCode is true but deployment.trustRemoteCodeReason is empty: --trust-remote-code runs Python shipped with the weights; set it only for an architecture vLLM and transformers do not implement, and write which in trustRemoteCodeReason" -}}
{{- else if and (trim $d.trustRemoteCodeReason) (not $d.trustRemoteCode) -}}
{{- fail "vllm-models: deployment.trustRemoteCodeReason is set but deployment.trustRemoteCode is false; drop the reason, or set trustRemoteCode: true if the model needs remote code" -}}
{{- end -}}
{{- if and $d.toolCallParser (not $d.functionCall) -}}
{{- fail "vllm-models: deployment.toolCallParser is set but deployment.functionCall is false; set functionCall: true to enable tool calling, or drop the parser" -}}
{{- end -}}
{{- $kv := $d.kvOffloading -}}
{{- if and $d.disableMmPreprocessorCache (not (kindIs "invalid" $kv.mmProcessorCacheGb)) -}}
{{- fail (printf "vllm-models: deployment.disableMmPreprocessorCache and deployment.kvOffloading.mmProcessorCacheGb (%v) both size the multimodal processor cache (--mm-processor-cache-gb); keep one" $kv.mmProcessorCacheGb) -}}
{{- end -}}
{{- if and $kv.mmProcessorCacheType (semverCompare "<0.11.0" (include "vllm-models.vllmVersion" .)) -}}
{{- fail (printf "vllm-models: deployment.kvOffloading.mmProcessorCacheType (%s) needs vLLM v0.11.0 or newer (--mm-processor-cache-type); image.tag is %s: drop the key or raise the tag" $kv.mmProcessorCacheType (include "vllm-models.imageTag" .)) -}}
{{- end -}}
{{- if and (not $d.visionModel) (or $d.limitMmPerPrompt $d.disableMmPreprocessorCache) -}}
{{- fail "vllm-models: deployment.limitMmPerPrompt and deployment.disableMmPreprocessorCache apply only to vision models; set deployment.visionModel: true" -}}
{{- end -}}

{{- /* Pod labels and annotations are maps: a key given twice would render twice, and which one
       Kubernetes keeps depends on the parser. The chart's own keys win by refusing the override. */ -}}
{{- $chartLabels := include "vllm-models.labels" . | fromYaml -}}
{{- range $key, $value := $d.podLabels -}}
{{- if hasKey $chartLabels $key -}}
{{- fail (printf "vllm-models: deployment.podLabels.%s is a label the chart sets (%v); pick another label name" $key (get $chartLabels $key)) -}}
{{- end -}}
{{- end -}}
{{- $chartAnnotations := include "vllm-models.podAnnotations" . | fromYaml -}}
{{- range $key, $value := $d.podAnnotations -}}
{{- if hasKey $chartAnnotations $key -}}
{{- fail (printf "vllm-models: deployment.podAnnotations.%s is an annotation the chart sets (%v); drop it (the scrape annotations follow metrics.podAnnotations)" $key (get $chartAnnotations $key)) -}}
{{- end -}}
{{- end -}}

{{- if and (eq .Values.service.type "NodePort") (not .Values.service.nodePort) -}}
{{- fail "vllm-models: service.nodePort is required for a NodePort service: pick a free port in the category's range (see `vllm-models ports`)" -}}
{{- end -}}
{{- if and .Values.service.externalTrafficPolicy (eq .Values.service.type "ClusterIP") -}}
{{- fail (printf "vllm-models: service.externalTrafficPolicy (%s) applies only to NodePort and LoadBalancer Services, and service.type is ClusterIP; drop it or change the type" .Values.service.externalTrafficPolicy) -}}
{{- end -}}
{{- if and .Values.service.nodePort (eq .Values.service.type "ClusterIP") -}}
{{- fail (printf "vllm-models: service.nodePort (%v) is set but service.type is ClusterIP; use NodePort or drop the port" .Values.service.nodePort) -}}
{{- end -}}

{{- if eq (include "vllm-models.networkPolicyEnabled" .) "true" -}}
{{- if and (ne .Values.service.type "ClusterIP") (not (include "vllm-models.clientCIDRs" . | fromYamlArray)) -}}
{{- fail (printf "vllm-models: the NetworkPolicy is on (networkPolicy.enabled or global.networkPolicy.enabled) and service.type is %s, but no client CIDRs are listed (global.networkPolicy.clientCIDRs, networkPolicy.clientCIDRs): clients of a %s come from outside the cluster and the policy admits only namespaces %s, so it would drop every one; list your clients' address ranges, or use service.type ClusterIP" .Values.service.type .Values.service.type (append .Values.networkPolicy.ingressNamespaces .Values.networkPolicy.monitoringNamespace | uniq | join ", ")) -}}
{{- end -}}
{{- if and $d.model (not (include "vllm-models.localWeights" .)) (not .Values.networkPolicy.extraEgress) -}}
{{- fail (printf "vllm-models: deployment.model (%s) is a Hugging Face id, so vLLM downloads the weights at start, but the NetworkPolicy (networkPolicy.enabled or global.networkPolicy.enabled) lets the pods reach DNS only; add the store to networkPolicy.extraEgress, or serve a path below storage.mountPath" $d.model) -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.storage.type "hostPath" -}}
{{- $path := .Values.hps.models.path | default .Values.global.hps.models.path -}}
{{- if not $path -}}
{{- fail "vllm-models: hps.models.path (or global.hps.models.path) is required for storage.type hostPath: the host directory holding the models" -}}
{{- end -}}
{{- else if and (eq .Values.storage.type "existingClaim") (not .Values.storage.existingClaim) -}}
{{- fail "vllm-models: storage.existingClaim is required for storage.type existingClaim: the name of the PersistentVolumeClaim holding the models" -}}
{{- end -}}
{{- $root := trimSuffix "/" .Values.storage.mountPath -}}
{{- if and (hasPrefix "/" $d.model) (not (hasPrefix (printf "%s/" $root) $d.model)) -}}
{{- fail (printf "vllm-models: deployment.model (%s) is not below storage.mountPath (%s), where the model files are mounted; write the path as %s/<org>/<model> or change storage.mountPath" $d.model .Values.storage.mountPath $root) -}}
{{- else if and (eq .Values.storage.type "hostPath") $d.model (not (hasPrefix (printf "%s/" $root) $d.model)) -}}
{{- fail (printf "vllm-models: deployment.model (%s) is not a path below storage.mountPath (%s), but storage.type hostPath mounts a host directory there for nothing else; write the model's path as %s/<org>/<model>, or use storage.type pvc or existingClaim" $d.model .Values.storage.mountPath $root) -}}
{{- end -}}

{{- $replicas := int .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled -}}
{{- $replicas = int .Values.autoscaling.minReplicas -}}
{{- if le (int .Values.autoscaling.maxReplicas) $replicas -}}
{{- fail (printf "vllm-models: autoscaling.maxReplicas (%v) must exceed autoscaling.minReplicas (%v), or the autoscaler can never scale" .Values.autoscaling.maxReplicas .Values.autoscaling.minReplicas) -}}
{{- end -}}
{{- else if and .Values.keda .Values.keda.enabled -}}
{{- $replicas = int .Values.keda.minReplicas -}}
{{- end -}}
{{- if and (eq (include "vllm-models.pdbEnabled" .) "true") (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) $replicas -}}
{{- fail (printf "vllm-models: podDisruptionBudget.minAvailable (%v) must be below the replica count (%d): otherwise no pod can ever be evicted and node drains hang; use maxUnavailable: 1 instead" .Values.podDisruptionBudget.minAvailable $replicas) -}}
{{- end -}}
{{- end -}}

{{- $budget := int (include "vllm-models.startupBudgetSeconds" .) -}}
{{- $grace := int (include "vllm-models.terminationGracePeriodSeconds" .) -}}
{{- /* The seed's tables in sizing.yaml, which the policies apply to the rendered objects too. */ -}}
{{- $class := include "vllm-models.sizeClass" . | fromYaml -}}
{{- if lt $budget (int $class.maxLoadSeconds) -}}
{{- $source := ternary (printf "slowStart.maxStartupSeconds (%v)" .Values.slowStart.maxStartupSeconds) (printf "probes.startup.failureThreshold (%s) x probes.startup.periodSeconds (%v)" (include "vllm-models.startupFailureThreshold" .) .Values.probes.startup.periodSeconds) (not (empty .Values.slowStart.maxStartupSeconds)) -}}
{{- fail (printf "vllm-models: %s gives the model %d s to load, but the seed's table gives a %s model (%vB) up to %v s; raise it, or set slowStart.maxStartupSeconds to at least %v" $source $budget $class.name .Values.modelInfo.parameters $class.maxLoadSeconds $class.maxLoadSeconds) -}}
{{- end -}}
{{- if $d.terminationGracePeriodSeconds -}}
{{- $floor := 0 -}}
{{- range (include "vllm-models.sizing" . | fromYaml).terminationGrace -}}
{{- if and (ge (int $.Values.modelInfo.parameters) (int .minParamsB)) (or (not .architecture) (eq .architecture $.Values.modelInfo.architecture)) }}{{ $floor = .seconds }}{{ end -}}
{{- end -}}
{{- if lt $grace (int $floor) -}}
{{- fail (printf "vllm-models: deployment.terminationGracePeriodSeconds (%d) is below %v s, the seed's grace for a %vB %s model, so in-flight requests are cut off; raise it or leave it null to use the table" $grace $floor .Values.modelInfo.parameters .Values.modelInfo.architecture) -}}
{{- end -}}
{{- end -}}
{{- $drain := include "vllm-models.flagValue" (dict "args" $d.extraArgs "names" (include "vllm-models.rules" . | fromYaml).shutdown.drainFlags) | default "0" | int -}}
{{- if le $grace (add (int $d.preStopSleepSeconds) $drain) -}}
{{- fail (printf "vllm-models: deployment.terminationGracePeriodSeconds (%d) must exceed deployment.preStopSleepSeconds (%v) + vLLM's --shutdown-timeout (%d) = %d s, or vLLM is killed before it can finish in-flight requests; raise the grace period or shorten the pause" $grace $d.preStopSleepSeconds $drain (add (int $d.preStopSleepSeconds) $drain)) -}}
{{- end -}}
{{- if and $d.progressDeadlineSeconds (le (int $d.progressDeadlineSeconds) $budget) -}}
{{- fail (printf "vllm-models: deployment.progressDeadlineSeconds (%v) must exceed the startup budget (%d s), or rollouts are marked failed while the model still loads" $d.progressDeadlineSeconds $budget) -}}
{{- end -}}

{{- /* Rules the API server applies across fields of the Kubernetes objects passed through; the schema
       checks each field alone. Refused here by key rather than by the cluster at install time. */ -}}
{{- range $index, $t := .Values.tolerations -}}
{{- $operator := $t.operator | default "Equal" -}}
{{- if and (not $t.key) (ne $operator "Exists") -}}
{{- fail (printf "vllm-models: tolerations[%d] has no key, so its operator must be Exists (it is %s); set operator: Exists or give the taint's key" $index $operator) -}}
{{- end -}}
{{- if and (eq $operator "Exists") $t.value -}}
{{- fail (printf "vllm-models: tolerations[%d] has operator Exists and value %q; drop the value or use operator: Equal" $index $t.value) -}}
{{- end -}}
{{- if and (hasKey $t "tolerationSeconds") (ne ($t.effect | default "") "NoExecute") -}}
{{- fail (printf "vllm-models: tolerations[%d].tolerationSeconds applies only to effect NoExecute; set effect: NoExecute or drop tolerationSeconds" $index) -}}
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
{{- fail (printf "vllm-models: %s is true but no runAsUser is set, and the vLLM image runs as root (no USER up to v0.21.0), so the kubelet refuses to start it; set securityContext.runAsUser (the chart's default is 2000)" $nonRootKey) -}}
{{- else if and $nonRoot (eq (int $uid) 0) -}}
{{- fail (printf "vllm-models: %s (0) contradicts %s true, so the kubelet refuses to start the container; set a non-zero runAsUser (the chart's default is 2000), or run as root only with runAsNonRoot: false and a reason in policies/exceptions.yaml" $uidKey $nonRootKey) -}}
{{- end -}}
{{- end -}}
{{- range $context := list "securityContext" "containerSecurityContext" -}}
{{- range $field := list "seccompProfile" "appArmorProfile" -}}
{{- $profile := get (get $.Values $context | default dict) $field -}}
{{- if and $profile (ne (eq $profile.type "Localhost") (not (empty $profile.localhostProfile))) -}}
{{- fail (printf "vllm-models: %s.%s.localhostProfile must be set exactly when %s.%s.type is Localhost (type is %s)" $context $field $context $field $profile.type) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $sysctls := dict -}}
{{- range ((.Values.securityContext | default dict).sysctls | default list) -}}
{{- if hasKey $sysctls .name -}}
{{- fail (printf "vllm-models: securityContext.sysctls sets %s twice; keep one entry" .name) -}}
{{- end -}}
{{- $_ := set $sysctls .name true -}}
{{- end -}}
{{- $spreads := dict -}}
{{- $selector := include "vllm-models.selectorLabels" . | fromYaml -}}
{{- range $index, $c := $d.topologySpreadConstraints -}}
{{- $where := printf "deployment.topologySpreadConstraints[%d]" $index -}}
{{- $pair := printf "%s/%s" $c.topologyKey $c.whenUnsatisfiable -}}
{{- if hasKey $spreads $pair -}}
{{- fail (printf "vllm-models: %s repeats topologyKey %s with whenUnsatisfiable %s; merge the two constraints" $where $c.topologyKey $c.whenUnsatisfiable) -}}
{{- end -}}
{{- $_ := set $spreads $pair true -}}
{{- if and (hasKey $c "minDomains") (ne $c.whenUnsatisfiable "DoNotSchedule") -}}
{{- fail (printf "vllm-models: %s.minDomains applies only to whenUnsatisfiable DoNotSchedule; set it or drop minDomains" $where) -}}
{{- end -}}
{{- range (($c.labelSelector | default dict).matchExpressions | default list) -}}
{{- if and (has .operator (list "In" "NotIn")) (not .values) -}}
{{- fail (printf "vllm-models: %s.labelSelector.matchExpressions on %s: operator %s needs values" $where .key .operator) -}}
{{- end -}}
{{- if and (has .operator (list "Exists" "DoesNotExist")) .values -}}
{{- fail (printf "vllm-models: %s.labelSelector.matchExpressions on %s: operator %s takes no values; drop them" $where .key .operator) -}}
{{- end -}}
{{- end -}}
{{- $matchLabels := $c.labelSelector | default (dict "matchLabels" $selector) | dig "matchLabels" dict -}}
{{- range $c.matchLabelKeys -}}
{{- if hasKey $matchLabels . -}}
{{- fail (printf "vllm-models: %s.matchLabelKeys lists %s, which the labelSelector already matches; drop it from one of them" $where .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
