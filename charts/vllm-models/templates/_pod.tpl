{{/* vllm-models.podTemplate: the vLLM pod (metadata and spec) every workload of the release runs, as YAML; (dict "root" $ "role" R): server (one pod serves a replica), leader (serves the API of a multi-node group) or worker (joins the leader's group). */}}
{{- define "vllm-models.podTemplate" -}}
{{- $root := .root -}}
{{- $role := .role -}}
{{- if not (has $role (list "server" "leader" "worker")) -}}
{{- fail (printf "vllm-models.podTemplate: role %q is not server, leader or worker" $role) -}}
{{- end -}}
{{- $serves := ne $role "worker" -}}
{{- with $root -}}
{{- $d := .Values.deployment -}}
{{- $gpus := int $d.numGPUs -}}
{{- $rdma := .Values.multiNode.rdma -}}
{{- $extra := ternary (dict $rdma.resourceName (int $rdma.count)) dict (and $rdma.enabled (eq (include "vllm-models.isGroup" .) "true")) -}}
{{- $limits := merge (dict "nvidia.com/gpu" $gpus) $extra (.Values.resources.limits | default dict) -}}
{{- $requests := merge (dict "nvidia.com/gpu" $gpus) $extra (.Values.resources.requests | default dict) $limits -}}
{{- $startupThreshold := include "vllm-models.startupFailureThreshold" . | int -}}
{{- if and (eq $role "leader") (gt (include "vllm-models.downloadSeconds" . | int) 0) -}}
{{- /* The leader answers /health only once every node loaded: the slowest node may first spend the
       whole download limit in its init container while the leader's startup probe already runs. */ -}}
{{- $period := int .Values.probes.startup.periodSeconds -}}
{{- $startupThreshold = add $startupThreshold (div (add (include "vllm-models.downloadSeconds" . | int) (sub $period 1)) $period) -}}
{{- end -}}
{{- $launch := include "vllm-models.launch" (dict "root" . "role" $role) | fromYaml -}}
{{- $modelPath := .Values.hps.models.path | default .Values.global.hps.models.path -}}
metadata:
  labels:
    {{- include "vllm-models.labels" . | nindent 4 }}
    {{- with $d.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- /* Workers serve no HTTP: nothing for Prometheus to scrape there. */}}
    {{- include (ternary "vllm-models.podAnnotations" "vllm-models.modelAnnotations" $serves) . | nindent 4 }}
    {{- $identity := (include "vllm-models.rules" . | fromYaml).workloadIdentity }}
    {{- if or (eq (include "vllm-models.downloadWorkloadIdentity" .) "true") (and .Values.serviceAccount.create (get (.Values.serviceAccount.annotations | default dict) $identity.roleAnnotation)) }}
    {{- /* EKS's webhook gives the role to every container it is not told to skip: the download
           (an init container) needs it, vLLM (the pod's one container) must not hold it (policy cloud_role_scope). */}}
    {{ $identity.skipContainersAnnotation }}: vllm
    {{- end }}
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
  {{- if and .Values.multiNode.hostNetwork (eq (include "vllm-models.isGroup" .) "true") }}
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
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
    {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "vllm-models.selectorLabels" $root | fromYaml)) }}
    {{- end }}
    - {{- toYaml $constraint | nindent 6 }}
    {{- end }}
  {{- end }}
  {{- if eq (include "vllm-models.downloadEnabled" .) "true" }}
  {{- /* Every pod fetches (or finds) the weights before vLLM starts; see files/model-download.sh. */}}
  initContainers:
    {{- range include "vllm-models.downloadItems" . | fromYamlArray }}
    - {{- include "vllm-models.downloadContainer" (dict "root" $root "fetch" .) | nindent 6 }}
    {{- end }}
  {{- end }}
  containers:
    - name: vllm
      image: {{ include "vllm-models.image" . | quote }}
      imagePullPolicy: {{ include "vllm-models.imagePullPolicy" . }}
      command:
        {{- toYaml $launch.command | nindent 8 }}
      {{- with $launch.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        {{- include "vllm-models.env" . | nindent 8 }}
      {{- if $serves }}
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
      {{- end }}
      lifecycle:
        preStop:
          exec:
            {{- /* A worker outlives its leader's pause and drain: the leader's in-flight requests need
                   every node until vLLM finished them (headless workers serve no probe). */}}
            command: ["sleep", {{ ternary $d.preStopSleepSeconds (add (int $d.preStopSleepSeconds) (include "vllm-models.drainSeconds" . | int)) $serves | quote }}]
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
        {{- /* Never DirectoryOrCreate, even for a node-local cache the download fills: the kubelet would
               create it root-owned 0755, which the download's UID cannot write (policy written_volume_writable). */}}
        type: Directory
      {{- else }}
      persistentVolumeClaim:
        claimName: {{ eq .Values.storage.type "pvc" | ternary (include "vllm-models.fullname" .) .Values.storage.existingClaim | quote }}
        {{- /* readOnly here binds every mount, the download's too: then only vLLM's mount says it. */}}
        {{- if ne (include "vllm-models.downloadEnabled" .) "true" }}
        readOnly: true
        {{- end }}
      {{- end }}
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ include "vllm-models.shmSize" . }}
    {{- if eq (include "vllm-models.downloadEnabled" .) "true" }}
    - name: download-tmp
      emptyDir:
        sizeLimit: 1Gi
    {{- end }}
    {{- include "vllm-models.cacheVolumes" . | nindent 4 }}
{{- end -}}
{{- end -}}
