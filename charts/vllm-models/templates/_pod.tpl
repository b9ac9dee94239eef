{{/* vllm-models.podTemplate: the vLLM pod (metadata and spec) every workload of the release runs, as YAML. */}}
{{- define "vllm-models.podTemplate" -}}
{{- $d := .Values.deployment -}}
{{- $gpus := int $d.numGPUs -}}
{{- $limits := merge (dict "nvidia.com/gpu" $gpus) (.Values.resources.limits | default dict) -}}
{{- $requests := merge (dict "nvidia.com/gpu" $gpus) (.Values.resources.requests | default dict) $limits -}}
{{- $startupThreshold := include "vllm-models.startupFailureThreshold" . | int -}}
{{- $modelPath := .Values.hps.models.path | default .Values.global.hps.models.path -}}
metadata:
  labels:
    {{- include "vllm-models.labels" . | nindent 4 }}
    {{- with $d.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "vllm-models.podAnnotations" . | nindent 4 }}
    {{- with $d.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "vllm-models.serviceAccountName" . | quote }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.priorityClassName | default .Values.global.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with .Values.runtimeClassName }}
  runtimeClassName: {{ . | quote }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.dropPageCache.enabled }}
  hostPID: true
  {{- end }}
  terminationGracePeriodSeconds: {{ include "vllm-models.terminationGracePeriodSeconds" . }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  {{- with merge (dict) .Values.nodeSelector .Values.global.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if or .Values.gpuProducts .Values.affinity }}
  {{- $affinity := deepCopy (.Values.affinity | default dict) }}
  {{- if .Values.gpuProducts }}
  {{- /* Node selector terms are ORed: the GPU product must join every term, not become one more. */}}
  {{- $gpu := dict "key" "nvidia.com/gpu.product" "operator" "In" "values" .Values.gpuProducts }}
  {{- $nodeAffinity := get $affinity "nodeAffinity" | default dict }}
  {{- $required := get $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" | default dict }}
  {{- $terms := list }}
  {{- range (get $required "nodeSelectorTerms" | default (list dict)) }}
  {{- $terms = append $terms (set . "matchExpressions" (append (get . "matchExpressions" | default list) $gpu)) }}
  {{- end }}
  {{- $_ := set $required "nodeSelectorTerms" $terms }}
  {{- $_ = set $nodeAffinity "requiredDuringSchedulingIgnoredDuringExecution" $required }}
  {{- $_ = set $affinity "nodeAffinity" $nodeAffinity }}
  {{- end }}
  affinity:
    {{- toYaml $affinity | nindent 4 }}
  {{- end }}
  {{- with $d.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $constraint := deepCopy . }}
    {{- if not $constraint.labelSelector }}
    {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "vllm-models.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    - {{- toYaml $constraint | nindent 6 }}
    {{- end }}
  {{- end }}
  containers:
    - name: vllm
      image: {{ include "vllm-models.image" . | quote }}
      imagePullPolicy: {{ include "vllm-models.imagePullPolicy" . }}
      {{- if .Values.dropPageCache.enabled }}
      command:
        - /bin/sh
        - -c
        - sync && echo 3 > /proc/sys/vm/drop_caches && exec vllm serve "$@"
        - vllm-serve
      {{- else }}
      command:
        - vllm
        - serve
      {{- end }}
      args:
        {{- include "vllm-models.args" . | nindent 8 }}
      env:
        {{- include "vllm-models.env" . | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $d.port }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: /health
          port: http
        initialDelaySeconds: {{ .Values.probes.startup.initialDelaySeconds }}
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ $startupThreshold }}
      readinessProbe:
        httpGet:
          path: /health
          port: http
        initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /health
          port: http
        initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $d.preStopSleepSeconds | quote }}]
      resources:
        limits:
          {{- toYaml $limits | nindent 10 }}
        requests:
          {{- toYaml $requests | nindent 10 }}
      securityContext:
        {{- include "vllm-models.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: models
          mountPath: {{ .Values.storage.mountPath | quote }}
          readOnly: true
        - name: dshm
          mountPath: /dev/shm
        {{- include "vllm-models.cacheVolumeMounts" . | nindent 8 }}
  volumes:
    - name: models
      {{- if eq .Values.storage.type "hostPath" }}
      hostPath:
        path: {{ $modelPath | quote }}
        type: Directory
      {{- else }}
      persistentVolumeClaim:
        claimName: {{ eq .Values.storage.type "pvc" | ternary (include "vllm-models.fullname" .) .Values.storage.existingClaim | quote }}
        readOnly: true
      {{- end }}
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ include "vllm-models.shmSize" . }}
    {{- include "vllm-models.cacheVolumes" . | nindent 4 }}
{{- end -}}
