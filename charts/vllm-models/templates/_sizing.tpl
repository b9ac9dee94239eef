{{/* vllm-models.sizing: the seeds' sizing tables from sizing.yaml, as YAML (parse with fromYaml). */}}
{{- define "vllm-models.sizing" -}}
{{- .Files.Get "sizing.yaml" | fromYaml | dig "sizing" dict | toYaml -}}
{{- end -}}

{{/* vllm-models.sizeClass: the sizing.yaml size-class row for modelInfo.parameters, as YAML. */}}
{{- define "vllm-models.sizeClass" -}}
{{- $params := int (required "vllm-models: modelInfo.parameters is required: the model's size in whole billions (e.g. 32), which sets probe budgets and grace period" .Values.modelInfo.parameters) -}}
{{- $match := dict -}}
{{- range (include "vllm-models.sizing" . | fromYaml).sizeClasses -}}
{{- if ge $params (int .minParamsB) }}{{ $match = . }}{{ end -}}
{{- end -}}
{{- toYaml $match -}}
{{- end -}}

{{/* vllm-models.startupFailureThreshold: explicit, else from slowStart.maxStartupSeconds, else the size class's seed threshold. */}}
{{- define "vllm-models.startupFailureThreshold" -}}
{{- $startup := .Values.probes.startup -}}
{{- if and $startup.failureThreshold .Values.slowStart.maxStartupSeconds -}}
{{- fail (printf "vllm-models: probes.startup.failureThreshold (%v) and slowStart.maxStartupSeconds (%v) both set the startup budget; keep one" $startup.failureThreshold .Values.slowStart.maxStartupSeconds) -}}
{{- else if $startup.failureThreshold -}}
{{- $startup.failureThreshold -}}
{{- else if .Values.slowStart.maxStartupSeconds -}}
{{- $period := int $startup.periodSeconds -}}
{{- div (add (int .Values.slowStart.maxStartupSeconds) (sub $period 1)) $period -}}
{{- else -}}
{{- (include "vllm-models.sizeClass" . | fromYaml).startupFailureThreshold -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.startupBudgetSeconds: the longest the startup probe lets the model load. */}}
{{- define "vllm-models.startupBudgetSeconds" -}}
{{- $startup := .Values.probes.startup -}}
{{- add (int $startup.initialDelaySeconds) (mul (int (include "vllm-models.startupFailureThreshold" .)) (int $startup.periodSeconds)) -}}
{{- end -}}

{{/* vllm-models.terminationGracePeriodSeconds: explicit, else the seed's grace table for the model size. */}}
{{- define "vllm-models.terminationGracePeriodSeconds" -}}
{{- if .Values.deployment.terminationGracePeriodSeconds -}}
{{- .Values.deployment.terminationGracePeriodSeconds -}}
{{- else -}}
{{- $params := int .Values.modelInfo.parameters -}}
{{- $seconds := 0 -}}
{{- range (include "vllm-models.sizing" . | fromYaml).terminationGrace -}}
{{- if and (ge $params (int .minParamsB)) (or (not .architecture) (eq .architecture $.Values.modelInfo.architecture)) }}{{ $seconds = .seconds }}{{ end -}}
{{- end -}}
{{- $seconds -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.shmSize: /dev/shm size, explicit or from the seed's table by GPUs per pod. */}}
{{- define "vllm-models.shmSize" -}}
{{- if .Values.shmSize -}}
{{- .Values.shmSize -}}
{{- else -}}
{{- $gpus := int .Values.deployment.numGPUs -}}
{{- $size := "" -}}
{{- range (include "vllm-models.sizing" . | fromYaml).sharedMemory -}}
{{- if ge $gpus (int .minGPUs) }}{{ $size = .size }}{{ end -}}
{{- end -}}
{{- $size -}}
{{- end -}}
{{- end -}}

{{/* vllm-models.quantityBytes: a Kubernetes memory quantity (64Gi, 500M, 1Ti; values.schema.json admits no other form) as a byte count. */}}
{{- define "vllm-models.quantityBytes" -}}
{{- $quantity := toString . -}}
{{- $units := dict "" 1 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $unit := regexFind "[a-zA-Z]+$" $quantity -}}
{{- mulf (float64 (trimSuffix $unit $quantity)) (get $units $unit) -}}
{{- end -}}

{{/* vllm-models.scaleToZeroCooldown: keda.scaleToZero.cooldownSeconds, or when null the download time limit + the startup budget + one KEDA polling interval, so a woken pod outlives its own load. */}}
{{- define "vllm-models.scaleToZeroCooldown" -}}
{{- $zero := .Values.keda.scaleToZero | default dict -}}
{{- if not (kindIs "invalid" $zero.cooldownSeconds) -}}
{{- int $zero.cooldownSeconds -}}
{{- else -}}
{{- add (include "vllm-models.downloadSeconds" . | int) (include "vllm-models.startupBudgetSeconds" . | int) (int .Values.keda.pollingInterval) -}}
{{- end -}}
{{- end -}}
